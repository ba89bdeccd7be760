"""Snakemake's logs, read back: a job step's Slurm log (`.snakemake/slurm_logs/...`: the rule's
header, its log file, outputs, how it ended) and a run's own log (`.snakemake/log/<time>.snakemake.log`:
every job of the run, when it started and ended, the host, a Ctrl-C)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from hpcseq.logs.parse.lines import LogLine

# ------------------------------------------------------------------------ Snakemake's Slurm logs


@dataclass
class SnakemakeLog:
    """What a Snakemake job step wrote into `.snakemake/slurm_logs/rule_<rule>/<exp>/<jobid>.log`."""

    rule: str | None = None
    wildcards: dict = field(default_factory=dict)
    log_files: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    finished: bool = False
    error: bool = False
    exit_status: int | None = None
    error_line: LogLine | None = None
    benchmark: str | None = None


RULE_HEADER = re.compile(r"^(?:local)?rule (?P<rule>\w+):$")
RULE_FIELD = re.compile(r"^\s{4}(?P<key>input|output|log|wildcards|jobid|benchmark): (?P<value>.*)$")
NONZERO = re.compile(r"returned non-zero exit status (?P<code>\d+)")
FINISHED = re.compile(r"^Finished jobid: \d+|^\d+ of \d+ steps \(100%\) done")
ERROR_IN_RULE = re.compile(r"^Error in rule (?P<rule>\w+):")


def _split_paths(value: str) -> list[str]:
    return [part.strip() for part in value.split(", ") if part.strip()]


def _read_rule_field(parsed: SnakemakeLog, key: str, value: str) -> None:
    """One `    key: value` line of a rule's header. Snakemake repeats some of them in its `Error in
    rule` block: the first input and output lines count, each log file is kept once."""
    if key == "log":
        value = value.replace(" (check log file(s) for error details)", "")
        for path in _split_paths(value):
            if path not in parsed.log_files:
                parsed.log_files.append(path)
    elif key == "output" and not parsed.outputs:
        parsed.outputs = _split_paths(value)
    elif key == "input" and not parsed.inputs:
        parsed.inputs = _split_paths(value)
    elif key == "wildcards":
        for item in _split_paths(value):
            name, _, wildcard = item.partition("=")
            parsed.wildcards[name] = wildcard
    elif key == "benchmark":
        parsed.benchmark = value.strip()


def parse_snakemake_log(lines: list[LogLine]) -> SnakemakeLog:
    parsed = SnakemakeLog()
    for line in lines:
        text = line.text
        if match := RULE_HEADER.match(text):
            parsed.rule = match.group("rule")
        elif match := RULE_FIELD.match(text):
            _read_rule_field(parsed, match.group("key"), match.group("value"))
        elif FINISHED.match(text):
            parsed.finished = True
        elif ERROR_IN_RULE.match(text):
            parsed.error = True
            parsed.error_line = parsed.error_line or line
        if match := NONZERO.search(text):
            parsed.exit_status = int(match.group("code"))
    return parsed


# ------------------------------------------------------------------------ a Snakemake run's log


@dataclass
class SnakemakeJob:
    """One job of a Snakemake run as the run's own log (.snakemake/log/<time>.snakemake.log) tells it:
    the rule's header when it started, `Finished jobid` or an `Error in rule` block when it ended."""

    jobid: str
    log: SnakemakeLog  # rule, wildcards, log file, outputs; finished, error and exit status
    lines: list[LogLine] = field(default_factory=list)  # its blocks in the run's log
    started: float | None = None
    ended: float | None = None
    slurm_job: str | None = None  # submitted to Slurm (snakemake --profile slurm) as this job

    @property
    def done(self) -> bool:
        return self.log.finished or self.log.error


@dataclass
class SnakemakeRun:
    """A Snakemake run, from its log: where it ran and its jobs."""

    path: str
    host: str | None = None
    jobs: dict[str, SnakemakeJob] = field(default_factory=dict)
    ended: bool = False  # its log has its end (done, failed or stopped on Ctrl-C)
    interrupted: LogLine | None = None  # `Terminating processes on user request` (Ctrl-C)


SNAKEMAKE_TIME = re.compile(r"^\[(?P<time>\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
SNAKEMAKE_HOST = re.compile(r"^\s+Host: (?P<host>\S+)\s*$")
JOBID_FIELD = re.compile(r"^\s{4}jobid: (?P<jobid>\d+)\s*$")
FINISHED_JOB = re.compile(r"^Finished jobid: (?P<jobid>\d+)")
SUBMITTED_TO_SLURM = re.compile(r"^Job (?P<jobid>\d+) has been submitted with SLURM jobid (?P<slurm>\d+)")
RUN_END = re.compile(r"^Complete log\(s\): |^Nothing to be done")
USER_STOP = re.compile(r"^Terminating processes on user request")


def snakemake_time(text: str) -> float | None:
    """Seconds since the epoch of Snakemake's local `Wed Nov 25 14:23:45 2026`."""
    try:
        return time.mktime(time.strptime(" ".join(text.split()), "%a %b %d %H:%M:%S %Y"))
    except ValueError:
        return None


def parse_snakemake_run(lines: list[LogLine]) -> SnakemakeRun:
    """The jobs of a Snakemake run's own log, with the lines that tell of each."""
    run = SnakemakeRun(lines[0].path if lines else "")
    when: float | None = None
    block: list[LogLine] = []
    exit_status: int | None = None  # `Command ... returned non-zero exit status N` before its error block
    for line in [*lines, LogLine(run.path, 0, "")]:  # an empty line at the end closes the last block
        text = line.text
        if block and text.startswith("    "):
            block.append(line)
            continue
        if block:
            exit_status = _add_block(run, block, when, exit_status)
            block = []
        if match := SNAKEMAKE_TIME.match(text):
            when = snakemake_time(match.group("time"))
        elif RULE_HEADER.match(text) or ERROR_IN_RULE.match(text):
            block = [line]
        else:
            exit_status = _read_run_line(run, line, when, exit_status)
    return run


def _read_run_line(run: SnakemakeRun, line: LogLine, when: float | None, exit_status: int | None) -> int | None:
    """A line of a Snakemake run's log outside the jobs' blocks; returns the exit status pending."""
    text = line.text
    if match := FINISHED_JOB.match(text):
        job = run.jobs.get(match.group("jobid"))
        if job is not None:
            job.log.finished, job.ended = True, when
            job.lines.append(line)
    elif match := SUBMITTED_TO_SLURM.match(text):
        job = run.jobs.get(match.group("jobid"))
        if job is not None:
            job.slurm_job = match.group("slurm")
    elif match := NONZERO.search(text):
        return int(match.group("code"))
    elif match := SNAKEMAKE_HOST.match(text):
        run.host = run.host or match.group("host")
    elif RUN_END.match(text):
        run.ended = True
    elif USER_STOP.match(text):
        run.interrupted = line
        for job in run.jobs.values():
            if not job.done:
                job.lines.append(line)
    return exit_status


def _add_block(run: SnakemakeRun, block: list[LogLine], when: float | None, exit_status: int | None) -> int | None:
    """A rule's header (a job started) or an `Error in rule` block (it failed); returns the exit
    status still pending."""
    jobid = next((m.group("jobid") for line in block if (m := JOBID_FIELD.match(line.text))), None)
    if jobid is None:
        return exit_status
    parsed = parse_snakemake_log(block)
    if not parsed.error:
        run.jobs[jobid] = SnakemakeJob(jobid, parsed, list(block), started=when)
        return exit_status
    job = run.jobs.setdefault(jobid, SnakemakeJob(jobid, parsed))
    job.log.error, job.log.error_line = True, block[0]
    job.log.exit_status = exit_status if exit_status is not None else job.log.exit_status
    job.ended = when
    job.lines += block
    return None
