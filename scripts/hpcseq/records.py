"""Files that training writes and other parts read back, each format defined once.

    metrics.jsonl           one JSON record per epoch (rank 0 appends; plots and `hpcseq logs` read)
    checkpoints/epoch-EEEE-step-SSSSSSS/state.json
                            a checkpoint's state; complete when every file it lists has its size
                            (training resumes only from complete ones; `hpcseq logs` names only those)
    ranks/rank-<r>.json     what each rank ran with (host, shard, Slurm ids)

No TensorFlow here: the workflow environment and login nodes read these files too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from hpcseq.errors import CheckpointError

CHECKPOINT_FORMAT_VERSION = 1
CHECKPOINT_STATE = "state.json"
CHECKPOINT_NAME = re.compile(r"epoch-(?P<epochs>\d{4,})-step-(?P<step>\d{7,})$")


# ----------------------------------------------------------------------------- metrics.jsonl


def read_epoch_records(path: str | Path, missing_ok: bool = False) -> list[dict]:
    """The per-epoch records of a metrics.jsonl file (what training's rank 0 appends each epoch).

    A line cut off by a killed writer, and anything that is not an epoch record, is skipped;
    a missing file is an empty list with missing_ok, else FileNotFoundError.
    """
    records = []
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                record = _json_or_none(line)
                if isinstance(record, dict) and isinstance(record.get("epoch"), int):
                    records.append(record)
    except FileNotFoundError:
        if missing_ok:
            return []
        raise
    return records


def _json_or_none(line: str):
    try:
        return json.loads(line) if line.strip() else None
    except json.JSONDecodeError:
        return None


# ------------------------------------------------------------------------------- checkpoints


def checkpoint_directory_name(epochs_completed: int, step_in_epoch: int) -> str:
    """`epoch-EEEE-step-SSSSSSS`: sorts by position; read back by checkpoint_position()."""
    return f"epoch-{epochs_completed:04d}-step-{step_in_epoch:07d}"


def checkpoint_position(path: str | Path) -> tuple[int, int] | None:
    """(epochs completed, step inside the next epoch) from a checkpoint directory name."""
    match = CHECKPOINT_NAME.search(str(path).rstrip("/"))
    return (int(match.group("epochs")), int(match.group("step"))) if match else None


def checkpoint_directories(directory: Path) -> list[Path]:
    """Every checkpoint directory (complete or not), oldest first; not the `.tmp-*` of a writer."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_dir() and CHECKPOINT_NAME.search(p.name))


def verify_checkpoint(path: Path) -> dict:
    """state.json of a complete checkpoint; CheckpointError saying what is missing otherwise."""
    state_path = path / CHECKPOINT_STATE
    if not state_path.is_file():
        raise CheckpointError(f"{path}: no {CHECKPOINT_STATE} (the checkpoint was not completely written)")
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{state_path}: unreadable ({error})") from None
    if state.get("format") != CHECKPOINT_FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format {state.get('format')!r}, expected {CHECKPOINT_FORMAT_VERSION}"
        )
    for name, size in state.get("files", {}).items():
        file = path / name
        if not file.is_file():
            raise CheckpointError(f"{path}: file {name} is missing")
        if file.stat().st_size != size:
            raise CheckpointError(f"{path}: file {name} has {file.stat().st_size} bytes, state.json says {size}")
    return state


@dataclass
class CheckpointOnDisk:
    path: Path
    state: dict | None  # None: incomplete (see `problem`)
    problem: str | None = None


def checkpoints_on_disk(directory: Path) -> list[CheckpointOnDisk]:
    """Every checkpoint in `directory`, oldest first, each verified as training would before loading it."""
    found = []
    for path in checkpoint_directories(directory):
        try:
            found.append(CheckpointOnDisk(path, verify_checkpoint(path)))
        except CheckpointError as problem:
            found.append(CheckpointOnDisk(path, None, str(problem)))
    return found


# ------------------------------------------------------------------------------ rank reports


def rank_file(directory: str | Path, rank: int) -> Path:
    """rank-<r>.json in a folder of per-rank files (the rank reports; the watchdog's heartbeats)."""
    return Path(directory) / f"rank-{rank}.json"


def rank_report_path(directory: Path, rank: int) -> Path:
    return rank_file(directory, rank)


def read_rank_reports(directory: Path) -> list[dict]:
    """The readable rank reports of a training run (ranks/rank-<r>.json), in rank order."""
    reports = []
    for path in sorted(directory.glob("rank-*.json"), key=lambda p: (len(p.name), p.name)):
        report = _json_or_none(path.read_text(encoding="utf-8")) if path.is_file() else None
        if isinstance(report, dict):
            reports.append(report)
    return reports
