"""What Slurm (or a local run's Snakemake) did to the job: its cancel lines, preemption, scancel,
an interrupted local run; and, for a job that waits, its pending reason in words."""

from __future__ import annotations

import re

from hpcseq.logs.diagnose.facts import (
    Diagnosis,
    Evidence,
    Facts,
    checkpoint_text,
    find_all,
    find_first,
    how_to_continue,
    how_to_resume,
    join_sentences,
)
from hpcseq.logs.diagnose.rules import Rule
from hpcseq.logs.parse import USER_STOP, LogLine

CANCEL_MARKER = re.compile(
    r"\*\*\* (?P<what>JOB|STEP) (?P<id>\S+) ON (?P<node>\S+) CANCELLED AT (?P<at>\S+)"
    r"(?: DUE TO (?P<why>[^*]+?))? \*\*\*"
)


def job_marker(facts: Facts, why: str | None = None) -> tuple[LogLine, re.Match] | None:
    """Slurm's `*** JOB <id> ON <node> CANCELLED AT <time> [DUE TO <why>] ***` (JOB, not STEP)."""
    for line, match in find_all(facts.lines, CANCEL_MARKER):
        if match.group("what") != "JOB":
            continue
        reason = (match.group("why") or "").strip()
        if (why is None and not reason) or (why is not None and reason.upper().startswith(why)):
            return line, match
    return None


def markers_by_file(facts: Facts) -> dict[str, int]:
    """Line number of the first JOB cancel marker per file: what follows it is a consequence."""
    first = {}
    for line, match in find_all(facts.lines, CANCEL_MARKER):
        if match.group("what") == "JOB":
            first.setdefault(line.path, line.number)
    return first


def preempted(facts: Facts) -> Diagnosis | None:
    found = job_marker(facts, "PREEMPTION")
    if not found and facts.state != "PREEMPTED":
        return None
    return Diagnosis(
        "preempted",
        "Slurm preempted the job: a job of higher priority took its nodes.",
        Evidence.of(found[0]) if found else None,
        join_sentences(
            how_to_resume(facts),
            "With `#SBATCH --requeue` Slurm puts a preempted job back into the queue by itself.",
        ),
    )


def cancelled(facts: Facts) -> Diagnosis | None:
    found = job_marker(facts)
    if not found and facts.state != "CANCELLED":
        return None
    who = f" by {facts.cancelled_by}" if facts.cancelled_by else ""
    when = f" at {found[1].group('at')}" if found else ""
    if not facts.training_started and not found and facts.state == "CANCELLED":
        summary = f"The job was cancelled{who}{when} (scancel), before it ran."
    else:
        progress = (
            f" during epoch {facts.epochs_done + 1}"
            if facts.epochs_done is not None and (not facts.epochs_planned or facts.epochs_done < facts.epochs_planned)
            else ""
        )
        summary = f"The job was cancelled{who}{when} (scancel){progress}."
    return Diagnosis(
        "cancelled",
        summary,
        Evidence.of(found[0]) if found else None,
        join_sentences(checkpoint_text(facts), "Nothing to fix if that was intended. " + how_to_continue(facts)),
    )


def interrupted(facts: Facts) -> Diagnosis | None:
    """A local run's Snakemake stopped before the job ended (Ctrl-C, a kill, a reboot): Snakemake
    stopped the job, whatever the job's own last lines say."""
    if facts.state != "INTERRUPTED":
        return None
    found = find_first(facts.lines, USER_STOP)
    how = "Ctrl-C" if found else "Ctrl-C, a kill, the machine's end"
    resumes = " Training continues from that checkpoint." if facts.checkpoint else ""
    return Diagnosis(
        "interrupted",
        f"Snakemake was stopped before this step ended ({how}).",
        Evidence.of(found[0]) if found else None,
        join_sentences(
            checkpoint_text(facts),
            "Run the same `snakemake --cores N ...` command (`make run`) again: Snakemake marked its outputs "
            "incomplete; it reruns the step (should it refuse because of them, add --rerun-incomplete)." + resumes,
        ),
    )


RULES = (Rule("interrupted", interrupted), Rule("preempted", preempted), Rule("cancelled", cancelled))


# ------------------------------------------------------------------------------ pending reasons

PENDING_REASONS = {
    "Resources": "waiting for free nodes/GPUs",
    "Priority": "other jobs have higher priority",
    "Dependency": "waiting for the jobs it depends on",
    "DependencyNeverSatisfied": "a job it depends on failed: it will never start (scancel it and resubmit)",
    "BeginTime": "asked to start later (--begin)",
    "JobHeldUser": "held by its owner (scontrol release <id>)",
    "JobHeldAdmin": "held by an administrator",
    "ReqNodeNotAvail": "the nodes it needs are down, drained or reserved (`sinfo -R` says why)",
    "PartitionTimeLimit": "its --time is above the partition's limit: it will never start",
    "PartitionNodeLimit": "it asks for more nodes than the partition has",
    "QOSMaxJobsPerUserLimit": "you run the most jobs this QoS allows at once",
    "AssocGrpBillingMinutes": "the project's compute budget is used up",
    "AssocGrpGRES": "the project uses all the GPUs it may use at once",
    "AssocMaxJobsLimit": "you run the most jobs your account allows at once",
    "Reservation": "waiting for its reservation to start",
    "launch failed requeued held": "its start failed; held (scontrol release <id> once the cause is fixed)",
    "BadConstraints": "its constraints cannot be met: it will never start",
    "InvalidAccount": "the account does not exist or you are not in it: it will never start",
    "InvalidQOS": "the QoS is invalid for this account: it will never start",
}


# What squeue shows instead of a reason's name when slurmctld gave the job a description of it.
REASON_DESCRIPTIONS = {
    "Nodes required for job are DOWN, DRAINED or reserved for jobs in higher priority partitions": "ReqNodeNotAvail",
}


def pending_reason(reason: str | None) -> str | None:
    """In words, the reason a job waits: its name (`Resources`), a name with details
    (`ReqNodeNotAvail, UnavailableNodes:node[2-3]`) or the description squeue shows for some."""
    if not reason:
        return None
    reason = reason.strip("()")
    name = REASON_DESCRIPTIONS.get(reason) or reason.split(",")[0].strip()
    return PENDING_REASONS.get(name)
