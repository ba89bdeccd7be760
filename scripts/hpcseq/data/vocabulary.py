"""The vocabulary stage: vocabularies from the training split only, every split encoded, and their readers.

Every split is encoded into the id arrays every later stage reads. The vocabularies themselves,
and how they encode text, are hpcseq.data.vocabularies.

The vocabulary file records counts and the settings that made it.

Validation and test text may hold characters or words the training split lacks (`unseen`). Setting
`vocabulary.unseen` says what becomes of them: `unknown` (the default) encodes them as the unknown
id, so that any corpus runs; `refuse` stops with an error naming the split, the item and its count;
`skip` (characters, and the words of a word language model's lines) drops them. Words always have
UNK (it also stands for the words beyond max_words). Characters get an unknown id, after all
training characters, only when some split has an unseen character: a corpus without any
(Shakespeare) keeps its vocabulary, ids and model size.
Every split's count of unseen items is recorded in the vocabulary file and its encoded index.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from hpcseq.data import time_series
from hpcseq.data.labelled_sentences import read_prepared
from hpcseq.data.text_lines import read_lines
from hpcseq.data.vocabularies import (
    PAD,
    UNK,
    UNKNOWN_MARKER,
    UNKNOWN_TOKEN,
    CharVocabulary,
    WordVocabulary,
    build_char_vocabulary,
    build_word_vocabulary,
    count_codepoints,
    encode_char_split,
    encode_word_rows,
    first_offset,
    id_dtype,
    unseen_characters,
)
from hpcseq.errors import InputDataError
from hpcseq.io import atomic_open, write_json
from hpcseq.paths import ENCODED_INDEX, SPLITS, encoded_split_file, prepared_split_file

__all__ = [  # the vocabularies' names, as importers of this module know them
    "PAD",
    "UNK",
    "UNKNOWN_MARKER",
    "UNKNOWN_TOKEN",
    "CharVocabulary",
    "WordVocabulary",
    "build_char_vocabulary",
    "build_word_vocabulary",
    "count_codepoints",
    "encode_char_split",
    "id_dtype",
    "unseen_characters",
]

UNSEEN_KEY = "vocabulary.unseen"  # the setting, as messages name it
UNKNOWN, REFUSE, SKIP = "unknown", "refuse", "skip"  # its values (skip: characters and lines of words)
UNSEEN_LISTED_WORDS = 10  # the most frequent unseen words a split's record names
TEXT, SENTENCES, LINES = "text", "labelled_sentences", "text_lines"  # the stage formats (paths.TASK_STAGE_FORMAT)


# ------------------------------------------------------------------------------ unseen items


def _code_point_and_offset(path: Path):
    """What refuse_unseen says of a character: its code point and first offset in `path`."""
    return lambda char: f" (U+{ord(char):04X}, first at character offset {first_offset(path, char)})"


def refuse_unseen(path: Path, split: str, unseen: dict, kind: str, detail=lambda item: "") -> None:
    """The error of `unseen: refuse`: the split's most frequent unseen item (its repr, `detail`
    and count), how many others there are, and the key that lets them through."""
    item, count = next(iter(most_frequent(unseen, 1).items()))
    others = sum(unseen.values()) - count
    rest = f"; {len(unseen) - 1} other unseen {kind}(s) occur {others} time(s)" if others else ""
    raise InputDataError(
        path,
        f"{kind} {item!r}{detail(item)} occurs {count} time(s) in the {split} split but never in the training "
        f"split, so it has no id{rest}; set {UNSEEN_KEY}: {UNKNOWN} (the default) to encode unseen {kind}s as "
        f"the unknown id {UNKNOWN_TOKEN}, or change the split/cleaning so that training sees them",
    )


def most_frequent(counts: dict, top: int = UNSEEN_LISTED_WORDS) -> dict:
    """The `top` most frequent items, ties in alphabetical order (as the word ranking breaks them)."""
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top])


def _unseen_words(token_lists_by_split: dict, seen: set) -> dict[str, Counter]:
    """Each split's words that the training split lacks, with their counts."""
    return {
        split: Counter(token for tokens in token_lists_by_split[split] for token in tokens if token not in seen)
        for split in SPLITS
    }


# ------------------------------------------------------------------------------ the stage


def build_char_vocabulary_and_encode(
    settings: dict, prepared_dir: str | Path, vocab_path: str | Path, encoded_dir: str | Path
) -> dict:
    """The vocabulary of the training split, an unknown id only where a split needs one, every
    split encoded; each split's unseen characters are counted before anything is written."""
    prepared_dir, encoded_dir = Path(prepared_dir), Path(encoded_dir)
    sources = {split: prepared_split_file(prepared_dir, split, TEXT) for split in SPLITS}
    train_counts = count_codepoints(sources["train"])
    vocabulary = build_char_vocabulary(sources["train"], train_counts)
    policy = settings["vocabulary"].get("unseen", UNKNOWN)
    unseen = {
        split: {} if split == "train" else unseen_characters(train_counts, count_codepoints(sources[split]))
        for split in SPLITS
    }
    for split in SPLITS:
        if unseen[split] and policy == REFUSE:
            refuse_unseen(sources[split], split, unseen[split], "character", _code_point_and_offset(sources[split]))
    vocabulary.unknown = policy == UNKNOWN and any(unseen.values())
    splits = {
        split: {
            "length": encode_char_split(vocabulary, sources[split], encoded_split_file(encoded_dir, split, TEXT)),
            "unseen": sum(unseen[split].values()),
            "unseen_characters": unseen[split],
        }
        for split in SPLITS
    }
    index = {"kind": "characters", "dtype": id_dtype(vocabulary.size).str, "splits": splits}
    return _write_vocabulary(settings, sources["train"], vocabulary, index, vocab_path, encoded_dir)


def build_word_vocabulary_and_encode(
    settings: dict, prepared_dir: str | Path, vocab_path: str | Path, encoded_dir: str | Path
) -> dict:
    """The words of the training sentences, every split's sentences encoded as one flat id array
    with sentence offsets and labels (encoded/<split>.npz). Unseen words: the unknown id, or an
    error (refuse)."""
    prepared_dir, encoded_dir = Path(prepared_dir), Path(encoded_dir)
    options = settings["vocabulary"]
    sources = {split: prepared_split_file(prepared_dir, split, SENTENCES) for split in SPLITS}
    read = {split: read_prepared(sources[split]) for split in SPLITS}
    train_tokens = read["train"][1]
    vocabulary = build_word_vocabulary(train_tokens, options["max_words"], options["min_count"])
    index_map = vocabulary.index()
    seen = {token for tokens in train_tokens for token in tokens}
    policy = options.get("unseen", UNKNOWN)
    unseen = _unseen_words({split: tokens for split, (_, tokens) in read.items()}, seen)
    for split in SPLITS:
        if unseen[split] and policy == REFUSE:
            refuse_unseen(sources[split], split, unseen[split], "word")
    splits = {}
    for split in SPLITS:
        labels, token_lists = read[split]
        flat, offsets = encode_word_rows(vocabulary, token_lists, index_map)
        with atomic_open(encoded_split_file(encoded_dir, split, SENTENCES), "wb") as handle:
            np.savez(handle, ids=flat, offsets=offsets, labels=np.asarray(labels, dtype=np.int8))
        splits[split] = {
            "sentences": len(token_lists),
            "tokens": int(offsets[-1]),
            "unknown_tokens": int((flat == UNK).sum()),  # unseen words and those beyond max_words/min_count
            "unseen": sum(unseen[split].values()),
            "unseen_words": most_frequent(unseen[split]),
        }
    index = {"kind": "words", "dtype": id_dtype(vocabulary.size).str, "splits": splits}
    return _write_vocabulary(settings, sources["train"], vocabulary, index, vocab_path, encoded_dir)


def build_line_vocabulary_and_encode(
    settings: dict, prepared_dir: str | Path, vocab_path: str | Path, encoded_dir: str | Path
) -> dict:
    """The words of the training lines (all of them unless max_words), every split's lines encoded
    as one flat id array with line offsets (encoded/<split>.npz: ids, offsets). Unseen words:
    the unknown id, an error (refuse) or left out of their line (skip)."""
    prepared_dir, encoded_dir = Path(prepared_dir), Path(encoded_dir)
    options = settings["vocabulary"]
    sources = {split: prepared_split_file(prepared_dir, split, LINES) for split in SPLITS}
    read = {split: read_lines(sources[split]) for split in SPLITS}
    vocabulary = build_word_vocabulary(read["train"], options["max_words"], options["min_count"])
    index_map = vocabulary.index()
    seen = {token for tokens in read["train"] for token in tokens}
    policy = options.get("unseen", UNKNOWN)
    unseen = _unseen_words(read, seen)
    for split in SPLITS:
        if unseen[split] and policy == REFUSE:
            refuse_unseen(sources[split], split, unseen[split], "word")
    splits = {}
    for split in SPLITS:
        lines = read[split] if policy != SKIP else [[t for t in tokens if t in seen] for tokens in read[split]]
        flat, offsets = encode_word_rows(vocabulary, lines, index_map)
        with atomic_open(encoded_split_file(encoded_dir, split, LINES), "wb") as handle:
            np.savez(handle, ids=flat, offsets=offsets)
        splits[split] = {
            "lines": len(lines),
            "tokens": int(offsets[-1]),
            "longest_line": int(np.diff(offsets).max(initial=0)),  # the model's input length follows from it
            "unknown_tokens": int((flat == UNK).sum()),
            "unseen": sum(unseen[split].values()),
            "unseen_words": most_frequent(unseen[split]),
        }
    index = {"kind": "words", "dtype": id_dtype(vocabulary.size).str, "splits": splits}
    return _write_vocabulary(settings, sources["train"], vocabulary, index, vocab_path, encoded_dir)


def _write_vocabulary(settings: dict, built_from: Path, vocabulary, index: dict, vocab_path, encoded_dir: Path) -> dict:
    """The encoded splits' index, then the vocabulary file (the vocabulary, the settings that made
    it, and that index); returns the vocabulary file's content."""
    write_json(encoded_dir / ENCODED_INDEX, index)
    document = {
        "experiment": settings["name"],
        "settings": settings["vocabulary"],
        "built_from": str(built_from),
        **vocabulary.to_json(),
        "encoded": index,
    }
    write_json(vocab_path, document)
    return document


def build_vocabulary(settings: dict, prepared_dir, vocab_path, encoded_dir) -> dict:
    """The vocabulary stage of the experiment's task; for a time series (no vocabulary) the
    normalisation of the training split (hpcseq.data.time_series), so every task has the same stages."""
    builders = {
        "next_character": build_char_vocabulary_and_encode,
        "sequence_classification": build_word_vocabulary_and_encode,
        "next_word": build_line_vocabulary_and_encode,
        "next_character_sequence": build_char_vocabulary_and_encode,
        "sequence_regression": time_series.build_normalisation_and_encode,
    }
    return builders[settings["task"]](settings, prepared_dir, vocab_path, encoded_dir)


def unseen_summary(document: dict) -> str:
    """One line for the vocabulary stage's log (and so `hpcseq logs`): each split's unseen items,
    what became of them."""
    kind = document["kind"]
    if kind == time_series.KIND:
        spread = ", ".join(
            f"{name} {mean:.4g} +- {std:.4g}"
            for name, mean, std in zip(document["columns"], document["mean"], document["std"], strict=True)
        )
        return f"normalisation from the training split only (mean +- std): {spread}"
    splits = document["encoded"]["splits"]
    if not any(record["unseen"] for record in splits.values()):
        return f"{kind} unseen in training: none" + ("; no unknown id added" if kind == "characters" else "")
    listed = Counter()
    for record in splits.values():
        listed.update(record["unseen_characters" if kind == "characters" else "unseen_words"])
    counts = ", ".join(f"{split} {record['unseen']}" for split, record in splits.items() if record["unseen"])
    shown = ", ".join(f"{item!r} {count}x" for item, count in most_frequent(listed).items())
    policy = document["settings"].get("unseen", UNKNOWN)
    fate = "dropped" if policy == SKIP else f"encoded as the unknown id {UNKNOWN_TOKEN} (id {document['unk_id']})"
    return f"{kind} unseen in training: {counts} ({shown}): {fate} ({UNSEEN_KEY}: {policy})"


# -------------------------------------------------------- what the stage wrote, read back


def load_vocabulary(path: str | Path) -> CharVocabulary | WordVocabulary | time_series.Normalisation:
    with open(path, encoding="utf-8") as handle:
        document = json.load(handle)
    if document["kind"] == time_series.KIND:
        return time_series.Normalisation.from_json(document)
    entries = document["entries"]
    if document["kind"] == "characters":
        known = [e for e in entries if e["id"] != document.get("unk_id")]
        return CharVocabulary(
            [e["token"] for e in known], [e["count"] for e in known], unknown=document.get("unk_id") is not None
        )
    return WordVocabulary(
        [e["token"] for e in entries], [e["count"] for e in entries], document.get("distinct_words_in_training", 0)
    )


def encoded_index(encoded_dir: str | Path) -> dict:
    """The encoded splits' index: dtype, and per split its length and its unseen items."""
    with open(Path(encoded_dir) / ENCODED_INDEX, encoding="utf-8") as handle:
        return json.load(handle)


def load_char_ids(encoded_dir: str | Path, split: str, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Memory-map one split's ids and return the slice [start, stop) (only that part is read)."""
    encoded_dir = Path(encoded_dir)
    index = encoded_index(encoded_dir)
    length = index["splits"][split]["length"]
    if length == 0:
        return np.zeros(0, dtype=np.dtype(index["dtype"]))
    ids = np.memmap(
        encoded_split_file(encoded_dir, split, TEXT), dtype=np.dtype(index["dtype"]), mode="r", shape=(length,)
    )
    return np.array(ids[start:stop])


def char_split_length(encoded_dir: str | Path, split: str) -> int:
    return encoded_index(encoded_dir)["splits"][split]["length"]


def load_lines(encoded_dir: str | Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Return (flat ids, line offsets) of one split of a word language model."""
    with np.load(encoded_split_file(encoded_dir, split, LINES)) as data:
        return data["ids"], data["offsets"]


def load_sentences(encoded_dir: str | Path, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (flat ids, offsets, labels) of one split."""
    with np.load(encoded_split_file(encoded_dir, split, SENTENCES)) as data:
        return data["ids"], data["offsets"], data["labels"]
