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


def metrics_text(values: dict) -> str:
    """`loss 2.1197 sparse_categorical_accuracy 0.3823 ...`: the metrics part of EPOCH_DONE."""
    return " ".join(f"{name} {value:.4f}" for name, value in values.items())


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
SCRIPT_REQUEUE = Message(
    "checkpoint written before the time limit: requeueing job {job}",
    re.compile(r"checkpoint written before the time limit: requeueing job (?P<job>\S+)"),
)
SCRIPT_TRAINING_FAILED = Message(
    "training failed with exit code {code}",
    re.compile(r"^training failed with exit code (?P<code>\d+)$"),
)
SCRIPT_DONE = Message("done", re.compile(rf"^{TIMESTAMP} done$"))

# The timestamp a job script puts in front of its lines (matches TIMESTAMP).
SHELL_TIMESTAMP = '$(date "+%F %T")'
