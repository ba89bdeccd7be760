"""One JobRecord per job: its files and Slurm's answer put together.

collect() finds the jobs the command line names, asks Slurm about them once, links the attempts
of the same step (Snakemake retries, resubmissions) and builds each job's record, step by step:
its files and lines, the results folder, its training progress and checkpoint, Slurm's view and
its state, the diagnosis and the last lines of each file. The jobs of local runs (local.py) come
after the Slurm jobs, stage by stage.
"""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from hpcseq.errors import REQUEUE_EXIT_CODE
from hpcseq.events import CONSOLE, RESUMING, SMOKE_JOB_NAME
from hpcseq.logs import parse
from hpcseq.logs.charges import OUTSIDE_SLURM, job_charges
from hpcseq.logs.diagnose import (
    ACTIVE_STATES,
    CANCEL_MARKER,
    HOST_OOM,
    Diagnosis,
    Facts,
    diagnose,
    is_noise,
    node_failure,
    pending_reason,
    stage_of,
)
from hpcseq.logs.local import (
    LOCAL,
    STAGES,
    LocalJob,
    LocalState,
    discover_local,
    local_job_of_path,
    local_state,
    run_directory,
)
from hpcseq.logs.record import EarlierRun, JobRecord
from hpcseq.logs.sources import (
    JOB_ID,
    JobFiles,
    LogsError,
    Slurm,
    SlurmAnswer,
    SlurmJob,
    discover,
    files_from_slurm,
    files_of_path,
    job_id_key,
    script_of,
)
from hpcseq.paths import ExperimentPaths
from hpcseq.records import checkpoints_on_disk, read_epoch_records, read_rank_reports

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
WAITING_STATES = ("PENDING", "REQUEUE_HOLD")
# Slurm's state after `*** JOB <id> ON <node> CANCELLED AT <time> DUE TO <why> ***` (no reason: scancel)
CANCEL_REASONS = (("TIME LIMIT", "TIMEOUT"), ("NODE FAILURE", "NODE_FAIL"), ("PREEMPTION", "PREEMPTED"))
TAIL = 12
# The Slurm plugin names every job of a run after the run: [<slurm-jobname-prefix>_]<uuid>
RUN_NAME = re.compile(r"^(?:[A-Za-z0-9_-]+_)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TRAINING_RULES = ("train",)
DEFAULT_RESULTS = "results"  # the config's default results_dir, relative to the run directory


# ---------------------------------------------------------------------------- the command line


@dataclass
class Targets:
    run_dirs: list[Path] = field(default_factory=list)  # where files are looked for
    named_dirs: bool = False  # run directories were named: show all their jobs
    files: list[JobFiles] = field(default_factory=list)
    job_ids: list[str] = field(default_factory=list)
    local_only: bool = False  # `local`: the jobs of local runs only


def classify(targets: list[str], cwd: Path, results_dir: Path | None = None) -> Targets:
    """Job ids, `local`, log files and run directories of the command line (none: the current directory)."""
    found = Targets()
    for target in targets:
        path = Path(target)
        if JOB_ID.match(target) and not path.exists():
            found.job_ids.append(target)
        elif target == LOCAL and not path.exists():
            found.local_only = True
        elif path.is_dir():
            found.run_dirs.append(path)
        elif path.is_file():
            files = files_of_path(path) or _local_files(local_job_of_path(path, results_dir))
            if files is None:
                raise LogsError(
                    f"{target}: not a log hpcseq knows (<job>_out.<id>, <job>_err.<id>, "
                    ".snakemake/slurm_logs/rule_<rule>/<experiment>/<id>.log, or a rule's log "
                    f"<logs_dir>/<stage>/<experiment>.log of a local run, stage one of {', '.join(STAGES)})"
                )
            found.files.append(files)
        else:
            raise LogsError(f"{target}: neither a job id nor an existing file or directory (nor `{LOCAL}`)")
    found.named_dirs = bool(found.run_dirs) or not targets or found.local_only
    if not found.run_dirs:
        found.run_dirs.append(cwd)
    return found


def _local_files(job: LocalJob | None) -> JobFiles | None:
    if job is None:
        return None
    return JobFiles(job.key, experiment=job.experiment, rule=job.rule, rule_log=job.rule_log, local=job)


# ------------------------------------------------------------------------------------ the jobs


@dataclass
class JobContext:
    """One job's files and Slurm record, plus its place among the attempts of the same step."""

    files: JobFiles
    slurm: SlurmJob | None
    previous_job: str | None = None
    next_job: str | None = None
    owns_rule_log: bool = True


def collect(
    targets: list[str], results_dir: Path | None = None, slurm: Slurm | None = None, cwd: Path | None = None
) -> tuple[list[JobRecord], list[str]]:
    """One JobRecord per job named by `targets` (job ids, log files, run directories), and notes."""
    wanted = classify(targets, cwd or Path.cwd(), results_dir)
    found, shown = _files_shown(wanted, results_dir)
    # the other attempts of the same steps: which one came before or after a job shown
    related = {**_attempts_of(found, shown), **shown}
    slurm_ids = {job_id for job_id, files in related.items() if files.local is None} | set(wanted.job_ids)
    answer = (slurm or Slurm()).query(sorted(slurm_ids, key=job_id_key))
    notes = list(answer.notes)
    for job_id in wanted.job_ids:
        if job_id not in shown:
            shown[job_id] = related[job_id] = _files_slurm_knows(job_id, answer, wanted.run_dirs, notes)
    contexts = {job_id: JobContext(files, answer.jobs.get(job_id)) for job_id, files in related.items()}
    _chains(contexts)
    order = sorted(shown, key=lambda job_id: _order(shown[job_id]))
    notes += [note for files in shown.values() if files.local for note in files.local.place.notes if note not in notes]
    records = [build_record(contexts[job_id], results_dir, wanted.run_dirs[0]) for job_id in order]
    for record, job_id in zip(records, order, strict=True):
        local = contexts[job_id].files.local is not None
        record.charges = OUTSIDE_SLURM if local else job_charges(contexts[job_id].slurm, answer.sacct_failure)
    return records, notes


def _order(files: JobFiles) -> tuple:
    """Slurm jobs by job id, then the jobs of local runs stage by stage."""
    if files.local is not None:
        return (1, STAGES.index(files.local.stage), files.local.experiment)
    return (0, job_id_key(files.job_id))


def _files_shown(wanted: Targets, results_dir: Path | None = None) -> tuple[dict[str, JobFiles], dict[str, JobFiles]]:
    """The files of every job found, and of the jobs to show: all in the named run directories
    (with `local`: their local jobs), else those of the named ids."""
    found: dict[str, JobFiles] = {}
    for run_dir in wanted.run_dirs:
        slurm_jobs = discover(run_dir)
        found.update(slurm_jobs)
        if not wanted.named_dirs:
            continue  # only jobs named by id: Slurm's
        slurm_steps = {(stage_of(files.rule), files.experiment) for files in slurm_jobs.values() if files.rule}
        for job in discover_local(run_directory(run_dir, results_dir), slurm_steps).values():
            found[job.key] = _local_files(job)
    for files in wanted.files:
        found[files.job_id] = files
    shown = dict(found) if wanted.named_dirs else {}
    if wanted.local_only:
        shown = {job_id: files for job_id, files in shown.items() if files.local is not None}
    shown.update({job_id: found[job_id] for job_id in wanted.job_ids if job_id in found})
    shown.update({files.job_id: files for files in wanted.files})
    return found, shown


def _attempts_of(found: dict[str, JobFiles], shown: dict[str, JobFiles]) -> dict[str, JobFiles]:
    """The jobs found that are attempts of the same step as a job shown."""
    steps = {_step_of(files) for files in shown.values()}
    return {job_id: files for job_id, files in found.items() if _step_of(files) in steps}


def _files_slurm_knows(job_id: str, answer: SlurmAnswer, run_dirs: list[Path], notes: list[str]) -> JobFiles:
    """A named job without files in the run directories: where Slurm says it wrote them, else none."""
    places = ", ".join(str(d) for d in run_dirs)
    known = answer.jobs.get(job_id)
    if known is None:
        raise LogsError(
            f"job {job_id}: no log files in {places}, and "
            + ("Slurm does not know it" if answer.sacct_ok else "sacct/squeue could not tell")
            + " (give the run directory or the log file)"
        )
    located = files_from_slurm(known)
    if located is not None:
        return located
    if known.state not in WAITING_STATES:
        notes.append(f"job {job_id}: no log files found (looked in {places} and where Slurm says it wrote them)")
    # a Snakemake job's name is the run's (RUN_NAME), a generated script's the experiment
    return JobFiles(job_id, experiment=known.name if known.name and not RUN_NAME.match(known.name) else None)


def _chains(contexts: dict[str, JobContext]) -> None:
    """Attempts of the same step (Snakemake retries of a rule for an experiment; resubmissions of a
    job script) in job id order: each knows the one before and after; only the latest started one
    owns the rule's log file, which every attempt overwrites."""
    groups: dict[tuple, list[JobContext]] = {}
    for context in contexts.values():
        groups.setdefault(_step_of(context.files), []).append(context)
    for members in groups.values():
        members.sort(key=lambda c: job_id_key(c.files.job_id))
        for before, after in itertools.pairwise(members):
            before.next_job, after.previous_job = after.files.job_id, before.files.job_id
        started = [c for c in members if c.slurm is None or c.slurm.state not in WAITING_STATES]
        owner = started[-1] if started else None
        for context in members:
            context.owns_rule_log = context is owner


def _step_of(files: JobFiles) -> tuple:
    """What the attempts of one step share: kind, rule, experiment and the folder of their files."""
    first = files.slurm_log or files.out or files.err
    return (files.kind, files.rule, files.experiment, str(first.parent) if first else "")


# ------------------------------------------------------------------------------- one job's record


def build_record(context: JobContext, results_override: Path | None, default_dir: Path) -> JobRecord:
    """One job's record: what its files say, where its results are, Slurm's view, how far its
    training got and its last checkpoint, its state, the cause of its end and its files' last lines."""
    logs = _read_logs(context, default_dir)
    record = _new_record(context, logs)
    paths = _experiment_paths(record, logs, results_override, context.files.local)
    progress = parse.console_progress(logs.lines)
    _add_slurm_view(record, context.slurm, logs)
    local = _add_local_view(record, context.files.local, logs, progress)
    checkpoint = None
    if _is_training(record, progress):
        progress = _exact_progress(progress, paths, context, local)
        checkpoint = _last_checkpoint(progress, paths, context)
        _add_training(record, progress, checkpoint, context.slurm, paths)
    state = _add_state(record, context.slurm, logs, progress, local)
    record.diagnosis = _diagnosis(record, context, logs, state, progress, checkpoint)
    if logs.script is not None:
        record.smoke_checks = [line.text.strip() for line in logs.script.smoke]
    record.earlier_runs = _earlier_runs(record, context, logs, progress)
    record.last_lines = _tails(context.files, logs.lines)
    return record


# files and lines


@dataclass
class JobLogs:
    """What one job's files hold."""

    run_dir: Path  # where the job ran: relative paths in its lines start there
    program: list[parse.LogLine]  # the program's own output: the rule's log file, <job>_out.<id>
    snakemake_lines: list[parse.LogLine]  # Snakemake's Slurm log of the job
    errors: list[parse.LogLine]  # <job>_err.<id>
    snakemake: parse.SnakemakeLog | None
    script: parse.ScriptOutput | None  # the generated job script's own lines

    @property
    def lines(self) -> list[parse.LogLine]:
        """Every line: program output first, then Snakemake's and Slurm's."""
        return self.program + self.snakemake_lines + self.errors


def _read_logs(context: JobContext, default_dir: Path) -> JobLogs:
    files = context.files
    if files.local is not None:
        return _read_local_logs(files.local)
    run_dir = _run_dir_of(files, default_dir)
    snakemake, snakemake_lines, program = None, [], []
    if files.slurm_log is not None:
        snakemake_lines = parse.read_lines(files.slurm_log)
        snakemake = parse.parse_snakemake_log(snakemake_lines)
        _claim_rule_log(context, snakemake, run_dir)
        if files.rule_log is not None:
            program = parse.read_lines(files.rule_log)
    if files.out is not None:
        program += parse.read_lines(files.out)
    errors = parse.read_lines(files.err) if files.err is not None else []
    # the generated script prints its start and requeue lines to stdout, a training failure to stderr
    script = parse.parse_script_output(program + errors) if files.out is not None else None
    return JobLogs(run_dir, program, snakemake_lines, errors, snakemake, script)


def _read_local_logs(job: LocalJob) -> JobLogs:
    """A local job's rule log, and its lines in Snakemake's log of the run (the rule, its outputs,
    how it ended)."""
    program = parse.read_lines(job.rule_log)
    snakemake = job.snakemake
    lines = snakemake.lines if snakemake is not None else []
    return JobLogs(job.place.root, program, lines, [], snakemake.log if snakemake is not None else None, None)


def _run_dir_of(files: JobFiles, default: Path) -> Path:
    """The directory Snakemake ran in: the one holding .snakemake/ (for a Slurm log), else the
    directory of the output files."""
    if files.slurm_log is not None:
        for parent in files.slurm_log.parents:
            if parent.name == ".snakemake":
                return parent.parent
    if files.out is not None:
        return files.out.parent
    if files.err is not None:
        return files.err.parent
    return default


def _claim_rule_log(context: JobContext, snakemake: parse.SnakemakeLog, run_dir: Path) -> None:
    """The rule's log file becomes this job's when it is the latest attempt and the file was
    written while it ran."""
    if context.owns_rule_log and snakemake.log_files:
        rule_log = _resolve(snakemake.log_files[0], run_dir)
        if rule_log.is_file() and _written_during(rule_log, context.slurm):
            context.files.rule_log = rule_log


def _resolve(path: str | Path, run_dir: Path) -> Path:
    path = Path(path)
    return path if path.is_absolute() else run_dir / path


def _written_during(path: Path, slurm: SlurmJob | None) -> bool:
    """Whether a rule's log file (overwritten by each attempt) can hold this job's output: not
    last written before the job started, nor well after it ended (then a later attempt, or a
    later run, wrote it)."""
    if slurm is None or not slurm.start:
        return True
    started = parse.timestamp(slurm.start)
    ended = parse.timestamp(slurm.end) if slurm.end else None
    try:
        written = path.stat().st_mtime
    except OSError:
        return False
    if started is not None and written < started - 5:
        return False
    return ended is None or written <= ended + 10  # the end of a failed attempt is also in its Slurm log


def _new_record(context: JobContext, logs: JobLogs) -> JobRecord:
    files = context.files
    rule = files.rule if files.slurm_log or files.local else ("sbatch" if files.out or files.err else None)
    experiment = files.experiment
    if rule == "sbatch" and experiment == SMOKE_JOB_NAME:  # `hpcseq smoke-test`'s job: no experiment
        rule, experiment = parse.SMOKE_RULE, None
    if logs.snakemake is not None:
        rule = logs.snakemake.rule or rule
        experiment = logs.snakemake.wildcards.get("experiment", experiment)
    return JobRecord(
        job_id=LOCAL if files.local is not None else files.job_id,
        experiment=experiment,
        rule=rule,
        previous_job=context.previous_job,
        next_job=context.next_job,
        files=[str(path) for path in files.paths()],
    )


# the results folder


def _experiment_paths(
    record: JobRecord, logs: JobLogs, results_override: Path | None, local: LocalJob | None = None
) -> ExperimentPaths | None:
    """The experiment's files: in the results folder given, else the one its logs name, else
    the run directory's (a local run's: its config's results_dir; results/)."""
    if not record.experiment:
        return None
    default = local.place.results_dir if local is not None else logs.run_dir / DEFAULT_RESULTS
    results_dir = results_override or _results_dir_named(logs, record.experiment) or default
    paths = ExperimentPaths.of(results_dir, record.experiment)
    if paths.root.is_dir():
        record.results_dir = str(paths.root)
    return paths


def _results_dir_named(logs: JobLogs, experiment: str) -> Path | None:
    """The results folder of the rule's inputs and outputs, else of a path in the program's lines."""
    found = None
    if logs.snakemake is not None:
        found = parse.results_dir_from(logs.snakemake.outputs + logs.snakemake.inputs, experiment)
    if found is None:
        found = parse.results_dir_from_lines(logs.lines, experiment)
    return _resolve(found, logs.run_dir) if found is not None else None


# training progress and checkpoint


def _is_training(record: JobRecord, progress: parse.Progress) -> bool:
    # a generated job script ("sbatch") always trains
    return record.rule in TRAINING_RULES or record.rule == "sbatch" or progress.training_started


def _exact_progress(
    progress: parse.Progress, paths: ExperimentPaths | None, context: JobContext, local: LocalState | None = None
) -> parse.Progress:
    """The console's progress, made exact by this job's records of metrics.jsonl."""
    if paths is None:
        return progress
    metrics = read_epoch_records(paths.metrics, missing_ok=True)
    if local is not None and local.started is not None:  # a local job: those of its run
        own = parse.records_between(metrics, local.started, None if local.state == "RUNNING" else local.ended)
    else:
        own = _own_records(metrics, progress, context)
    progress = parse.merge_progress(progress, own)
    if progress.epochs_planned is None and metrics:
        progress.epochs_planned = metrics[-1].get("epochs")
    return progress


def _own_records(metrics: list[dict], progress: parse.Progress, context: JobContext) -> list[dict]:
    """The metrics.jsonl records this job wrote: those timed within its run (sacct's start/end),
    else those of the epochs its console shows, else (the latest job of its step) all of them."""
    slurm = context.slurm
    if not metrics:
        return []
    if slurm is not None and slurm.start:
        end = parse.timestamp(slurm.end) if slurm.state not in ACTIVE_STATES else None
        return parse.records_between(metrics, parse.timestamp(slurm.start), end)
    if progress.has_epochs and progress.epochs_this_job:
        first = progress.epochs_done - progress.epochs_this_job + 1
        return [r for r in metrics if first <= r["epoch"] <= progress.epochs_done]
    if context.next_job is None and slurm is None:
        return metrics
    return []


def _last_checkpoint(
    progress: parse.Progress, paths: ExperimentPaths | None, context: JobContext
) -> parse.Checkpoint | None:
    """The last checkpoint this job wrote; for the latest job of its step without one of its own,
    the newest complete one on disk (complete as training checks it: the one a rerun continues from)."""
    if progress.last_checkpoint is not None or paths is None or context.next_job is not None:
        return progress.last_checkpoint
    complete = [found for found in checkpoints_on_disk(paths.checkpoints) if found.state is not None]
    if not complete:
        return None
    newest = complete[-1]
    return parse.Checkpoint(
        str(newest.path), int(newest.state.get("epochs_completed", 0)), int(newest.state.get("step_in_epoch", 0))
    )


def _add_training(
    record: JobRecord,
    progress: parse.Progress,
    checkpoint: parse.Checkpoint | None,
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


# Slurm's view and the state


def _add_slurm_view(record: JobRecord, slurm: SlurmJob | None, logs: JobLogs) -> None:
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


def _add_local_view(
    record: JobRecord, job: LocalJob | None, logs: JobLogs, progress: parse.Progress
) -> LocalState | None:
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


def _add_state(
    record: JobRecord, slurm: SlurmJob | None, logs: JobLogs, progress: parse.Progress, local: LocalState | None = None
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


def _state_label(
    state: str | None, exit_code: int | None, progress: parse.Progress, script: parse.ScriptOutput | None
) -> str:
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


def _cancelled_state(lines: list[parse.LogLine]) -> str | None:
    """The state Slurm's first `*** JOB ... CANCELLED ... ***` line stands for."""
    for line in lines:
        match = CANCEL_MARKER.search(line.text)
        if match and match.group("what") == "JOB":
            why = (match.group("why") or "").upper()
            return next((state for reason, state in CANCEL_REASONS if why.startswith(reason)), "CANCELLED")
    return None


def _script_state(script: parse.ScriptOutput) -> tuple[str | None, int | None]:
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


# diagnosis and tails


def _diagnosis(
    record: JobRecord,
    context: JobContext,
    logs: JobLogs,
    state: str | None,
    progress: parse.Progress,
    checkpoint: parse.Checkpoint | None,
) -> Diagnosis | None:
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
    return record.rule if record.rule not in ("sbatch", parse.SMOKE_RULE) else None


def _earlier_runs(record: JobRecord, context: JobContext, logs: JobLogs, progress: parse.Progress) -> list[EarlierRun]:
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


def _resumed_from(lines: list[parse.LogLine]) -> str | None:
    """The checkpoint a requeued run resumed from (the last `resuming from` line)."""
    found = None
    for line in lines:
        console = CONSOLE.match(line.text)
        if console and (match := RESUMING.match(console.group("message"))):
            found = match.group("path")
    return found


def _tails(files: JobFiles, lines: list[parse.LogLine]) -> dict[str, list[str]]:
    """The last lines of each file that say something (not TensorFlow's start-up chatter)."""
    return {str(path): _tail([line for line in lines if line.path == str(path)]) for path in files.paths()}


def _tail(lines: list[parse.LogLine], count: int = TAIL) -> list[str]:
    kept = [line.text.rstrip() for line in lines if line.text.strip() and not is_noise(line.text)]
    return [text if len(text) <= 240 else text[:237] + "..." for text in kept[-count:]]
