"""Text kept as lines, for word-level language models ("TensorFlow in Practice"'s poetry model).

The course fits a Keras Tokenizer on the lowercased lines of the corpus and makes one sample of
every prefix of every line: a model never predicts across a line break. So the lines stay apart
here: preprocessing cleans each line as the character corpus does (strip, lowercase, ASCII only,
drop empty lines; each step a switch), can drop lines that match a pattern (the Sonnets' Roman
numerals) and splits the lines into contiguous train | validation | test blocks, one cleaned line
per output line. Words are what Keras' Tokenizer makes of a line with its defaults: the
characters of TOKENIZER_FILTERS become spaces, the rest is split at whitespace (so "beauty's"
stays one word).
"""

from __future__ import annotations

import re
from pathlib import Path

from hpcseq.data.source_files import HashingLineReader
from hpcseq.data.text_corpus import CleaningOptions, CleaningStats, clean_lines, split_sizes
from hpcseq.errors import InputDataError
from hpcseq.io import atomic_open, write_json
from hpcseq.paths import SPLIT_REPORT, SPLITS, prepared_split_file

FORMAT = "text_lines"  # what this module prepares (paths.TASK_STAGE_FORMAT)
# keras.preprocessing.text.Tokenizer's default `filters` (TensorFlow 2.15): each becomes a space
TOKENIZER_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
_FILTER_TABLE = str.maketrans({char: " " for char in TOKENIZER_FILTERS})


def tokenize_words(line: str) -> list[str]:
    """The words of a line as Keras' Tokenizer splits them (lowercasing is preprocessing's)."""
    return line.translate(_FILTER_TABLE).split()


def read_lines(path: str | Path) -> list[list[str]]:
    """A prepared split: the words of each line."""
    with open(path, encoding="utf-8") as handle:
        return [tokenize_words(line) for line in handle.read().split("\n") if line]


def prepare_text_lines(settings: dict, output_dir: str | Path) -> dict:
    """Clean a text file line by line and split its lines; writes train/validation/test.txt and
    split_report.json (only after the checksum is verified)."""
    dataset, preprocess = settings["dataset"], settings["preprocess"]
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    options = CleaningOptions.from_settings(preprocess)
    reader = HashingLineReader(dataset["path"])
    stats = CleaningStats()
    drop = re.compile(preprocess["drop_lines_matching"]) if preprocess.get("drop_lines_matching") else None
    lines, dropped = [], 0
    for line in clean_lines(reader, options, reader.path, stats, dataset.get("encoding", "utf-8")):
        if drop is not None and drop.fullmatch(line):
            dropped += 1
            continue
        if not tokenize_words(line):
            dropped += 1  # punctuation only: no word, no sample
            continue
        lines.append(line)
        if preprocess.get("max_lines") is not None and len(lines) >= preprocess["max_lines"]:
            reader_done = False
            break
    else:
        reader_done = True
    if not reader_done:
        reader.hash_remaining()  # the checksum covers the whole file, also for a subset
    reader.verify_sha256(dataset.get("sha256"))
    sizes = split_sizes(len(lines), preprocess["validation_fraction"], preprocess["test_fraction"])
    for split in ("train", "validation"):
        if sizes[split] <= 0:
            raise InputDataError(reader.path, f"the {split} split would be empty: only {len(lines)} lines with words")
    start = 0
    offsets = {}
    for split in SPLITS:
        block = lines[start : start + sizes[split]]
        offsets[split] = [start, start + sizes[split]]
        start += sizes[split]
        with atomic_open(prepared_split_file(output_dir, split, FORMAT), newline="") as handle:
            handle.write("".join(line + "\n" for line in block))
    report = {
        "experiment": settings["name"],
        "kind": FORMAT,
        "source": {
            "path": str(dataset["path"]),
            "sha256": reader.sha256(),
            "bytes": reader.bytes_read,
            "checksum_verified": bool(dataset.get("sha256")),
        },
        "cleaning": {**vars(options), "drop_lines_matching": preprocess.get("drop_lines_matching")},
        "stats": {**{key: value for key, value in vars(stats).items() if key != "extra"}, "lines_dropped": dropped},
        "lines": sizes,
        "line_offsets": offsets,
        "subset": f"first {len(lines)} lines with words of {reader.path.name}" if not reader_done else None,
    }
    write_json(output_dir / SPLIT_REPORT, report)
    return report
