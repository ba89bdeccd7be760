"""`hpcseq logs`: which jobs ran, which wait and why, how far training got, its metrics and speed,
and for a failed job the cause with its evidence and the next step.

    sources   finds the files of each job and asks sacct/squeue (optional)
    parse     reads console lines, Snakemake's logs, the job script's lines, metrics.jsonl
    diagnose  turns log lines and Slurm's state into a Diagnosis
    report    JobRecord, table / detail / JSON, --follow
This module puts them together: collect() gives one JobRecord per job.
No TensorFlow here: it runs in the workflow environment and on login nodes.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from hpcseq.records import checkpoints_on_disk, read_epoch_records, read_rank_reports
from hpcseq.logs import diagnose as diagnose_module
from hpcseq.logs import parse
from hpcseq.logs.render import JobRecord, follow, render_detail, render_json, render_table
from hpcseq.logs.sources import (
    JOB_ID,
    JobFiles,
    LogsError,
    Slurm,
    SlurmJob,
    discover,
    files_from_slurm,
    files_of_path,
    job_id_key,
    script_of,
)

__all__ = ["JobRecord", "LogsError", "collect", "main"]

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
TAIL = 12
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TRAINING_RULES = ("train",)


@dataclass
class Targets:
    run_dirs: list[Path] = field(default_factory=list)  # where files are looked for
    named_dirs: bool = False  # run directories were named: show all their jobs
    files: list[JobFiles] = field(default_factory=list)
    job_ids: list[str] = field(default_factory=list)


def classify(targets: list[str], cwd: Path) -> Targets:
    """Job ids, log files and run directories of the command line (none: the current directory)."""
    found = Targets()
    for target in targets:
        path = Path(target)
        if JOB_ID.match(target) and not path.exists():
            found.job_ids.append(target)
        elif path.is_dir():
            found.run_dirs.append(path)
        elif path.is_file():
            files = files_of_path(path)
            if files is None:
                raise LogsError(
                    f"{target}: not a Slurm log hpcseq knows (<job>_out.<id>, <job>_err.<id>, "
                    ".snakemake/slurm_logs/rule_<rule>/<experiment>/<id>.log)"
                )
            found.files.append(files)
        else:
            raise LogsError(f"{target}: neither a job id nor an existing file or directory")
    found.named_dirs = bool(found.run_dirs) or not targets
    if not found.run_dirs:
        found.run_dirs.append(cwd)
    return found


# ----------------------------------------------------------------------------------- assembly


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


def _state_from_files(
    lines: list[parse.LogLine], snakemake: parse.SnakemakeLog | None, script: parse.ScriptOutput | None
) -> tuple[str | None, int | None]:
    """(Slurm-like state, exit code) from the files alone, for when sacct and squeue are missing."""
    for line in lines:
        match = diagnose_module.CANCEL_MARKER.search(line.text)
        if match and match.group("what") == "JOB":
            why = (match.group("why") or "").upper()
            if why.startswith("TIME LIMIT"):
                return "TIMEOUT", None
            if why.startswith("NODE FAILURE"):
                return "NODE_FAIL", None
            if why.startswith("PREEMPTION"):
                return "PREEMPTED", None
            return "CANCELLED", None
    if any(diagnose_module.HOST_OOM.search(line.text) for line in lines):
        return "OUT_OF_MEMORY", None
    if snakemake is not None:
        if snakemake.error:
            return "FAILED", snakemake.exit_status
        if snakemake.finished:
            return "COMPLETED", 0
    if script is not None:
        if script.done:
            return "COMPLETED", 0
        if script.requeue_line is not None:
            return "REQUEUED", 0
        if script.training_exit_code is not None:
            return "FAILED", script.training_exit_code
    return None, None


def _resolve(path_text: str, run_dir: Path) -> Path:
    path = Path(path_text)
    return path if path.is_absolute() else run_dir / path


def _tail(lines: list[parse.LogLine], count: int = TAIL) -> list[str]:
    kept = [line.text.rstrip() for line in lines if line.text.strip() and not diagnose_module.is_noise(line.text)]
    return [text if len(text) <= 240 else text[:237] + "..." for text in kept[-count:]]


@dataclass
class JobContext:
    """One job's files and Slurm record, plus its place among the attempts of the same step."""

    files: JobFiles
    slurm: SlurmJob | None
    previous_job: str | None = None
    next_job: str | None = None
    owns_rule_log: bool = True


def build_record(context: JobContext, results_override: Path | None, default_dir: Path) -> JobRecord:
    files, slurm = context.files, context.slurm
    run_dir = _run_dir_of(files, default_dir)
    record = JobRecord(
        job_id=files.job_id,
        experiment=files.experiment,
        rule=files.rule if files.slurm_log else ("sbatch" if files.out or files.err else None),
        previous_job=context.previous_job,
        next_job=context.next_job,
    )
    # the files and their lines: program output first, then Slurm's / Snakemake's
    snakemake_log = None
    slurm_lines: list[parse.LogLine] = []
    program_lines: list[parse.LogLine] = []
    if files.slurm_log is not None:
        slurm_lines = parse.read_lines(files.slurm_log)
        snakemake_log = parse.parse_snakemake_log(slurm_lines)
        record.rule = snakemake_log.rule or record.rule
        record.experiment = snakemake_log.wildcards.get("experiment", record.experiment)
        if context.owns_rule_log and snakemake_log.log_files:
            rule_log = _resolve(snakemake_log.log_files[0], run_dir)
            if rule_log.is_file() and _written_during(rule_log, slurm):
                files.rule_log = rule_log
        if files.rule_log is not None:
            program_lines = parse.read_lines(files.rule_log)
    if files.out is not None:
        program_lines += parse.read_lines(files.out)
    err_lines = parse.read_lines(files.err) if files.err is not None else []
    slurm_lines += err_lines
    lines = program_lines + slurm_lines
    record.files = [str(path) for path in files.paths()]
    # the generated script prints its start and requeue lines to stdout, a training failure to stderr
    script_output = parse.parse_script_output(program_lines + err_lines) if files.out is not None else None

    # progress: console lines, made exact by this job's records of metrics.jsonl
    progress = parse.console_progress(lines)
    training = record.rule in TRAINING_RULES or record.rule == "sbatch" or progress.training_started
    experiment = record.experiment
    results_dir = None
    if experiment:
        results_dir = results_override
        if results_dir is None and snakemake_log is not None:
            found = parse.results_dir_from(snakemake_log.outputs + snakemake_log.inputs, experiment)
            results_dir = _resolve(found, run_dir) if found else None
        if results_dir is None:
            found = parse.results_dir_from_lines(lines, experiment)
            results_dir = _resolve(found, run_dir) if found else None
        if results_dir is None:
            results_dir = run_dir / "results"
        if (results_dir / experiment).is_dir():
            record.results_dir = str(results_dir / experiment)
    model_dir = results_dir / experiment / "model" if results_dir is not None and experiment else None
    if training and model_dir is not None:
        metrics = read_epoch_records(model_dir / "metrics.jsonl", missing_ok=True)
        own = _own_records(metrics, progress, slurm, context)
        progress = parse.merge_progress(progress, own)
        if progress.epochs_planned is None and metrics:
            progress.epochs_planned = metrics[-1].get("epochs")
    # the last checkpoint this job wrote; for the latest job of its step without one of its own,
    # the newest complete one on disk: the one a rerun continues from
    checkpoint = progress.last_checkpoint
    if checkpoint is None and training and model_dir is not None and context.next_job is None:
        complete = [(found.path, found.state) for found in checkpoints_on_disk(model_dir / "checkpoints") if found.state]
        if complete:
            path, state = complete[-1]
            checkpoint = parse.Checkpoint(
                str(path), int(state.get("epochs_completed", 0)), int(state.get("step_in_epoch", 0)), True
            )
    if checkpoint is not None:
        record.checkpoint, record.checkpoint_path = checkpoint.describe(), checkpoint.path
    if training:
        record.epochs_done, record.epochs_planned = progress.epochs_done, progress.epochs_planned
        record.loss, record.val_loss = progress.loss, progress.val_loss
        record.accuracy, record.val_accuracy = progress.accuracy, progress.val_accuracy
        record.samples_per_second, record.epoch_seconds = progress.samples_per_second, progress.epoch_seconds
        record.epochs_this_job, record.progress_from = progress.epochs_this_job, progress.source
        record.ranks = progress.ranks

    # Slurm's view, else the files'
    state, exit_code = (
        (slurm.state, slurm.exit_code) if slurm is not None else _state_from_files(lines, snakemake_log, script_output)
    )
    if slurm is not None:
        record.slurm_state = slurm.state
        record.elapsed_seconds, record.limit_seconds = slurm.elapsed_seconds, slurm.limit_seconds
        record.nodes, record.node_list, record.gpus = slurm.nodes, slurm.node_list, slurm.gpus
        record.submitted, record.started, record.ended = slurm.submit, slurm.start, slurm.end
        record.expected_start = slurm.expected_start
        record.runs = 1 + len(slurm.earlier_runs)
        step = slurm.training_step
        if training and record.ranks is None and step is not None:
            record.ranks = step.tasks
        if slurm.earlier_runs:
            record.notes.append(
                "earlier runs under this id: "
                + ", ".join(
                    f"{run.state} (started {run.start or '-'}, ended {run.end or '-'})" for run in slurm.earlier_runs
                )
            )
    elif script_output is not None and script_output.nodes:
        record.node_list = script_output.nodes
    if snakemake_log is not None and snakemake_log.exit_status is not None:
        exit_code = snakemake_log.exit_status  # the rule's command; the job step itself exits 1
    record.exit_code = exit_code
    if training and model_dir is not None:
        reports = [r for r in read_rank_reports(model_dir / "ranks") if str(r.get("slurm", {}).get("SLURM_JOB_ID")) == files.job_id]
        if reports:
            record.ranks = record.ranks or len(reports)
            gpus = {r.get("gpu") for r in reports if r.get("gpu") is not None}
            if record.gpus is None and gpus:
                record.gpus = len(gpus)
    record.state = STATE_LABELS.get(state or "", (state or "unknown").lower())
    if state == "FAILED" and (exit_code == diagnose_module.REQUEUE_EXIT_CODE or progress.stopped_on == "SIGUSR1"):
        record.state = "requeued"  # checkpointed before the time limit; Snakemake resubmits it
    if script_output is not None and script_output.requeue_line is not None and state in (None, "REQUEUED"):
        record.state = "requeued"
    if record.state == "pending":
        record.reason = slurm.reason if slurm is not None else None
        record.reason_text = diagnose_module.pending_reason(record.reason)
    if state == "CANCELLED" and slurm is not None and slurm.cancelled_by:
        record.reason = slurm.cancelled_by
    if state is None:
        record.notes.append(
            "no end of the job in its files and no answer from sacct/squeue: it is still "
            "running, or ended without a trace"
        )

    facts = diagnose_module.Facts(
        lines=lines,
        state=state,
        cancelled_by=slurm.cancelled_by if slurm else None,
        exit_code=exit_code,
        job_id=files.job_id,
        experiment=experiment,
        rule=record.rule if record.rule != "sbatch" else None,
        script=script_of(slurm) if slurm is not None else None,
        checkpoint=checkpoint,
        epochs_done=record.epochs_done,
        epochs_planned=record.epochs_planned,
        training_started=progress.training_started,
        training_output=bool(program_lines) or files.rule is None,
        next_job=context.next_job,
        limit_seconds=record.limit_seconds,
        nodes=record.node_list,
    )
    record.diagnosis = diagnose_module.diagnose(facts)
    for path in files.paths():
        tail = _tail([line for line in lines if line.path == str(path)])
        record.last_lines[str(path)] = tail
    return record


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


def _own_records(
    metrics: list[dict], progress: parse.Progress, slurm: SlurmJob | None, context: JobContext
) -> list[dict]:
    """The metrics.jsonl records this job wrote: those timed within its run (sacct's start/end),
    else those of the epochs its console shows, else (the latest job of its step) all of them."""
    if not metrics:
        return []
    if slurm is not None and slurm.start:
        end = parse.timestamp(slurm.end) if slurm.state not in diagnose_module.ACTIVE_STATES else None
        return parse.records_between(metrics, parse.timestamp(slurm.start), end)
    if progress.has_epochs and progress.epochs_this_job:
        first = progress.epochs_done - progress.epochs_this_job + 1
        return [r for r in metrics if first <= r["epoch"] <= progress.epochs_done]
    if context.next_job is None and slurm is None:
        return metrics
    return []


def _chains(contexts: dict[str, JobContext]) -> None:
    """Attempts of the same step (Snakemake retries of a rule for an experiment; resubmissions of a
    job script) in job id order: each knows the one before and after; only the latest started one
    owns the rule's log file, which every attempt overwrites."""
    groups: dict[tuple, list[JobContext]] = {}
    for context in contexts.values():
        files = context.files
        key = (
            files.kind,
            files.rule,
            files.experiment,
            str(
                files.slurm_log.parent
                if files.slurm_log
                else (files.out or files.err).parent
                if (files.out or files.err)
                else ""
            ),
        )
        groups.setdefault(key, []).append(context)
    for members in groups.values():
        members.sort(key=lambda c: job_id_key(c.files.job_id))
        for before, after in zip(members, members[1:]):
            before.next_job, after.previous_job = after.files.job_id, before.files.job_id
        started = [c for c in members if c.slurm is None or c.slurm.state not in ("PENDING", "REQUEUE_HOLD")]
        owner = started[-1] if started else None
        for context in members:
            context.owns_rule_log = context is owner


def collect(
    targets: list[str], results_dir: Path | None = None, slurm: Slurm | None = None, cwd: Path | None = None
) -> tuple[list[JobRecord], list[str]]:
    """One JobRecord per job named by `targets` (job ids, log files, run directories)."""
    slurm = slurm or Slurm()
    cwd = cwd or Path.cwd()
    wanted = classify(targets, cwd)
    notes: list[str] = []
    found: dict[str, JobFiles] = {}
    for run_dir in wanted.run_dirs:
        found.update(discover(run_dir))
    for files in wanted.files:
        found[files.job_id] = files
    shown = dict(found) if wanted.named_dirs else {}
    shown.update({job_id: found[job_id] for job_id in wanted.job_ids if job_id in found})
    shown.update({files.job_id: files for files in wanted.files})
    ids = sorted(set(shown) | set(wanted.job_ids), key=job_id_key)
    answer = slurm.query(ids)
    notes += answer.notes
    for job_id in wanted.job_ids:
        if job_id in shown:
            continue
        known = answer.jobs.get(job_id)
        located = files_from_slurm(known) if known is not None else None
        if located is not None:
            shown[job_id] = located
        elif known is not None:
            # a Snakemake job's name is the run's UUID, a generated script's the experiment
            name = known.name if known.name and not UUID.match(known.name) else None
            shown[job_id] = JobFiles(job_id, experiment=name)
            if known.state not in ("PENDING", "REQUEUE_HOLD"):
                notes.append(
                    f"job {job_id}: no log files found (looked in {', '.join(map(str, wanted.run_dirs))} "
                    "and where Slurm says it wrote them)"
                )
        else:
            places = ", ".join(str(d) for d in wanted.run_dirs)
            raise LogsError(
                f"job {job_id}: no log files in {places}, and "
                + ("Slurm does not know it" if answer.sacct_ok else "sacct/squeue could not tell")
                + " (give the run directory or the log file)"
            )
    contexts = {job_id: JobContext(files, answer.jobs.get(job_id)) for job_id, files in shown.items()}
    _chains(contexts)
    records = [
        build_record(contexts[job_id], results_dir, wanted.run_dirs[0]) for job_id in sorted(contexts, key=job_id_key)
    ]
    return records, notes


# ------------------------------------------------------------------------------------ command


def main(args) -> int:
    """The `hpcseq logs` subcommand (arguments from cli.py)."""
    targets = list(args.targets or [])
    if args.interval <= 0:
        raise LogsError(f"--interval {args.interval:g}: give a number of seconds above 0")
    detail = len(targets) == 1 and JOB_ID.match(targets[0]) is not None and not Path(targets[0]).exists()
    slurm = Slurm()

    def gather():
        return collect(targets, results_dir=args.results_dir, slurm=slurm)

    if args.json:
        render = lambda records, notes: render_json(records, notes)
    elif detail:
        render = lambda records, notes: "".join(render_detail(record, notes) for record in records)
    else:
        render = render_table
    if args.follow:
        try:
            follow(gather, render, args.interval)
        except KeyboardInterrupt:
            sys.stdout.write("\n")
        return 0
    records, notes = gather()
    sys.stdout.write(render(records, notes))
    return 0
