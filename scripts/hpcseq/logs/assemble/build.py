"""One job's record, step by step: its files and lines, the results folder, its training
progress and checkpoint, Slurm's view and its state, the diagnosis and the last lines of each file."""

from __future__ import annotations

from pathlib import Path

from hpcseq.events import SMOKE_JOB_NAME
from hpcseq.logs.assemble.diagnosis import diagnosis_of, earlier_runs_of
from hpcseq.logs.assemble.job_logs import JobContext, JobLogs, read_logs, resolve
from hpcseq.logs.assemble.state import add_local_view, add_slurm_view, add_state
from hpcseq.logs.assemble.training import add_training, exact_progress, is_training, last_checkpoint
from hpcseq.logs.diagnose import is_noise
from hpcseq.logs.local import FOLDER_DEFAULTS, LOCAL, LocalJob
from hpcseq.logs.parse.job_script import SMOKE_RULE
from hpcseq.logs.parse.lines import LogLine, results_dir_from, results_dir_from_lines
from hpcseq.logs.parse.progress import console_progress
from hpcseq.logs.record import JobRecord
from hpcseq.logs.sources.files import JobFiles
from hpcseq.paths import ExperimentPaths

TAIL = 12  # the last lines of each file shown


def build_record(context: JobContext, results_override: Path | None, default_dir: Path) -> JobRecord:
    """One job's record: what its files say, where its results are, Slurm's view, how far its
    training got and its last checkpoint, its state, the cause of its end and its files' last lines."""
    logs = read_logs(context, default_dir)
    record = _new_record(context, logs)
    paths = _experiment_paths(record, logs, results_override, context.files.local)
    progress = console_progress(logs.lines)
    add_slurm_view(record, context.slurm, logs)
    local = add_local_view(record, context.files.local, logs, progress)
    checkpoint = None
    if is_training(record, progress):
        progress = exact_progress(progress, paths, context, local)
        checkpoint = last_checkpoint(progress, paths, context)
        add_training(record, progress, checkpoint, context.slurm, paths)
    state = add_state(record, context.slurm, logs, progress, local)
    record.diagnosis = diagnosis_of(record, context, logs, state, progress, checkpoint)
    if logs.script is not None:
        record.smoke_checks = [line.text.strip() for line in logs.script.smoke]
    record.earlier_runs = earlier_runs_of(record, context, logs, progress)
    record.last_lines = _tails(context.files, logs.lines)
    return record


def _new_record(context: JobContext, logs: JobLogs) -> JobRecord:
    files = context.files
    rule = files.rule if files.slurm_log or files.local else ("sbatch" if files.out or files.err else None)
    experiment = files.experiment
    if rule == "sbatch" and experiment == SMOKE_JOB_NAME:  # `hpcseq smoke-test`'s job: no experiment
        rule, experiment = SMOKE_RULE, None
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
    # the config's results_dir, else its default (relative to the run directory)
    default = local.place.results_dir if local is not None else logs.run_dir / FOLDER_DEFAULTS["results_dir"]
    results_dir = results_override or _results_dir_named(logs, record.experiment) or default
    paths = ExperimentPaths.of(results_dir, record.experiment)
    if paths.root.is_dir():
        record.results_dir = str(paths.root)
    return paths


def _results_dir_named(logs: JobLogs, experiment: str) -> Path | None:
    """The results folder of the rule's inputs and outputs, else of a path in the program's lines."""
    found = None
    if logs.snakemake is not None:
        found = results_dir_from(logs.snakemake.outputs + logs.snakemake.inputs, experiment)
    if found is None:
        found = results_dir_from_lines(logs.lines, experiment)
    return resolve(found, logs.run_dir) if found is not None else None


# the last lines


def _tails(files: JobFiles, lines: list[LogLine]) -> dict[str, list[str]]:
    """The last lines of each file that say something (not TensorFlow's start-up chatter)."""
    return {str(path): _tail([line for line in lines if line.path == str(path)]) for path in files.paths()}


def _tail(lines: list[LogLine], count: int = TAIL) -> list[str]:
    kept = [line.text.rstrip() for line in lines if line.text.strip() and not is_noise(line.text)]
    return [text if len(text) <= 240 else text[:237] + "..." for text in kept[-count:]]
