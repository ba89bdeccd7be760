"""A training job's progress (its console's, made exact by its records of metrics.jsonl), its
last checkpoint, and the ranks and GPUs it ran on."""

from __future__ import annotations

from hpcseq.logs.assemble.job_logs import JobContext
from hpcseq.logs.diagnose import ACTIVE_STATES
from hpcseq.logs.local import LOCAL
from hpcseq.logs.local_state import LocalState
from hpcseq.logs.parse.progress import Checkpoint, Progress, merge_progress, records_between, timestamp
from hpcseq.logs.record import JobRecord
from hpcseq.logs.sources.accounting import SlurmJob
from hpcseq.paths import ExperimentPaths
from hpcseq.records import checkpoints_on_disk, read_epoch_records, read_rank_reports

TRAINING_RULES = ("train",)


def is_training(record: JobRecord, progress: Progress) -> bool:
    # a generated job script ("sbatch") always trains
    return record.rule in TRAINING_RULES or record.rule == "sbatch" or progress.training_started


def exact_progress(
    progress: Progress, paths: ExperimentPaths | None, context: JobContext, local: LocalState | None = None
) -> Progress:
    """The console's progress, made exact by this job's records of metrics.jsonl."""
    if paths is None:
        return progress
    metrics = read_epoch_records(paths.metrics, missing_ok=True)
    if local is not None and local.started is not None:  # a local job: those of its run
        own = records_between(metrics, local.started, None if local.state == "RUNNING" else local.ended)
    else:
        own = _own_records(metrics, progress, context)
    progress = merge_progress(progress, own)
    if progress.epochs_planned is None and metrics:
        progress.epochs_planned = metrics[-1].get("epochs")
    return progress


def _own_records(metrics: list[dict], progress: Progress, context: JobContext) -> list[dict]:
    """The metrics.jsonl records this job wrote: those timed within its run (sacct's start/end),
    else those of the epochs its console shows, else (the latest job of its step) all of them."""
    slurm = context.slurm
    if not metrics:
        return []
    if slurm is not None and slurm.start:
        end = timestamp(slurm.end) if slurm.state not in ACTIVE_STATES else None
        return records_between(metrics, timestamp(slurm.start), end)
    if progress.has_epochs and progress.epochs_this_job:
        first = progress.epochs_done - progress.epochs_this_job + 1
        return [r for r in metrics if first <= r["epoch"] <= progress.epochs_done]
    if context.next_job is None and slurm is None:
        return metrics
    return []


def last_checkpoint(progress: Progress, paths: ExperimentPaths | None, context: JobContext) -> Checkpoint | None:
    """The last checkpoint this job wrote; for the latest job of its step without one of its own,
    the newest complete one on disk (complete as training checks it: the one a rerun continues from)."""
    if progress.last_checkpoint is not None or paths is None or context.next_job is not None:
        return progress.last_checkpoint
    complete = [found for found in checkpoints_on_disk(paths.checkpoints) if found.state is not None]
    if not complete:
        return None
    newest = complete[-1]
    return Checkpoint(
        str(newest.path), int(newest.state.get("epochs_completed", 0)), int(newest.state.get("step_in_epoch", 0))
    )


def add_training(
    record: JobRecord,
    progress: Progress,
    checkpoint: Checkpoint | None,
    slurm: SlurmJob | None,
    paths: ExperimentPaths | None,
) -> None:
    """Progress, checkpoint, and the ranks and GPUs training ran on: its console says how many
    ranks, else Slurm's training step, else the rank reports of this job, which also count the GPUs."""
    record.progress = progress.training()
    if checkpoint is not None:
        record.checkpoint, record.checkpoint_path = checkpoint.describe(), checkpoint.path
    step = slurm.training_step if slurm is not None else None
    record.ranks = progress.ranks
    record.rank_hosts = progress.rank_hosts
    if record.ranks is None and step is not None:
        record.ranks = step.tasks
    reports = _rank_reports(paths, record.job_id)
    if reports:
        record.ranks = record.ranks or len(reports)
        gpus = {report.get("gpu") for report in reports if report.get("gpu") is not None}
        if record.gpus is None and (gpus or record.job_id == LOCAL):  # no Slurm to ask: none is none
            record.gpus = len(gpus)


def _rank_reports(paths: ExperimentPaths | None, job_id: str) -> list[dict]:
    """The rank reports (ranks/rank-<r>.json) that this job's training wrote (a local run's: those
    written outside Slurm)."""
    if paths is None:
        return []
    reports = read_rank_reports(paths.rank_reports)
    if job_id == LOCAL:
        return [report for report in reports if not report.get("slurm", {}).get("SLURM_JOB_ID")]
    return [report for report in reports if str(report.get("slurm", {}).get("SLURM_JOB_ID")) == job_id]
