"""One job's files, read: its place among the attempts of its step (JobContext), the lines of its
files and what Snakemake's log of it says (JobLogs), the directory it ran in, and whether the
rule's log file (which every attempt overwrites) holds its output."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hpcseq.logs.local import LocalJob
from hpcseq.logs.parse.job_script import ScriptOutput, parse_script_output
from hpcseq.logs.parse.lines import LogLine, read_lines
from hpcseq.logs.parse.progress import timestamp
from hpcseq.logs.parse.snakemake_logs import SnakemakeLog, parse_snakemake_log
from hpcseq.logs.sources.accounting import SlurmJob
from hpcseq.logs.sources.files import JobFiles


@dataclass
class JobContext:
    """One job's files and Slurm record, plus its place among the attempts of the same step."""

    files: JobFiles
    slurm: SlurmJob | None
    previous_job: str | None = None
    next_job: str | None = None
    owns_rule_log: bool = True


@dataclass
class JobLogs:
    """What one job's files hold."""

    run_dir: Path  # where the job ran: relative paths in its lines start there
    program: list[LogLine]  # the program's own output: the rule's log file, <job>_out.<id>
    snakemake_lines: list[LogLine]  # Snakemake's Slurm log of the job
    errors: list[LogLine]  # <job>_err.<id>
    snakemake: SnakemakeLog | None
    script: ScriptOutput | None  # the generated job script's own lines

    @property
    def lines(self) -> list[LogLine]:
        """Every line: program output first, then Snakemake's and Slurm's."""
        return self.program + self.snakemake_lines + self.errors


def read_logs(context: JobContext, default_dir: Path) -> JobLogs:
    """The lines of a job's files, and what Snakemake's log of it and the job script's own lines say."""
    files = context.files
    if files.local is not None:
        return _read_local_logs(files.local)
    run_dir = _run_dir_of(files, default_dir)
    snakemake, snakemake_lines, program = None, [], []
    if files.slurm_log is not None:
        snakemake_lines = read_lines(files.slurm_log)
        snakemake = parse_snakemake_log(snakemake_lines)
        _claim_rule_log(context, snakemake, run_dir)
        if files.rule_log is not None:
            program = read_lines(files.rule_log)
    if files.out is not None:
        program += read_lines(files.out)
    errors = read_lines(files.err) if files.err is not None else []
    # the generated script prints its start and requeue lines to stdout, a training failure to stderr
    script = parse_script_output(program + errors) if files.out is not None else None
    return JobLogs(run_dir, program, snakemake_lines, errors, snakemake, script)


def _read_local_logs(job: LocalJob) -> JobLogs:
    """A local job's rule log, and its lines in Snakemake's log of the run (the rule, its outputs,
    how it ended)."""
    program = read_lines(job.rule_log)
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


def _claim_rule_log(context: JobContext, snakemake: SnakemakeLog, run_dir: Path) -> None:
    """The rule's log file becomes this job's when it is the latest attempt and the file was
    written while it ran."""
    if context.owns_rule_log and snakemake.log_files:
        rule_log = resolve(snakemake.log_files[0], run_dir)
        if rule_log.is_file() and _written_during(rule_log, context.slurm):
            context.files.rule_log = rule_log


def resolve(path: str | Path, run_dir: Path) -> Path:
    """A path that a job's lines name, from the directory it ran in when relative."""
    path = Path(path)
    return path if path.is_absolute() else run_dir / path


def _written_during(path: Path, slurm: SlurmJob | None) -> bool:
    """Whether a rule's log file (overwritten by each attempt) can hold this job's output: not
    last written before the job started, nor well after it ended (then a later attempt, or a
    later run, wrote it)."""
    if slurm is None or not slurm.start:
        return True
    started = timestamp(slurm.start)
    ended = timestamp(slurm.end) if slurm.end else None
    try:
        written = path.stat().st_mtime
    except OSError:
        return False
    if started is not None and written < started - 5:
        return False
    return ended is None or written <= ended + 10  # the end of a failed attempt is also in its Slurm log
