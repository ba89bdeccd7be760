"""Labelled reviews in folders (format `review_folders`): the Large Movie Review Dataset's layout.

    aclImdb/train/pos/<id>_<rating>.txt   one review per file, rating 7-10
    aclImdb/train/neg/<id>_<rating>.txt   rating 1-4
    aclImdb/train/unsup/                  50,000 unlabelled reviews: not read (counted in the report)
    aclImdb/test/pos/, aclImdb/test/neg/

The dataset's own train/test division is kept (the test split is its test part); preprocessing
cuts the validation split from the training part. Reviews hold HTML line breaks (`<br />`, 2 to 3
per review on average): each is replaced by a space before tokenising, so that "end.<br /><br
/>Next" does not become the tokens "br" and "/" (a departure from the course material, whose
Keras TextVectorization keeps each as the word "br"). Files are read in the order of their id
(`0_9.txt`, `1_7.txt`, ..., `10_8.txt`), negative then positive, so the prepared splits are the
same on every machine. A file that cannot be decoded or has no tokens is an error naming it and
its line, or with `preprocess.on_bad_line: skip` counted and dropped; a missing folder is an error
naming it. `preprocess.max_lines` reads the first N reviews of each of the four folders (a subset,
stated in the split report).
"""

from __future__ import annotations

import re
from pathlib import Path

from hpcseq.data.labelled_sentences import BadRecords, Example, example_of
from hpcseq.errors import InputDataError

FORMAT = "review_folders"
PARTS = ("train", "test")
LABEL_FOLDERS = (("neg", 0), ("pos", 1))
IGNORED_FOLDER = "unsup"  # train/unsup: unlabelled reviews
MARKUP = re.compile(r"<br\s*/?>", re.IGNORECASE)
FILE_NAME = re.compile(r"(\d+)_(\d+)\.txt")


def _file_order(path: Path) -> tuple:
    match = FILE_NAME.fullmatch(path.name)
    return (0, int(match.group(1)), path.name) if match else (1, 0, path.name)


def strip_markup(text: str) -> str:
    """The review without its HTML line breaks (each becomes a space)."""
    return MARKUP.sub(" ", text)


class Undecodable(ValueError):
    """A review file that is not text in the dataset's encoding, with the line of the first bad byte."""

    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.line = line


def _read_review(path: Path, encoding: str) -> str:
    data = path.read_bytes()
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise Undecodable(f"cannot decode as {encoding} at byte {error.start} ({error.reason})", line) from None


def read_reviews(root: str | Path, preprocess: dict, encoding: str = "utf-8") -> tuple[dict[str, list[Example]], dict]:
    """{"train": examples, "test": examples} of an aclImdb-style folder, and the report's account."""
    root = Path(root)
    if not root.is_dir():
        raise InputDataError(root, "not a folder of reviews (expected train/pos, train/neg, test/pos, test/neg in it)")
    max_reviews = preprocess.get("max_lines")
    bad = BadRecords(preprocess)
    parts: dict[str, list[Example]] = {}
    counts: dict[str, dict[str, int]] = {}
    number = 0
    for part in PARTS:
        parts[part] = []
        counts[part] = {}
        for folder_name, label in LABEL_FOLDERS:
            folder = root / part / folder_name
            if not folder.is_dir():
                raise InputDataError(folder, f"missing: a review folder holds {part}/{folder_name}/<id>_<rating>.txt")
            files = sorted(folder.glob("*.txt"), key=_file_order)[:max_reviews]
            counts[part][folder_name] = len(files)
            for path in files:
                number += 1
                try:
                    text = strip_markup(_read_review(path, encoding))
                    parts[part].append(example_of(number, label, text, preprocess))
                except ValueError as problem:
                    bad.found(path, getattr(problem, "line", 1), str(problem))
        if not parts[part]:
            raise InputDataError(root / part, f"no usable reviews ({bad.count} malformed)")
    unsup = root / "train" / IGNORED_FOLDER
    info = {
        "path": str(root),
        "sha256": None,  # a folder: the archive it came from was checked at the download
        "checksum_verified": False,
        "reviews_read": counts,
        "ignored": {
            "train/unsup": sum(1 for _ in unsup.glob("*.txt")) if unsup.is_dir() else 0,
            "markup": "<br /> line breaks replaced by a space before tokenising",
        },
        "lines_read": sum(sum(part.values()) for part in counts.values()),
        "bad_lines_skipped": bad.count,
        "bad_lines_first": bad.first,
        "examples": sum(len(examples) for examples in parts.values()),
        "test_split": "the dataset's own test part (preprocess.test_fraction is not used)",
        "subset": f"first {max_reviews} reviews of each folder" if max_reviews is not None else None,
    }
    return parts, info
