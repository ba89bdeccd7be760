"""What the programs wrote, read back: lines of log files, hpcseq's console lines (progress,
checkpoints, errors), the generated job script's own lines, Snakemake's per-job Slurm logs and
the per-epoch metrics file. Pure functions of text, so tests feed them excerpts.

Progress comes first from `metrics.jsonl` (exact numbers, one JSON line per epoch, written by
rank 0) and from the console epoch lines where the file is not there; progress bars are never
scraped (training runs with verbose=0).
"""

from __future__ import annotations

import calendar
import re
import statistics
import time
from dataclasses import dataclass, field, fields
from pathlib import Path

from hpcseq import events
from hpcseq.events import CONSOLE, parse_metrics_text
from hpcseq.paths import results_dir_of
from hpcseq.records import checkpoint_position

# horovodrun (`[1]<stderr>:`) and mpirun --tag-output (`[1,1]<stderr>:`) put the rank in front
# of every line; the rank is kept, the prefix dropped.
RANK_PREFIX = re.compile(r"^\[(?:\d+,)?(?P<rank>\d+)\]<(?:stdout|stderr)>:")

ACCURACY_KEYS = ("accuracy", "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy")


@dataclass(frozen=True)
class LogLine:
    """One line of a log file: where it is (1-based line number) and its text without rank prefix."""

    path: str
    number: int
    text: str
    rank: int | None = None


def lines_from_text(text: str, path: str = "<text>") -> list[LogLine]:
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        raw = raw.rstrip("\r")
        match = RANK_PREFIX.match(raw)
        if match:
            lines.append(LogLine(path, number, raw[match.end() :], int(match.group("rank"))))
        else:
            lines.append(LogLine(path, number, raw))
    return lines


def read_lines(path: str | Path, limit_bytes: int = 64 << 20) -> list[LogLine]:
    """The lines of a log file (its last `limit_bytes` if huge); [] if it is missing or unreadable."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            skipped = max(0, size - limit_bytes)
            handle.seek(skipped)
            data = handle.read()
    except OSError:
        return []
    text = data.decode("utf-8", errors="replace")
    if skipped:  # line numbers count from the part read; say so in the path
        text = text.split("\n", 1)[-1]
        return lines_from_text(text, f"{path} (last {limit_bytes >> 20} MiB)")
    return lines_from_text(text, str(path))


# ------------------------------------------------------------------------------- console lines


@dataclass
class Checkpoint:
    """A checkpoint a job wrote (its console says so) or, for the latest job, the newest complete one on disk."""

    path: str
    epochs_completed: int
    step_in_epoch: int

    def describe(self) -> str:
        steps = f" + {self.step_in_epoch} steps of epoch {self.epochs_completed + 1}" if self.step_in_epoch else ""
        return f"epoch {self.epochs_completed}{steps}"


@dataclass
class TrainingProgress:
    """How far one job's training got and how it went: the numbers `hpcseq logs` shows of it."""

    epochs_done: int | None = None
    epochs_planned: int | None = None
    loss: float | None = None
    val_loss: float | None = None
    accuracy: float | None = None
    val_accuracy: float | None = None
    samples_per_second: float | None = None  # median over this job's epochs (the first one compiles)
    epoch_seconds: float | None = None  # median
    epochs_this_job: int = 0
    source: str | None = None  # "metrics.jsonl" or "console"

    @property
    def has_epochs(self) -> bool:
        return self.epochs_done is not None


@dataclass
class Progress(TrainingProgress):
    """TrainingProgress and what else one job's console lines tell: ranks, resume, checkpoints, end."""

    ranks: int | None = None
    launcher: str | None = None
    host: str | None = None
    device: str | None = None
    rank_hosts: list[str] | None = None  # each rank's host, in rank order (RANKS_ON_HOSTS)
    resumed_from_epoch: int | None = None
    last_checkpoint: Checkpoint | None = None
    finished: bool = False  # "done: final model ..."
    stopped_on: str | None = None  # SIGUSR1/SIGTERM: checkpointed and stopped
    training_started: bool = False

    def training(self) -> TrainingProgress:
        """The TrainingProgress part alone (what a job's record keeps)."""
        return TrainingProgress(**{item.name: getattr(self, item.name) for item in fields(TrainingProgress)})


def _accuracy(values: dict, prefix: str = "") -> float | None:
    for key in ACCURACY_KEYS:
        if prefix + key in values and values[prefix + key] is not None:
            return float(values[prefix + key])
    return None


def _apply_epochs(progress: Progress, epochs: list[dict], source: str) -> None:
    if not epochs:
        return
    last = epochs[-1]
    progress.epochs_done = int(last["epoch"])
    progress.epochs_planned = int(last["epochs"]) if last.get("epochs") is not None else progress.epochs_planned
    progress.loss = last.get("loss")
    progress.val_loss = last.get("val_loss")
    progress.accuracy = _accuracy(last)
    progress.val_accuracy = _accuracy(last, "val_")
    speeds = [e["samples_per_second"] for e in epochs if e.get("samples_per_second")]
    progress.samples_per_second = statistics.median(speeds) if speeds else None
    seconds = [e["epoch_seconds"] for e in epochs if e.get("epoch_seconds") is not None]
    progress.epoch_seconds = statistics.median(seconds) if seconds else None
    progress.epochs_this_job = len(epochs)
    progress.source = source


def console_epochs(lines: list[LogLine]) -> list[dict]:
    """The epoch lines of hpcseq train as records shaped like metrics.jsonl's (4 decimals)."""
    epochs = []
    for line in lines:
        console = CONSOLE.match(line.text)
        if not console or console.group("stage") != "train":
            continue
        match = events.EPOCH_DONE.match(console.group("message"))
        if match:
            record = {
                "epoch": int(match.group("epoch")),
                "epochs": int(match.group("epochs")),
                **parse_metrics_text(match.group("metrics")),
                "samples_per_second": float(match.group("sps")),
                "epoch_seconds": float(match.group("seconds")),
                "time": console.group("time"),
                "line": line,
            }
            epochs.append(record)
    return epochs


def console_progress(lines: list[LogLine]) -> Progress:
    """Progress as the console lines tell it (epochs, checkpoints, resume, end, signal stop)."""
    progress = Progress()
    for line in lines:
        console = CONSOLE.match(line.text)
        if console and console.group("stage") == "train":
            progress.training_started = True
            message = console.group("message")
            if console.group("size"):
                progress.ranks = int(console.group("size"))
            if match := events.EXPERIMENT_STARTED.match(message):
                progress.ranks = int(match.group("ranks"))
                progress.launcher, progress.host = match.group("launcher"), match.group("host")
                progress.device = match.group("device")
            elif match := events.RANKS_ON_HOSTS.match(message):
                progress.rank_hosts = events.parse_rank_hosts(match.group("ranks"))
            elif match := events.RESUMING.match(message):
                progress.resumed_from_epoch = int(match.group("done"))
                progress.epochs_planned = int(match.group("epochs"))
            elif match := events.CHECKPOINT_WRITTEN.match(message):
                position = checkpoint_position(match.group("path"))
                if position:
                    progress.last_checkpoint = Checkpoint(match.group("path"), *position)
            elif events.TRAINING_DONE.match(message):
                progress.finished = True
            continue
        error = events.STAGE_ERROR.match(line.text)
        if error and error.group("stage") == "train":
            stopped = events.STOPPED_ON_SIGNAL.search(error.group("message"))
            if stopped:
                progress.stopped_on = stopped.group("signal")
                _checkpoint_of_stop(progress, stopped.group("checkpoint"))
    _apply_epochs(progress, console_epochs(lines), "console")
    return progress


def _checkpoint_of_stop(progress: Progress, path: str) -> None:
    """The checkpoint that a signal stop names (`stopped on SIGUSR1 after writing checkpoint <path>`),
    where no console line said so (a rule's log tail in a Slurm log can begin after it)."""
    position = checkpoint_position(path)
    if position and progress.last_checkpoint is None:
        progress.last_checkpoint = Checkpoint(path, *position)


# ------------------------------------------------------------------------------- metrics.jsonl


def timestamp(text: str | None) -> float | None:
    """Seconds since the epoch of sacct's local `2026-11-22T11:04:38`, metrics' `...+0000` or a console
    line's `2026-11-22 11:04:38`; None if absent or unparsable."""
    if not text or text in ("Unknown", "None", "N/A"):
        return None
    text = text.strip().replace(" ", "T", 1)
    for pattern in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S"):
        try:
            parsed = time.strptime(text, pattern)
        except ValueError:
            continue
        if pattern.endswith("%z"):
            return calendar.timegm(parsed) - parsed.tm_gmtoff
        return time.mktime(parsed)
    return None


def records_between(records: list[dict], start: float | None, end: float | None, slack: float = 2.0) -> list[dict]:
    """The metrics records written between a job's start and end (its own epochs)."""
    chosen = []
    for record in records:
        when = timestamp(record.get("time"))
        if when is None or start is None:
            continue
        if when >= start - slack and (end is None or when <= end + slack):
            chosen.append(record)
    return chosen


def merge_progress(console: Progress, records: list[dict]) -> Progress:
    """Console progress with its epoch numbers replaced by the exact metrics records, if any."""
    if records:
        _apply_epochs(console, records, "metrics.jsonl")
    return console


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


# ------------------------------------------------------------------- the generated job script


# What `hpcseq logs` calls the job of `hpcseq smoke-test` (its rule column; job name events.SMOKE_JOB_NAME).
SMOKE_RULE = "smoke-test"


@dataclass
class ScriptOutput:
    """What the generated sbatch script itself printed (start, requeue, training failure, done),
    and for the smoke test its result lines (events.SMOKE_CHECK)."""

    job_id: str | None = None
    nodes: str | None = None
    restarts: int | None = None
    started: str | None = None
    requeue_line: LogLine | None = None
    training_exit_code: int | None = None
    done: bool = False
    smoke: list[LogLine] = field(default_factory=list)

    @property
    def smoke_failed(self) -> bool:
        return any(events.SMOKE_CHECK.search(line.text).group("result") == "FAIL" for line in self.smoke)


def parse_script_output(lines: list[LogLine]) -> ScriptOutput:
    output = ScriptOutput()
    for line in lines:
        text = line.text
        if match := events.SCRIPT_START.match(text):
            output.job_id, output.nodes = match.group("job"), match.group("nodes")
            output.restarts, output.started = int(match.group("restart")), match.group("time")
            # a requeued job appends to the same files: what counts is its latest run
            output.requeue_line, output.training_exit_code, output.done = None, None, False
            output.smoke = []
        elif events.SCRIPT_REQUEUE.search(text):
            output.requeue_line = line
        elif match := events.SCRIPT_TRAINING_FAILED.match(text):
            output.training_exit_code = int(match.group("code"))
        elif events.SCRIPT_DONE.match(text):
            output.done = True
        elif events.SMOKE_CHECK.search(text):
            output.smoke.append(line)
    return output


def results_dir_from(paths: list[str], experiment: str) -> Path | None:
    """The results folder of the first path that lies under one (`<results>/<experiment>/model/...`;
    the layout is paths.py's)."""
    for path in paths:
        found = results_dir_of(path.strip(), experiment)
        if found is not None:
            return found
    return None


PATH_IN_TEXT = re.compile(r"(/[^\s,;:'\"]+)")


def results_dir_from_lines(lines: list[LogLine], experiment: str) -> Path | None:
    """The results folder named in a program's own lines (`wrote ...`, `checkpoint ...`, `done: ...`)."""
    for line in lines:
        if f"/{experiment}/" not in line.text:
            continue
        found = results_dir_from(PATH_IN_TEXT.findall(line.text), experiment)
        if found:
            return found
    return None
