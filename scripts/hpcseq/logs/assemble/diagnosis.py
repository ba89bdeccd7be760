"""What the diagnosis of a job is given (its Facts: lines, Slurm's state, its checkpoint and
progress), and each earlier run of a requeued job with why it ended."""

from __future__ import annotations

from hpcseq.events import CONSOLE, RESUMING
from hpcseq.logs.assemble.job_logs import JobContext, JobLogs
from hpcseq.logs.diagnose import Diagnosis, Facts, diagnose, node_failure
from hpcseq.logs.parse.job_script import SMOKE_RULE
from hpcseq.logs.parse.lines import LogLine
from hpcseq.logs.parse.progress import Checkpoint, Progress
from hpcseq.logs.record import EarlierRun, JobRecord
from hpcseq.logs.sources.files import script_of


def diagnosis_of(
    record: JobRecord,
    context: JobContext,
    logs: JobLogs,
    state: str | None,
    progress: Progress,
    checkpoint: Checkpoint | None,
) -> Diagnosis | None:
    """The cause of the job's end, with its evidence and the next step (diagnose), from what its
    files, Slurm and its training say."""
    slurm = context.slurm
    facts = Facts(
        lines=logs.lines,
        state=state,
        cancelled_by=slurm.cancelled_by if slurm else None,
        exit_code=record.exit_code,
        job_id=record.job_id if context.files.local is None else None,
        experiment=record.experiment,
        rule=_snakemake_rule(record),
        script=script_of(slurm) if slurm is not None else None,
        checkpoint=checkpoint,
        epochs_done=record.progress.epochs_done,
        epochs_planned=record.progress.epochs_planned,
        training_started=progress.training_started,
        training_output=bool(logs.program) or context.files.rule is None,
        next_job=context.next_job,
        limit_seconds=record.limit_seconds,
        nodes=record.node_list,
        local=context.files.local is not None,
        failed_nodes=slurm.failed_nodes if slurm else [],
        ranks=record.ranks,
    )
    return diagnose(facts)


def _snakemake_rule(record: JobRecord) -> str | None:
    """The job's Snakemake rule; None for a generated job script (training's or the smoke test's)."""
    return record.rule if record.rule not in ("sbatch", SMOKE_RULE) else None


def earlier_runs_of(record: JobRecord, context: JobContext, logs: JobLogs, progress: Progress) -> list[EarlierRun]:
    """The runs Slurm requeued before this one, each with why it ended where that is known (a node
    failure: which node, which ranks) and the checkpoint the next run resumed from."""
    slurm = context.slurm
    if slurm is None:
        return []
    resumed = _resumed_from(logs.lines)
    runs = []
    for run in slurm.earlier_runs:
        facts = Facts(
            lines=logs.lines,
            state=run.state,
            job_id=record.job_id,
            experiment=record.experiment,
            rule=_snakemake_rule(record),
            training_started=progress.training_started,
            nodes=run.node_list,
            failed_nodes=run.failed_nodes,
            ranks=record.ranks,
        )
        diagnosis = node_failure(facts) if run.state == "NODE_FAIL" else None
        if diagnosis is not None:
            diagnosis.next_step = (
                f"Slurm requeued the job; its next run continued from {resumed}."
                if resumed
                else "Slurm requeued the job; its next run started training from the beginning."
            )
        runs.append(EarlierRun(run.state, run.start, run.end, run.node_list, diagnosis))
    return runs


def _resumed_from(lines: list[LogLine]) -> str | None:
    """The checkpoint a requeued run resumed from (the last `resuming from` line)."""
    found = None
    for line in lines:
        console = CONSOLE.match(line.text)
        if console and (match := RESUMING.match(console.group("message"))):
            found = match.group("path")
    return found
