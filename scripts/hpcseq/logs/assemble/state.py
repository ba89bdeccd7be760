"""A job's state: Slurm's view of it (times, nodes, GPUs, earlier runs), a local job's (local.py),
and, without either, what its files say; for a waiting or cancelled job, why or by whom."""

from __future__ import annotations

import time

from hpcseq.errors import REQUEUE_EXIT_CODE
from hpcseq.logs.assemble.job_logs import JobLogs
from hpcseq.logs.diagnose import CANCEL_MARKER, HOST_OOM, pending_reason
from hpcseq.logs.local import LocalJob
from hpcseq.logs.local_state import LocalState, local_state
from hpcseq.logs.parse.job_script import ScriptOutput
from hpcseq.logs.parse.lines import LogLine
from hpcseq.logs.parse.progress import Progress
from hpcseq.logs.record import JobRecord
from hpcseq.logs.sources.accounting import SlurmJob

# What the table calls each of Slurm's states (else the state in lower case)
STATE_LABELS = {
    "PENDING": "pending",
    "REQUEUE_HOLD": "pending",
    "CONFIGURING": "running",
    "RUNNING": "running",
    "COMPLETING": "running",
    "SUSPENDED": "running",
    "COMPLETED": "completed",
    "FAILED": "failed",
    "TIMEOUT": "timeout",
    "DEADLINE": "timeout",
    "OUT_OF_MEMORY": "out of memory",
    "CANCELLED": "cancelled",
    "NODE_FAIL": "node failure",
    "BOOT_FAIL": "node failure",
    "PREEMPTED": "preempted",
    "REQUEUED": "requeued",
    "REQUEUE_FED": "requeued",
    "SPECIAL_EXIT": "failed",
}
# Slurm's state after `*** JOB <id> ON <node> CANCELLED AT <time> DUE TO <why> ***` (no reason: scancel)
CANCEL_REASONS = (("TIME LIMIT", "TIMEOUT"), ("NODE FAILURE", "NODE_FAIL"), ("PREEMPTION", "PREEMPTED"))


def add_slurm_view(record: JobRecord, slurm: SlurmJob | None, logs: JobLogs) -> None:
    """Times, nodes, GPUs and earlier runs as sacct/squeue tell them (without Slurm: the nodes the
    job script printed)."""
    if slurm is None:
        if logs.script is not None and logs.script.nodes:
            record.node_list = logs.script.nodes
        return
    record.slurm_state = slurm.state
    record.elapsed_seconds, record.limit_seconds = slurm.elapsed_seconds, slurm.limit_seconds
    record.nodes, record.node_list, record.gpus = slurm.nodes, slurm.node_list, slurm.gpus
    record.submitted, record.started, record.ended = slurm.submit, slurm.start, slurm.end
    record.expected_start = slurm.expected_start
    record.runs = 1 + len(slurm.earlier_runs)
    if slurm.earlier_runs:
        runs = ", ".join(
            f"{run.state} (started {run.start or '-'}, ended {run.end or '-'})" for run in slurm.earlier_runs
        )
        record.notes.append(f"earlier runs under this id: {runs}")


def add_local_view(record: JobRecord, job: LocalJob | None, logs: JobLogs, progress: Progress) -> LocalState | None:
    """A local job's state, times and host, from its files and Snakemake's (local.py)."""
    if job is None:
        return None
    found = local_state(job, logs.program)
    record.node_list = (job.run.host if job.run is not None else None) or progress.host
    record.elapsed_seconds = round(found.elapsed) if found.elapsed is not None else None
    record.started, record.ended = _local_time(found.started), _local_time(found.ended)
    record.notes += found.notes
    return found


def _local_time(seconds: float | None) -> str | None:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(seconds)) if seconds is not None else None


def add_state(
    record: JobRecord, slurm: SlurmJob | None, logs: JobLogs, progress: Progress, local: LocalState | None = None
) -> str | None:
    """The job's state and exit code (Slurm's, else what its files say) and, for a waiting or
    cancelled job, why or by whom; returns Slurm's word for the state (None: unknown)."""
    if local is not None:
        state, record.exit_code = local.state, local.exit_code
    else:
        state, record.exit_code = (slurm.state, slurm.exit_code) if slurm is not None else _state_from_files(logs)
    if logs.snakemake is not None and logs.snakemake.exit_status is not None:
        record.exit_code = logs.snakemake.exit_status  # the rule's command; the job step itself exits 1
    record.state = _state_label(state, record.exit_code, progress, logs.script)
    if record.state == "pending":
        record.reason = slurm.reason if slurm is not None else None
        record.reason_text = pending_reason(record.reason)
    if state == "CANCELLED" and slurm is not None and slurm.cancelled_by:
        record.reason = slurm.cancelled_by
    if state is None and local is None:
        record.notes.append(
            "no end of the job in its files and no answer from sacct/squeue: it is still "
            "running, or ended without a trace"
        )
    return state


def _state_label(state: str | None, exit_code: int | None, progress: Progress, script: ScriptOutput | None) -> str:
    """What the table calls a Slurm state; a training that checkpointed before the time limit
    (Snakemake resubmits it, the job script requeues itself) is `requeued`, not failed."""
    if state == "FAILED" and (exit_code == REQUEUE_EXIT_CODE or progress.stopped_on == "SIGUSR1"):
        return "requeued"
    if script is not None and script.requeue_line is not None and state in (None, "REQUEUED"):
        return "requeued"
    return STATE_LABELS.get(state or "", (state or "unknown").lower())


def _state_from_files(logs: JobLogs) -> tuple[str | None, int | None]:
    """(Slurm-like state, exit code) from the files alone, for when sacct and squeue are missing."""
    cancelled = _cancelled_state(logs.lines)
    if cancelled is not None:
        return cancelled, None
    if any(HOST_OOM.search(line.text) for line in logs.lines):
        return "OUT_OF_MEMORY", None
    snakemake = logs.snakemake
    if snakemake is not None and snakemake.error:
        return "FAILED", snakemake.exit_status
    if snakemake is not None and snakemake.finished:
        return "COMPLETED", 0
    return _script_state(logs.script) if logs.script is not None else (None, None)


def _cancelled_state(lines: list[LogLine]) -> str | None:
    """The state Slurm's first `*** JOB ... CANCELLED ... ***` line stands for."""
    for line in lines:
        match = CANCEL_MARKER.search(line.text)
        if match and match.group("what") == "JOB":
            why = (match.group("why") or "").upper()
            return next((state for reason, state in CANCEL_REASONS if why.startswith(reason)), "CANCELLED")
    return None


def _script_state(script: ScriptOutput) -> tuple[str | None, int | None]:
    """The state of a generated job script's latest run, from its own lines."""
    if script.done:
        return "COMPLETED", 0
    if script.requeue_line is not None:
        return "REQUEUED", 0
    if script.training_exit_code is not None:
        return "FAILED", script.training_exit_code
    if script.smoke_failed:
        return "FAILED", 1
    return None, None
