"""What the rules look at (Facts), what they return (Diagnosis with its Evidence), and the helpers
and advice they share: finding lines, the stage of a rule, the checkpoint and how to continue."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hpcseq.logs.parse import Checkpoint, LogLine
from hpcseq.logs.sources import NodeEvent

FAILURE_STATES = {
    "FAILED",
    "TIMEOUT",
    "OUT_OF_MEMORY",
    "NODE_FAIL",
    "PREEMPTED",
    "BOOT_FAIL",
    "DEADLINE",
    "CANCELLED",
    "REQUEUED",
    "SPECIAL_EXIT",
    "REVOKED",
    "INTERRUPTED",  # a local run's (local.py)
}
ACTIVE_STATES = {"RUNNING", "COMPLETING", "CONFIGURING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "RESIZING"}


@dataclass(frozen=True)
class Evidence:
    path: str
    line: int
    text: str

    @classmethod
    def of(cls, line: LogLine, limit: int = 300) -> Evidence:
        text = line.text.strip()
        return cls(line.path, line.number, text if len(text) <= limit else text[: limit - 3] + "...")

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text}"


@dataclass
class Diagnosis:
    kind: str
    summary: str
    evidence: Evidence | None
    next_step: str
    location: str | None = None  # the user's code line, for exceptions: scripts/hpcseq/x.py:123
    also: list[Evidence] = field(default_factory=list)


@dataclass
class Facts:
    """What the patterns look at, gathered for one job."""

    lines: list[LogLine] = field(default_factory=list)  # all its files, file after file
    state: str | None = None  # Slurm's state (COMPLETED, FAILED, TIMEOUT, ...); None: unknown
    cancelled_by: str | None = None
    exit_code: int | None = None
    job_id: str | None = None
    experiment: str | None = None
    rule: str | None = None  # Snakemake rule; None for a generated sbatch script
    script: str | None = None  # the batch script it was submitted with, if known
    checkpoint: Checkpoint | None = None
    epochs_done: int | None = None
    epochs_planned: int | None = None
    training_started: bool = False
    training_output: bool = True  # the program's own output was found (else checkpoints are unknown)
    next_job: str | None = None  # the job that continued it (Snakemake retry, resubmission)
    limit_seconds: int | None = None
    nodes: str | None = None
    local: bool = False  # a job of a local run (`snakemake --cores N`), no Slurm
    failed_nodes: list[NodeEvent] = field(default_factory=list)  # Slurm's events for a NODE_FAIL run
    ranks: int | None = None  # training ranks, spread over `nodes` in blocks (srun's default)

    @property
    def snakemake(self) -> bool:
        return self.rule is not None

    @property
    def failed(self) -> bool:
        if self.state in FAILURE_STATES:
            return True
        if self.state is None:
            return bool(self.exit_code) or any(_SNAKEMAKE_ERROR.match(line.text) for line in self.lines)
        return False


_SNAKEMAKE_ERROR = re.compile(r"^Error in rule \w+:")


def find_first(lines: list[LogLine], pattern: re.Pattern, start: int = 0) -> tuple[LogLine, re.Match] | None:
    for line in lines[start:]:
        match = pattern.search(line.text)
        if match:
            return line, match
    return None


def find_all(lines: list[LogLine], pattern: re.Pattern) -> list[tuple[LogLine, re.Match]]:
    return [(line, match) for line in lines if (match := pattern.search(line.text))]


def more_evidence(found: list[tuple[LogLine, re.Match]], shown: LogLine) -> list[Evidence]:
    """Up to three more of the lines that prove a diagnosis, besides the one it shows."""
    return [Evidence.of(line) for line, _ in found if line is not shown][:3]


# ----------------------------------------------------------------------------- shared advice


def stage_of(rule: str | None) -> str:
    """The slurm.time key of a rule (preprocess_text -> preprocess)."""
    if not rule:
        return "train"
    for stage in ("preprocess", "vocabulary", "train", "evaluate"):
        if rule.startswith(stage):
            return stage
    return rule


def checkpoint_text(facts: Facts) -> str:
    if facts.checkpoint is None and not facts.training_output:
        return ""
    if facts.checkpoint is None:
        if facts.training_started or stage_of(facts.rule) == "train":
            return "No checkpoint was written, so training starts from the beginning when rerun."
        return ""
    return f"The last complete checkpoint is {facts.checkpoint.describe()} ({facts.checkpoint.path})."


def how_to_continue(facts: Facts) -> str:
    """How to run the job again so that training continues from its checkpoint."""
    resumes = " Training continues from that checkpoint." if facts.checkpoint else ""
    if facts.local:
        command = "`snakemake --cores N ...` command (`make run`)"
        return f"Run the same {command} again: it reruns rule {facts.rule}.{resumes}"
    if facts.next_job:
        return f"It was continued as job {facts.next_job} (`hpcseq logs {facts.next_job}`).{resumes}"
    if facts.snakemake:
        return f"Rerun the same `snakemake --profile slurm ...` command: it resubmits rule {facts.rule}.{resumes}"
    script = f"`sbatch {facts.script}`" if facts.script else "the job script again with sbatch"
    return f"Resubmit {script}.{resumes}"


def how_to_resume(facts: Facts) -> str:
    """The last checkpoint and how to run the job again from it: part of most next steps."""
    return join_sentences(checkpoint_text(facts), how_to_continue(facts))


def join_sentences(*parts: str) -> str:
    """The non-empty parts, stripped, joined by spaces: a next step built of optional advice."""
    return " ".join(part.strip() for part in parts if part and part.strip())
