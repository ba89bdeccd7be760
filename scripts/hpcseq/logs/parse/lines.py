"""Log files as lines: each line's file, number and text, with the rank prefix of horovodrun and
mpirun taken off; and the results folder that paths in lines name."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from hpcseq.paths import results_dir_of

# horovodrun (`[1]<stderr>:`) and mpirun --tag-output (`[1,1]<stderr>:`) put the rank in front
# of every line; the rank is kept, the prefix dropped.
RANK_PREFIX = re.compile(r"^\[(?:\d+,)?(?P<rank>\d+)\]<(?:stdout|stderr)>:")


@dataclass(frozen=True)
class LogLine:
    """One line of a log file: where it is (1-based line number) and its text without rank prefix."""

    path: str
    number: int
    text: str
    rank: int | None = None


def lines_from_text(text: str, path: str = "<text>") -> list[LogLine]:
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        raw = raw.rstrip("\r")
        match = RANK_PREFIX.match(raw)
        if match:
            lines.append(LogLine(path, number, raw[match.end() :], int(match.group("rank"))))
        else:
            lines.append(LogLine(path, number, raw))
    return lines


def read_lines(path: str | Path, limit_bytes: int = 64 << 20) -> list[LogLine]:
    """The lines of a log file (its last `limit_bytes` if huge); [] if it is missing or unreadable."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            skipped = max(0, size - limit_bytes)
            handle.seek(skipped)
            data = handle.read()
    except OSError:
        return []
    text = data.decode("utf-8", errors="replace")
    if skipped:  # line numbers count from the part read; say so in the path
        text = text.split("\n", 1)[-1]
        return lines_from_text(text, f"{path} (last {limit_bytes >> 20} MiB)")
    return lines_from_text(text, str(path))


def results_dir_from(paths: list[str], experiment: str) -> Path | None:
    """The results folder of the first path that lies under one (`<results>/<experiment>/model/...`;
    the layout is paths.py's)."""
    for path in paths:
        found = results_dir_of(path.strip(), experiment)
        if found is not None:
            return found
    return None


PATH_IN_TEXT = re.compile(r"(/[^\s,;:'\"]+)")


def results_dir_from_lines(lines: list[LogLine], experiment: str) -> Path | None:
    """The results folder named in a program's own lines (`wrote ...`, `checkpoint ...`, `done: ...`)."""
    for line in lines:
        if f"/{experiment}/" not in line.text:
            continue
        found = results_dir_from(PATH_IN_TEXT.findall(line.text), experiment)
        if found:
            return found
    return None
