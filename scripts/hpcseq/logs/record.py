"""One job as `hpcseq logs` reports it (JobRecord), and each earlier run of a requeued job.
assemble.py builds them, render.py prints them."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

from hpcseq.logs.charges import Charges
from hpcseq.logs.diagnose import Diagnosis
from hpcseq.logs.local import LOCAL
from hpcseq.logs.parse.progress import TrainingProgress

ACTIVE = ("pending", "running")
# JSON keys of the progress fields that differ from their names (the JSON output is flat)
PROGRESS_JSON_KEYS = {"source": "progress_from"}


@dataclass
class EarlierRun:
    """A run of a job that Slurm requeued under the same id (a node failed, say): how it ended."""

    state: str  # Slurm's word: NODE_FAIL, REQUEUED, PREEMPTED, ...
    started: str | None = None
    ended: str | None = None
    node_list: str | None = None
    diagnosis: Diagnosis | None = None


@dataclass
class JobRecord:
    job_id: str  # Slurm's job id; `local` for a job of a local run (its rule log tells it apart)
    experiment: str | None = None
    rule: str | None = None  # Snakemake rule; "sbatch" for a generated job script
    state: str = "unknown"  # pending, running, completed, failed, timeout, out of memory,
    # cancelled, node failure, preempted, requeued, unknown
    slurm_state: str | None = None  # Slurm's own word (sacct/squeue), None without Slurm
    reason: str | None = None  # pending: Slurm's reason; cancelled: by whom
    reason_text: str | None = None  # what the pending reason means
    exit_code: int | None = None
    elapsed_seconds: int | None = None
    limit_seconds: int | None = None
    nodes: int | None = None
    node_list: str | None = None
    ranks: int | None = None
    gpus: int | None = None
    rank_hosts: list[str] | None = None  # each rank's host, in rank order (the training's console)
    progress: TrainingProgress = field(default_factory=TrainingProgress)  # empty unless the job trains
    checkpoint: str | None = None  # "epoch 39 + 5 steps of epoch 40"
    checkpoint_path: str | None = None
    previous_job: str | None = None  # the job this one continued (same rule and experiment)
    next_job: str | None = None  # the job that continued this one
    runs: int = 1  # > 1: requeued under the same id (sacct -D)
    earlier_runs: list[EarlierRun] = field(default_factory=list)  # those runs, oldest first
    submitted: str | None = None
    started: str | None = None
    ended: str | None = None
    expected_start: str | None = None
    files: list[str] = field(default_factory=list)
    results_dir: str | None = None
    diagnosis: Diagnosis | None = None
    last_lines: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    smoke_checks: list[str] = field(default_factory=list)  # the smoke test's result lines (events.SMOKE_CHECK)
    charges: Charges | None = None  # node-hours and GPU-hours charged (charges.py); None: not asked

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def local(self) -> bool:
        return self.job_id == LOCAL

    @property
    def label(self) -> str:
        """What names the job to `hpcseq logs`: its Slurm job id, or a local job's rule log."""
        if self.local and self.files:
            return shorter_path(self.files[0])
        return self.job_id

    @property
    def state_text(self) -> str:
        if self.state == "pending" and self.reason:
            return f"pending ({self.reason})"
        if self.state == "requeued" and self.next_job:
            return f"requeued -> {self.next_job}"
        if self.state == "cancelled" and self.reason:
            return f"cancelled by {self.reason}"
        return self.state

    def to_json(self) -> dict:
        """Flat: the progress fields stand among the others (`source` as `progress_from`)."""
        data = {}
        for name, value in dataclasses.asdict(self).items():
            if name == "progress":
                data.update({PROGRESS_JSON_KEYS.get(key, key): item for key, item in value.items()})
            elif name != "charges":
                data[name] = value
        data["active"] = self.active
        data["charges"] = dataclasses.asdict(self.charges) if self.charges is not None else None  # added last
        return data


def shorter_path(path: str) -> str:
    """A path relative to the current directory when it lies below it (what a user types)."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return relative if not relative.startswith("..") else path
