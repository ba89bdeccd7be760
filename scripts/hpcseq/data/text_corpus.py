"""Character corpora: the lecture's cleaning and a contiguous train/validation/test split.

The lecture (Keras char-RNN example) reads the file line by line, strips each line, lowercases
it, drops non-ASCII characters and empty lines, and joins the lines with spaces. Each of those
steps is a switch here. Splits are contiguous blocks of the cleaned text in the order
train | validation | test, and windows are later cut inside each block only, so no window
straddles two splits.

Everything streams: memory does not grow with the corpus. The cleaned text goes to a temporary
file in the output directory in one pass (which also computes the checksum); a second pass cuts
it into the three split files. Outputs appear only when both passes succeeded.
"""

from __future__ import annotations

import codecs
import contextlib
import dataclasses
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hpcseq.data.source_files import HashingLineReader
from hpcseq.errors import InputDataError
from hpcseq.io import CHUNK_CHARS, atomic_open, write_json
from hpcseq.paths import SPLIT_REPORT, SPLITS, prepared_split_file

FORMAT = "text"  # the data format this module prepares (paths.TASK_STAGE_FORMAT)
NON_ASCII_BYTES = bytes(range(128, 256))  # what ascii_only drops (decode("ascii", "ignore"))


@dataclass
class CleaningOptions:
    strip_lines: bool = True
    lowercase: bool = True
    ascii_only: bool = True
    drop_empty_lines: bool = True
    join_with: str = " "
    skip_header_lines: int = 0
    start_after: str | None = None
    max_characters: int | None = None

    @classmethod
    def from_settings(cls, preprocess: dict) -> CleaningOptions:
        names = cls.__dataclass_fields__
        return cls(**{key: value for key, value in preprocess.items() if key in names})


@dataclass
class CleaningStats:
    lines_read: int = 0
    header_lines_skipped: int = 0
    empty_lines_dropped: int = 0
    non_ascii_characters_dropped: int = 0
    lines_kept: int = 0
    characters: int = 0
    truncated_at_max_characters: bool = False
    start_marker_line: int | None = None
    extra: dict = field(default_factory=dict)


def clean_lines(
    lines: Iterable[tuple[int, bytes]],
    options: CleaningOptions,
    path: Path,
    stats: CleaningStats,
    encoding: str = "utf-8",
) -> Iterator[str]:
    """Yield cleaned lines (without separators) from (line_number, raw_bytes) pairs."""
    header = _Header(options)
    for number, raw in lines:
        stats.lines_read += 1
        if not header.done and header.holds(number, raw, stats, encoding):
            continue
        if options.ascii_only:
            # the lecture's order on the raw bytes: line.strip().lower().decode("ascii", "ignore")
            data = raw.strip() if options.strip_lines else raw
            data = data.lower() if options.lowercase else data
            text = data.decode("ascii", errors="ignore")
            stats.non_ascii_characters_dropped += len(data) - len(text)  # bytes >= 128
        else:
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError as error:
                raise InputDataError(
                    path,
                    f"cannot decode as {encoding} at byte {error.start} of the line "
                    f"({error.reason}); set the dataset's `encoding`, or "
                    "preprocess.ascii_only: true to drop such bytes",
                    line=number,
                ) from None
            if options.strip_lines:
                text = text.strip()
            if options.lowercase:
                text = text.lower()
        if options.drop_empty_lines and not text:
            stats.empty_lines_dropped += 1
            continue
        stats.lines_kept += 1
        yield text
    header.check_found(path)


def clean_blocks(
    reader: HashingLineReader, options: CleaningOptions, path: Path, stats: CleaningStats, encoding: str = "utf-8"
) -> Iterator[str]:
    """The text of clean_lines' lines joined with `join_with`, in pieces of many lines.

    The same cleaning, block by block (reader.blocks()), with bytes and str methods that work on
    a whole block or map over its lines in C: many times faster than a Python loop per line. The
    header (skip_header_lines, start_after) is read line by line, as clean_lines reads it; other
    encodings than UTF-8 (without ascii_only) go through clean_lines, and so does a block with an
    undecodable line, for clean_lines' error naming the line.
    """
    header = _Header(options)
    body = dataclasses.replace(options, skip_header_lines=0, start_after=None)  # the lines after the header
    fast = options.ascii_only or _is_utf8(encoding)
    written = False
    for first, data, count in reader.blocks():
        if not header.done:
            lines = data.split(b"\n")
            skipped = header.read(lines, first, stats, encoding)
            stats.lines_read += skipped
            if skipped == count:
                continue
            data, first, count = b"\n".join(lines[skipped:]), first + skipped, count - skipped
        if fast:
            stats.lines_read += count
            piece, kept = _clean_block(data, first, body, path, stats, encoding)
        else:  # clean_lines counts the lines it reads
            kept_lines = list(clean_lines(enumerate(data.split(b"\n"), first), body, path, stats, encoding))
            piece, kept = options.join_with.join(kept_lines), len(kept_lines)
        if kept:
            yield options.join_with + piece if written else piece
            written = True
    header.check_found(path)


def _is_utf8(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False  # clean_lines raises it where it decodes, as it always has


class _Header:
    """skip_header_lines, then the lines up to the one start_after matches: the header, which
    clean_lines and clean_blocks leave out (read line by line; it is a few lines)."""

    def __init__(self, options: CleaningOptions):
        self.skip = options.skip_header_lines
        self.start_after = options.start_after
        self.marker = re.compile(options.start_after) if options.start_after else None
        self.started = self.marker is None
        self.done = self.started and self.skip <= 0

    def holds(self, number: int, raw: bytes, stats: CleaningStats, encoding: str) -> bool:
        """Whether line `number` belongs to the header (counted as skipped); the first line that
        does not ends it."""
        if number > self.skip and self.started:
            self.done = True
            return False
        if number > self.skip and self.marker.search(raw.decode(encoding, errors="replace")):
            self.started = True
            stats.start_marker_line = number
        stats.header_lines_skipped += 1
        return True

    def read(self, lines: list[bytes], first: int, stats: CleaningStats, encoding: str) -> int:
        """How many of `lines` (numbered from `first`) belong to the header."""
        for index, raw in enumerate(lines):
            if not self.holds(first + index, raw, stats, encoding):
                return index
        return len(lines)

    def check_found(self, path: Path) -> None:
        if not self.started:
            raise InputDataError(
                path, f"no line matches preprocess.start_after = {self.start_after!r}; nothing would be left"
            )


def _clean_block(data: bytes, first: int, options: CleaningOptions, path: Path, stats: CleaningStats, encoding: str):
    """A block's lines (joined by b"\n") cleaned (UTF-8, or ascii_only), the kept ones joined with
    join_with; and how many were kept."""
    if options.ascii_only:
        # the lecture's order on the raw bytes: strip, lower, then drop bytes >= 128
        lines = (data.lower() if options.lowercase else data).split(b"\n")
        if options.strip_lines:
            lines = list(map(bytes.strip, lines))
        if not data.isascii():
            joined = b"\n".join(lines)
            ascii_bytes = joined.translate(None, NON_ASCII_BYTES)
            stats.non_ascii_characters_dropped += len(joined) - len(ascii_bytes)
            lines = ascii_bytes.split(b"\n")
        lines = _drop_empty(lines, options, stats)
        return options.join_with.encode("utf-8").join(lines).decode("utf-8"), len(lines)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:  # clean_lines raises the error that names the line
        for _ in clean_lines(enumerate(data.split(b"\n"), first), options, path, CleaningStats(), encoding):
            pass
        raise
    lines = text.split("\n")
    if options.strip_lines:
        lines = map(str.strip, lines)
    if options.lowercase:
        lines = map(str.lower, lines)
    lines = _drop_empty(list(lines), options, stats)
    return options.join_with.join(lines), len(lines)


def _drop_empty(lines: list, options: CleaningOptions, stats: CleaningStats) -> list:
    if options.drop_empty_lines:
        total = len(lines)
        lines = list(filter(None, lines))
        stats.empty_lines_dropped += total - len(lines)
    stats.lines_kept += len(lines)
    return lines


def split_sizes(total: int, validation_fraction: float, test_fraction: float) -> dict[str, int]:
    validation = round(total * validation_fraction)
    test = round(total * test_fraction)
    return {"train": total - validation - test, "validation": validation, "test": test}


def _write_cleaned(lines: Iterator[str], options: CleaningOptions, handle, stats: CleaningStats) -> None:
    limit = options.max_characters
    written = 0
    first = True
    for line in lines:
        piece = line if first else options.join_with + line
        first = False
        if limit is not None and written + len(piece) > limit:
            handle.write(piece[: limit - written])
            written = limit
            stats.truncated_at_max_characters = True
            break
        handle.write(piece)
        written += len(piece)
    stats.characters = written


def _copy_chars(source, destination, count: int) -> None:
    remaining = count
    while remaining > 0:
        chunk = source.read(min(CHUNK_CHARS, remaining))
        if not chunk:
            raise RuntimeError("cleaned text ended early")  # cannot happen: we counted it
        destination.write(chunk)
        remaining -= len(chunk)


def prepare_text_corpus(settings: dict, output_dir: str | Path) -> dict:
    """Clean and split a text corpus; write train/validation/test.txt and split_report.json."""
    dataset = settings["dataset"]
    preprocess = settings["preprocess"]
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    options = CleaningOptions.from_settings(preprocess)
    reader = HashingLineReader(dataset["path"])
    stats = CleaningStats()

    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-cleaned.", suffix=".txt", dir=output_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            encoding = dataset.get("encoding", "utf-8")
            if options.max_characters is None:
                stats.characters = sum(map(handle.write, clean_blocks(reader, options, reader.path, stats, encoding)))
            else:  # a subset: line by line, to stop (and count) exactly where the limit falls
                lines = clean_lines(reader, options, reader.path, stats, encoding)
                _write_cleaned(lines, options, handle, stats)
        if stats.truncated_at_max_characters:
            reader.hash_remaining()  # the checksum covers the whole file, also for a subset
        reader.verify_sha256(dataset.get("sha256"))
        sizes = _checked_split_sizes(reader.path, stats, preprocess)
        _write_splits(tmp_name, output_dir, sizes)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)

    report = _split_report(settings, reader, options, stats, sizes)
    write_json(output_dir / SPLIT_REPORT, report)
    return report


def _checked_split_sizes(path: Path, stats: CleaningStats, preprocess: dict) -> dict[str, int]:
    """The characters of each split; an error when cleaning left nothing, or an empty training or
    validation split."""
    if stats.characters == 0:
        raise InputDataError(
            path,
            "no text left after cleaning (empty file, or every line dropped "
            f"by the preprocess settings: {stats.lines_read} lines read)",
        )
    sizes = split_sizes(stats.characters, preprocess["validation_fraction"], preprocess["test_fraction"])
    for split in ("train", "validation"):
        if sizes[split] <= 0:
            raise InputDataError(
                path, f"the {split} split would be empty: only {stats.characters} characters after cleaning"
            )
    return sizes


def _write_splits(cleaned: str, output_dir: Path, sizes: dict[str, int]) -> None:
    """The second pass: the cleaned text cut into the split files, in SPLITS order. ASCII text (a
    byte per character) is copied as bytes, without decoding and encoding it again."""
    binary = os.path.getsize(cleaned) == sum(sizes.values())
    with open(cleaned, "rb") if binary else open(cleaned, encoding="utf-8", newline="") as source:
        for split in SPLITS:
            path = prepared_split_file(output_dir, split, FORMAT)
            with atomic_open(path, "wb") if binary else atomic_open(path, newline="") as destination:
                _copy_chars(source, destination, sizes[split])


def _split_report(
    settings: dict, reader: HashingLineReader, options: CleaningOptions, stats: CleaningStats, sizes: dict
) -> dict:
    """split_report.json: the source and its checksum, the cleaning and what it did, the splits'
    sizes and where each starts and ends in the cleaned text."""
    dataset = settings["dataset"]
    offsets, start = {}, 0
    for split in SPLITS:
        offsets[split] = [start, start + sizes[split]]
        start += sizes[split]
    return {
        "experiment": settings["name"],
        "kind": "text",
        "source": {
            "path": str(dataset["path"]),
            "sha256": reader.sha256(),
            "bytes": reader.bytes_read,
            "checksum_verified": bool(dataset.get("sha256")),
        },
        "cleaning": {key: value for key, value in vars(options).items()},
        "stats": {key: value for key, value in vars(stats).items() if key != "extra"},
        "characters": sizes,
        "character_offsets": offsets,
        "subset": (
            f"first {options.max_characters} cleaned characters of {reader.path.name}"
            if stats.truncated_at_max_characters
            else None
        ),
    }
