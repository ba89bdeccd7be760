"""Slurm durations, read and written in one place: time limits in the config and job scripts,
and the Elapsed/Timelimit columns of sacct and squeue that `hpcseq logs` reads.

Slurm's formats: "minutes", "minutes:seconds", "hours:minutes:seconds", "days-hours",
"days-hours:minutes" and "days-hours:minutes:seconds". A bare number means minutes, as sbatch says.
"""

from __future__ import annotations

import re
from typing import Any

from hpcseq.errors import shown

TIME_FORMATS = (
    re.compile(r"^(?P<m>\d+)$"),
    re.compile(r"^(?P<m>\d+):(?P<s>\d{1,2})$"),
    re.compile(r"^(?P<h>\d+):(?P<m>\d{1,2}):(?P<s>\d{1,2})$"),
    re.compile(r"^(?P<d>\d+)-(?P<h>\d{1,2})$"),
    re.compile(r"^(?P<d>\d+)-(?P<h>\d{1,2}):(?P<m>\d{1,2})$"),
    re.compile(r"^(?P<d>\d+)-(?P<h>\d{1,2}):(?P<m>\d{1,2}):(?P<s>\d{1,2})$"),
)


UNLIMITED = ("UNLIMITED", "Partition_Limit", "INVALID", "NOT_SET", "INFINITE")


def seconds_of(text: str | None) -> int | None:
    """Seconds of a Slurm duration as sacct and squeue print it (a fraction of a second dropped);
    None for UNLIMITED, Partition_Limit and anything else that is not a duration."""
    if not text:
        return None
    text = text.strip().split(".")[0]
    for pattern in TIME_FORMATS:
        match = pattern.fullmatch(text)
        if match:
            parts = {key: int(number) for key, number in match.groupdict().items() if number is not None}
            return parts.get("d", 0) * 86400 + parts.get("h", 0) * 3600 + parts.get("m", 0) * 60 + parts.get("s", 0)
    return None


def time_seconds(value: Any) -> int:
    """Seconds of a Slurm time limit in any format sbatch accepts ("90", "1:30:00", "2-12", ...)."""
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    seconds = seconds_of(text) if text and "." not in text else None
    if not seconds:
        raise ValueError(
            f"{shown(value)} is not a Slurm time limit "
            "(minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS, above zero)"
        )
    return seconds


def format_time(seconds: int) -> str:
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}-{clock}" if days else clock
