"""Labelled sentences (`label<TAB>sentence`, label 0 or 1): parsing, tokenising, splitting.

The UMICH SI650 file repeats most of its sentences many times (1,411 distinct of 7,086 lines),
so the lecture's random 80/20 split puts most test sentences into training as well. Two
splits are offered: `random` (the lecture's, seeded, for comparison) and `grouped`, in which
all copies of a sentence (same token sequence) land in the same split. The split report gives,
for both, how many test sentences also occur in training.

Tokenising needs no downloaded data (the lecture used NLTK's word_tokenize): a regular
expression keeps words with inner apostrophes ("i've", "don't") and, by default, punctuation.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hpcseq.data.source_files import HashingLineReader
from hpcseq.errors import InputDataError
from hpcseq.io import atomic_open, write_json
from hpcseq.paths import SPLIT_REPORT, SPLITS, prepared_split_file

FORMAT = "labelled_sentences"  # the data format this module prepares (paths.TASK_STAGE_FORMAT)
LABELS = {"0": 0, "1": 1}
TOKEN_PATTERNS = {
    "words_and_punctuation": re.compile(r"\w+(?:'\w+)*|[^\w\s]"),
    "words": re.compile(r"\w+(?:'\w+)*"),
}
MAX_REPORTED_BAD_LINES = 20


@dataclass(frozen=True)
class Example:
    line: int
    label: int
    tokens: tuple[str, ...]

    @property
    def key(self) -> str:
        """What 'identical sentence' means: the same token sequence (what the model sees)."""
        return " ".join(self.tokens)


def tokenize(sentence: str, tokenizer: str = "words_and_punctuation", lowercase: bool = True) -> list[str]:
    if lowercase:
        sentence = sentence.lower()
    return TOKEN_PATTERNS[tokenizer].findall(sentence)


def parse_line(raw: bytes, encoding: str = "utf-8") -> tuple[int, str]:
    """Return (label, sentence) or raise ValueError saying what is wrong with the line."""
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as error:
        raise ValueError(f"cannot decode as {encoding} at byte {error.start} ({error.reason})") from None
    if not text.strip():
        raise ValueError("empty line (expected `label<TAB>sentence`)")
    if "\t" not in text:
        raise ValueError("no tab between label and sentence (expected `label<TAB>sentence`)")
    label_text, sentence = text.split("\t", 1)
    label_text = label_text.strip()
    if label_text not in LABELS:
        raise ValueError(f"label {label_text!r} is not 0 or 1")
    sentence = sentence.strip()
    if not sentence:
        raise ValueError("empty sentence after the label")
    return LABELS[label_text], sentence


def example_of(number: int, label: int, text: str, preprocess: dict) -> Example:
    """A labelled text as the model sees it: its tokens (each interned: a large corpus repeats its
    words, which then cost one pointer each); ValueError when it has none."""
    tokens = tokenize(text, preprocess.get("tokenizer", "words_and_punctuation"), preprocess.get("lowercase", True))
    if not tokens:
        raise ValueError(f"the text {text[:40]!r} has no tokens")
    return Example(number, label, tuple(map(sys.intern, tokens)))


class BadRecords:
    """preprocess.on_bad_line for every reader: `error` stops at the first malformed line or record
    (file and line in the message), `skip` drops it and counts it for the split report."""

    def __init__(self, preprocess: dict):
        self.on_bad_line = preprocess.get("on_bad_line", "error")
        self.count = 0
        self.first: list[dict] = []

    def found(self, path, line: int | None, problem: str) -> None:
        if self.on_bad_line == "error":
            raise InputDataError(
                path, f"{problem}; fix it, or set preprocess.on_bad_line: skip to drop malformed records", line=line
            )
        self.count += 1
        if len(self.first) < MAX_REPORTED_BAD_LINES:
            self.first.append({"file": str(path), "line": line, "problem": problem})


def read_examples(
    path: str | Path, preprocess: dict, encoding: str = "utf-8", expected_sha256: str | None = None
) -> tuple[list[Example], dict]:
    reader = HashingLineReader(path)
    max_lines = preprocess.get("max_lines")
    examples: list[Example] = []
    bad = BadRecords(preprocess)
    lines_read = 0
    for number, raw in reader:
        if max_lines is not None and number > max_lines:
            break
        lines_read += 1
        try:
            label, sentence = parse_line(raw, encoding)
            examples.append(example_of(number, label, sentence, preprocess))
        except ValueError as problem:
            bad.found(reader.path, number, str(problem))
    if max_lines is not None and lines_read >= max_lines:
        reader.hash_remaining()
    reader.verify_sha256(expected_sha256)
    if not examples:
        raise InputDataError(
            reader.path, f"no usable `label<TAB>sentence` lines ({lines_read} lines read, {bad.count} malformed)"
        )
    info = {
        "path": str(path),
        "sha256": reader.sha256(),
        "bytes": reader.bytes_read,
        "checksum_verified": bool(expected_sha256),
        "lines_read": lines_read,
        "bad_lines_skipped": bad.count,
        "bad_lines_first": bad.first,
        "examples": len(examples),
        "subset": f"first {max_lines} lines" if max_lines is not None else None,
    }
    return examples, info


def _target_sizes(n: int, validation_fraction: float, test_fraction: float) -> tuple[int, int]:
    return round(n * test_fraction), round(n * validation_fraction)


def random_split(
    examples: list[Example], validation_fraction: float, test_fraction: float, seed: int
) -> dict[str, list[Example]]:
    """The lecture's split: a seeded random permutation of lines, test first, then validation."""
    n = len(examples)
    n_test, n_validation = _target_sizes(n, validation_fraction, test_fraction)
    order = np.random.default_rng(seed).permutation(n)
    pick = lambda idx: [examples[i] for i in sorted(idx)]  # noqa: E731 - keep file order inside a split
    return {
        "test": pick(order[:n_test]),
        "validation": pick(order[n_test : n_test + n_validation]),
        "train": pick(order[n_test + n_validation :]),
    }


def grouped_split(
    examples: list[Example], validation_fraction: float, test_fraction: float, seed: int
) -> dict[str, list[Example]]:
    """Leakage-free split: groups of identical sentences are assigned whole, in seeded random order,
    to test until it holds its share of lines, then to validation, the rest to training."""
    groups: dict[str, list[int]] = {}
    for index, example in enumerate(examples):
        groups.setdefault(example.key, []).append(index)
    keys = sorted(groups)  # deterministic before shuffling
    order = np.random.default_rng(seed).permutation(len(keys))
    n_test, n_validation = _target_sizes(len(examples), validation_fraction, test_fraction)
    assignment: dict[str, list[int]] = {split: [] for split in SPLITS}
    for position in order:
        members = groups[keys[position]]
        if len(assignment["test"]) < n_test:
            assignment["test"].extend(members)
        elif len(assignment["validation"]) < n_validation:
            assignment["validation"].extend(members)
        else:
            assignment["train"].extend(members)
    return {split: [examples[i] for i in sorted(indices)] for split, indices in assignment.items()}


def overlap(train: list[Example], test: list[Example]) -> dict:
    seen = {example.key for example in train}
    shared = [example for example in test if example.key in seen]
    return {
        "test_sentences": len(test),
        "test_sentences_also_in_train": len(shared),
        "test_distinct": len({e.key for e in test}),
        "test_distinct_also_in_train": len({e.key for e in shared}),
    }


def _split_summary(parts: dict[str, list[Example]]) -> dict:
    summary = {}
    for split in SPLITS:
        labels = Counter(example.label for example in parts[split])
        summary[split] = {
            "sentences": len(parts[split]),
            "distinct": len({e.key for e in parts[split]}),
            "positive": labels.get(1, 0),
            "negative": labels.get(0, 0),
        }
    return summary


SPLITTERS = {"random": random_split, "grouped": grouped_split}


def _read_and_split(dataset: dict, preprocess: dict) -> tuple[dict[str, dict[str, list[Example]]], dict]:
    """Every split method's splits of the dataset (the split report compares them), and the source's info.

    labelled_sentences and json_records are split here (grouped or random); review_folders come
    with their own test part, and only the validation split is cut from their training part."""
    from hpcseq.data import json_records, review_folders

    data_format = dataset.get("format", FORMAT)
    if data_format == review_folders.FORMAT:
        parts, info = review_folders.read_reviews(dataset["path"], preprocess, dataset.get("encoding", "utf-8"))
        args = (preprocess["validation_fraction"], 0.0, preprocess["split_seed"])
        all_splits = {
            method: {**splitter(parts["train"], *args), "test": parts["test"]} for method, splitter in SPLITTERS.items()
        }
        return all_splits, info
    if data_format == json_records.FORMAT:
        examples, info = json_records.read_records(dataset, preprocess)
    else:
        examples, info = read_examples(
            dataset["path"], preprocess, dataset.get("encoding", "utf-8"), dataset.get("sha256")
        )
    args = (preprocess["validation_fraction"], preprocess["test_fraction"], preprocess["split_seed"])
    return {method: splitter(examples, *args) for method, splitter in SPLITTERS.items()}, info


def prepare_sentences(settings: dict, output_dir: str | Path) -> dict:
    """Read a dataset of labelled texts (labelled_sentences, json_records, review_folders), split
    it, and write every split as `label<TAB>tokens` lines (the one format the later stages read)."""
    dataset, preprocess = settings["dataset"], settings["preprocess"]
    output_dir = Path(output_dir)
    all_splits, info = _read_and_split(dataset, preprocess)
    chosen = all_splits[preprocess["split"]]
    for split in ("train", "validation"):
        if not chosen[split]:
            raise InputDataError(
                dataset["path"],
                f"the {split} split would be empty with {sum(map(len, chosen.values()))} usable sentences",
            )
    for split in SPLITS:
        with atomic_open(prepared_split_file(output_dir, split, FORMAT)) as handle:
            for example in chosen[split]:
                handle.write(f"{example.label}\t{example.key}\n")
    report = {
        "experiment": settings["name"],
        "kind": "labelled_sentences",
        "source_format": dataset.get("format", FORMAT),
        "source": info,
        "preprocess": preprocess,
        "split": preprocess["split"],
        "sizes": _split_summary(chosen),
        "overlap": {method: overlap(parts["train"], parts["test"]) for method, parts in all_splits.items()},
    }
    write_json(output_dir / SPLIT_REPORT, report)
    return report


def read_prepared(path: str | Path) -> tuple[list[int], list[list[str]]]:
    """Read a prepared split file (`label<TAB>space-separated tokens`)."""
    labels, token_lists = [], []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            label, _, tokens = line.rstrip("\n").partition("\t")
            if label not in LABELS:
                raise InputDataError(path, f"not a prepared split file (label {label!r})", line=number)
            labels.append(LABELS[label])
            token_lists.append(tokens.split(" ") if tokens else [])
    return labels, token_lists
