"""Opening input files: existence checks, line reading that keeps line numbers, checksums."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from hpcseq.errors import InputDataError

BOM = b"\xef\xbb\xbf"
READ_BLOCK = 1 << 20


def require_file(path: str | Path, what: str = "input file") -> Path:
    path = Path(path)
    if not path.exists():
        raise InputDataError(path, f"{what} does not exist")
    if not path.is_file():
        raise InputDataError(path, f"{what} is not a regular file")
    return path


class HashingLineReader:
    """Yield (line_number, raw_bytes_without_line_ending) while hashing every byte read.

    Reading and hashing in one pass keeps preprocessing to a single read of a large corpus;
    `verify_sha256` is called after the pass (outputs are only committed after it passes).
    A UTF-8 byte-order mark at the start and Windows line endings are treated as normal.
    """

    def __init__(self, path: str | Path):
        self.path = require_file(path)
        self._hash = hashlib.sha256()
        self.bytes_read = 0

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        for first, data, _ in self.blocks():
            yield from enumerate(data.split(b"\n"), first)

    def blocks(self) -> Iterator[tuple[int, bytes, int]]:
        """The same lines as iterating, many at a time: (number of the first line, the lines joined
        by b"\n" with their line endings removed as iterating removes them, how many lines).

        Each block ends at a line break, so no line is cut; cleaning whole blocks with bytes and
        str methods (text_corpus.clean_blocks) is many times faster than a Python loop per line.
        """
        with open(self.path, "rb") as handle:
            pending: list[bytes] = []  # the start of a line not yet ended, joined once it ends
            number = 0
            first = True
            while True:
                block = handle.read(READ_BLOCK)
                if not block:
                    break
                self._hash.update(block)
                self.bytes_read += len(block)
                if first:
                    if block.startswith(BOM):
                        block = block[len(BOM) :]
                    first = False
                end = block.rfind(b"\n") + 1
                if not end:
                    pending.append(block)  # a line longer than a block: read on (not copied per block)
                    continue
                data = b"".join([*pending, block[:end]])
                pending = [block[end:]]
                if b"\r" in data:
                    data = data.replace(b"\r\n", b"\n")
                count = data.count(b"\n")
                yield number + 1, data[:-1], count
                number += count
            last = b"".join(pending)
            if last:  # the last line, without a line break: one line
                yield number + 1, last[:-1] if last.endswith(b"\r") else last, 1

    def hash_remaining(self) -> None:
        """Hash the bytes after those already read (when a pass stopped early)."""
        with open(self.path, "rb") as handle:
            handle.seek(self.bytes_read)
            for block in iter(lambda: handle.read(READ_BLOCK), b""):
                self._hash.update(block)
                self.bytes_read += len(block)

    def sha256(self) -> str:
        return self._hash.hexdigest()

    def verify_sha256(self, expected: str | None) -> None:
        if expected and self.sha256() != expected:
            raise InputDataError(
                self.path,
                f"sha256 is {self.sha256()}, expected {expected} (from the dataset's `sha256` in the config): "
                "the file is not the one shipped or registered; restore it or update the checksum",
            )
