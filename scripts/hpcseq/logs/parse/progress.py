"""Training progress, read back: hpcseq train's console lines (epochs, ranks, resume, checkpoints,
its end or signal stop) and the per-epoch records of metrics.jsonl.

Progress comes first from `metrics.jsonl` (exact numbers, one JSON line per epoch, written by
rank 0) and from the console epoch lines where the file is not there; progress bars are never
scraped (training runs with verbose=0).
"""

from __future__ import annotations

import calendar
import statistics
import time
from dataclasses import dataclass, fields

from hpcseq import events
from hpcseq.events import CONSOLE, parse_metrics_text
from hpcseq.logs.parse.lines import LogLine
from hpcseq.records import checkpoint_position

ACCURACY_KEYS = ("accuracy", "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy")


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
