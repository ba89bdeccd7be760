"""The lines hpcseq writes and `hpcseq logs` reads back: each message's format next to its pattern.

Console output is one timestamped line per event, with the stage and (for several ranks) the rank
on every line; it goes to stdout, which Slurm writes to `<job>_out.<id>` and the Snakemake rules
to `logs/<stage>/<experiment>.log`. Lines are flushed at once, so `tail -f` shows progress.

Every message that `hpcseq logs` parses is a `Message` defined here: producers call
`Message.text(...)` and the log reader `Message.match(...)`, so rewording one changes both, and
tests/unit/test_events.py emits each message and parses it back. No other module writes these
texts literally. The job script's own lines (`SCRIPT_*`) are rendered into shell `echo` commands
with shell variables as field values.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
from dataclasses import dataclass

LOGGER_NAME = "hpcseq"
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"  # also what `date "+%F %T"` prints in the job script
TIMESTAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"


@dataclass(frozen=True)
class Message:
    """One kind of line: `template` (str.format fields) renders it, `pattern` reads it back."""

    template: str
    pattern: re.Pattern

    def text(self, **fields) -> str:
        return self.template.format(**fields)

    def match(self, text: str) -> re.Match | None:
        """The fields of a line that is exactly this message."""
        return self.pattern.match(text)

    def search(self, text: str) -> re.Match | None:
        """The fields of this message anywhere in a line (behind a prefix such as `hpcseq train: error:`)."""
        return self.pattern.search(text)


# ------------------------------------------------------------------------------ console lines

CONSOLE = re.compile(
    rf"^(?P<time>{TIMESTAMP}) hpcseq (?P<stage>[\w-]+)"
    r"(?: rank (?P<rank>\d+)/(?P<size>\d+))? (?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL) "
    r"(?P<message>.*)$"
)


def console_prefix(stage: str, rank: int | None = None, size: int | None = None) -> str:
    """The logging format of a stage's lines (matched by CONSOLE)."""
    where = f" rank {rank}/{size}" if rank is not None and size is not None and size > 1 else ""
    return f"%(asctime)s hpcseq {stage}{where} %(levelname)s %(message)s"


def setup_logging(
    stage: str, rank: int | None = None, size: int | None = None, level: str | None = None
) -> logging.Logger:
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter(console_prefix(stage, rank, size), datefmt=TIMESTAMP_FORMAT))
    logger.addHandler(handler)
    logger.setLevel(level or os.environ.get("HPCSEQ_LOG_LEVEL", "INFO"))
    logger.propagate = False
    with contextlib.suppress(AttributeError, ValueError):  # not a text stream (e.g. under a test's capture)
        sys.stdout.reconfigure(line_buffering=True)
    return logger


def get_logger() -> logging.Logger:
    return logging.getLogger(LOGGER_NAME)


# ---------------------------------------------------------------------- training (console messages)

EXPERIMENT_STARTED = Message(
    "experiment {name}: {model} on {ranks} rank(s), launcher {launcher}, host {host}, {device}",
    re.compile(
        r"^experiment (?P<name>\S+): (?P<model>\S+) on (?P<ranks>\d+) rank\(s\), launcher "
        r"(?P<launcher>\S+), host (?P<host>\S+), (?P<device>.*)$"
    ),
)
RANKS_ON_HOSTS = Message(
    "ranks on hosts: {ranks}",
    re.compile(r"^ranks on hosts: (?P<ranks>\d+:\S+(?: \d+:\S+)*)$"),
)
RESUMING = Message(
    "resuming from {path}: {done} of {epochs} epochs done{within}",
    re.compile(r"^resuming from (?P<path>.+): (?P<done>\d+) of (?P<epochs>\d+) epochs done"),
)
EPOCH_DONE = Message(
    "epoch {epoch}/{epochs} {metrics} | {samples_per_second:.0f} samples/s | {seconds:.1f} s",
    re.compile(
        r"^epoch (?P<epoch>\d+)/(?P<epochs>\d+) (?P<metrics>.*?)\s*\|\s*(?P<sps>[\d.]+) samples/s"
        r"\s*\|\s*(?P<seconds>[\d.]+) s\s*$"
    ),
)
CHECKPOINT_WRITTEN = Message(
    "checkpoint {path} written in {seconds:.2f} s",
    re.compile(r"^checkpoint (?P<path>\S+) written in "),
)
TRAINING_DONE = Message(
    "done: final model {model}, metrics {metrics}",
    re.compile(r"^done: final model (?P<model>\S+), metrics (?P<metrics>\S+)$"),
)
# The watchdog (training/watchdog.py) of another rank: a rank silent for training.hang_timeout_seconds
# (stopped, frozen, cut off); the watching rank ends itself so that the launcher ends the job. Host,
# pid and step are `unknown` for a rank that never sent a heartbeat.
RANK_HUNG = Message(
    "rank {rank} on host {host} (pid {pid}, step {step}) sent no heartbeat for {seconds:.0f} s, longer than "
    "training.hang_timeout_seconds ({timeout:g} s): it hangs; ending this rank with exit code {code} so that "
    "the launcher ends the job",
    re.compile(
        r"rank (?P<rank>\d+) on host (?P<host>\S+) \(pid (?P<pid>\w+), step (?P<step>\w+)\) sent no heartbeat for "
        r"(?P<seconds>\d+) s, longer than training\.hang_timeout_seconds \((?P<timeout>[\d.]+) s\): it hangs; "
        r"ending this rank with exit code (?P<code>\d+)"
    ),
)
# A rank that failed (Gloo's own timeout under horovodrun, say) while another rank was silent.
RANK_SILENT = Message(
    "rank {rank} on host {host} (pid {pid}, step {step}) had sent no heartbeat for {seconds:.0f} s when this rank "
    "failed: it hangs, and this rank's error follows from it",
    re.compile(
        r"rank (?P<rank>\d+) on host (?P<host>\S+) \(pid (?P<pid>\w+), step (?P<step>\w+)\) had sent no heartbeat "
        r"for (?P<seconds>\d+) s when this rank failed"
    ),
)


def metrics_text(values: dict) -> str:
    """`loss 2.1197 sparse_categorical_accuracy 0.3823 ...`: the metrics part of EPOCH_DONE."""
    return " ".join(f"{name} {value:.4f}" for name, value in values.items())


def rank_hosts_text(hosts: list[str]) -> str:
    """`0:n1 1:n1 2:n2`: the ranks part of RANKS_ON_HOSTS, from each rank's host in rank order."""
    return " ".join(f"{rank}:{host}" for rank, host in enumerate(hosts))


def parse_rank_hosts(text: str) -> list[str]:
    """rank_hosts_text() read back: each rank's host, in rank order."""
    pairs = (item.split(":", 1) for item in text.split())
    return [host for _, host in sorted((int(rank), host) for rank, host in pairs)]


def ranks_by_host_text(hosts: list[str], most_hosts: int | None = None) -> str:
    """`n1: ranks 0-1; n2: ranks 2-3` from each rank's host in rank order (what the summary and
    `hpcseq logs` show); beyond `most_hosts` hosts, how many more."""
    by_host: dict[str, list[int]] = {}
    for rank, host in enumerate(hosts):
        by_host.setdefault(host, []).append(rank)
    shown = [f"{host}: {'ranks' if len(ranks) > 1 else 'rank'} {_ranges(ranks)}" for host, ranks in by_host.items()]
    if most_hosts is not None and len(shown) > most_hosts:
        shown = [*shown[:most_hosts], f"{len(shown) - most_hosts} more hosts"]
    return "; ".join(shown)


def _ranges(numbers: list[int]) -> str:
    """`0-3,8` of ascending numbers."""
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return ",".join(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]) for run in runs)


def parse_metrics_text(text: str) -> dict:
    """metrics_text() read back: {name: value}."""
    words = text.split()
    values = {}
    for name, value in zip(words[0::2], words[1::2], strict=False):
        try:
            values[name] = float(value)
        except ValueError:
            continue
    return values


# ------------------------------------------------------------------ errors (stderr of a stage)

STAGE_ERROR = Message(
    "hpcseq {stage}: error: {message}",
    re.compile(r"^hpcseq (?P<stage>[\w-]+): error: (?P<message>.*)$"),
)
STOPPED_ON_SIGNAL = Message(
    "stopped on {signal} after writing checkpoint {checkpoint}; run again to continue (exit code {code})",
    re.compile(
        r"stopped on (?P<signal>SIG[A-Z0-9]+) after writing checkpoint (?P<checkpoint>.+?); "
        r"run again to continue \(exit code (?P<code>\d+)\)"
    ),
)
INTERPRETER_MISSING = Message(
    "the training interpreter {python} does not exist: {advice}",
    re.compile(r"training interpreter (?P<what>\S+) does not exist"),
)
HOROVODRUN_MISSING = Message(
    "horovodrun is neither next to {python} nor on PATH; {advice}",
    re.compile(r"horovodrun is neither next to (?P<what>\S+)"),
)


# ------------------------------------------------------- the generated job script's own lines

SCRIPT_START = Message(
    "job {job} on {nodes} (restart {restart})",
    re.compile(rf"^(?P<time>{TIMESTAMP}) job (?P<job>\S+) on (?P<nodes>\S+) \(restart (?P<restart>\d+)\)$"),
)
# Why a job script requeues its job: training checkpointed on Slurm's warning, or the warning
# ended the ranks while they started, before they could catch it (nothing trained in that job).
REQUEUE_CHECKPOINTED = "checkpoint written before the time limit"
REQUEUE_WARNED_WHILE_STARTING = "warned while training started"
SCRIPT_REQUEUE = Message(
    "{why}: requeueing job {job}",
    re.compile(
        rf"(?P<why>{re.escape(REQUEUE_CHECKPOINTED)}|{re.escape(REQUEUE_WARNED_WHILE_STARTING)}): "
        r"requeueing job (?P<job>\S+)"
    ),
)
SCRIPT_TRAINING_FAILED = Message(
    "training failed with exit code {code}",
    re.compile(r"^training failed with exit code (?P<code>\d+)$"),
)
SCRIPT_DONE = Message("done", re.compile(rf"^{TIMESTAMP} done$"))
# A setup line of the job (module, source, cd, the interpreter) failed: the job stops there, naming
# it, instead of going on with whatever Python it finds. Rendered as a printf format ("%s" fields).
SCRIPT_SETUP_FAILED = Message(
    "hpcseq: setup failed (exit {code}): {line}",
    re.compile(r"hpcseq: setup failed \(exit (?P<code>\d+)\): (?P<what>.*?)\s*$"),
)

# The timestamp a job script puts in front of its lines (matches TIMESTAMP).
SHELL_TIMESTAMP = '$(date "+%F %T")'


# ------------------------------------------------- the smoke test of a software route (cluster/smoke.py)

# `hpcseq smoke-test` writes a job of this name (its output: <name>_out.<id>, as `hpcseq logs` finds it).
SMOKE_JOB_NAME = "hpcseq-smoke-test"
# The checks in the order they run; `all` is the verdict line after them.
SMOKE_CHECKS = ("python", "keras", "horovod_build", "imports", "gpus", "horovod", "allreduce")
SMOKE_CHECK = Message(
    "hpcseq smoke-test {result} {check}: {detail}",
    re.compile(r"hpcseq smoke-test (?P<result>PASS|FAIL) (?P<check>[\w-]+): (?P<detail>.*?)\s*$"),
)
