"""A rank that hangs ends the job within training.hang_timeout_seconds, and the log names it.

What happens without this, measured here with 2 ranks on one machine and one of them stopped with
SIGSTOP in the middle of training (tests/training/test_watchdog.py does the same with it):
  * mpirun (Horovod's MPI controller, as under srun): nothing, for the 150 s it was watched. The
    other rank waits in its collective. Horovod's stall check never fires, not even with
    HOROVOD_STALL_CHECK_TIME_SECONDS=10 and HOROVOD_STALL_SHUTDOWN_TIME_SECONDS=20: the
    coordination that would run it waits for the stopped rank itself. A job waits for its time limit.
  * horovodrun --gloo: Gloo's own timeout (HOROVOD_GLOO_TIMEOUT_SECONDS, default 30 s) ends the
    waiting rank 30 s after the stop ("Timed out waiting 30000ms for recv operation to complete",
    then "Horovod has been shut down"), and horovodrun kills the stopped one 10 s later. Its report
    names the rank that timed out ("Process 0 exit with status code 1"), not the one that hangs.

How: a thread of every rank writes the rank's heartbeat (run id, rank, host, pid, a beat counter,
its last training step) to heartbeats/rank-<r>.json every few seconds, and reads the heartbeat of
the next rank, (r + 1) % size: every rank is watched by one other, and reads one file. In a
process stopped with SIGSTOP (or frozen, or on a node cut off) every thread stops, while a rank
that waits in a collective keeps its threads: a heartbeat that no longer changes names the rank
that hangs. Its age is measured on the watcher's own monotonic clock from the moment its beat
counter last changed, so no other node's clock counts. After hang_timeout_seconds the watcher logs
events.RANK_HUNG (rank, host, pid, step, seconds) and ends its own process with HANG_EXIT_CODE;
the launcher ends the others (srun --kill-on-bad-exit=1, mpirun, horovodrun). A rank that fails
for another reason while a rank is silent (Gloo's shorter timeout) logs events.RANK_SILENT for it
as it exits.

The training loop only records its step (an integer assignment per execution of steps); the file
I/O is the thread's. Rank 0 empties the folder before the run id is broadcast, so no heartbeat of
an earlier run (one this run resumes) is ever read; a rank that finishes training removes its own
file, and a watcher whose rank's file is gone stops watching it.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from hpcseq.errors import HANG_EXIT_CODE
from hpcseq.events import RANK_HUNG, RANK_SILENT, get_logger
from hpcseq.io import write_json
from hpcseq.records import rank_file

HEARTBEAT_SECONDS = 5.0  # between two heartbeats at most; a quarter of the timeout when that is shorter
SILENT_BEATS = 3  # a heartbeat older than this many intervals, when a rank fails, is a rank that hangs
UNKNOWN = "unknown"  # host, pid and step of a rank that never sent a heartbeat


def heartbeat_interval(timeout: float) -> float:
    return min(HEARTBEAT_SECONDS, timeout / 4)


def heartbeat_path(directory: Path, rank: int) -> Path:
    return rank_file(directory, rank)


@dataclass(frozen=True)
class Silence:
    """A rank that sent no heartbeat for `seconds`, with what its last one said."""

    rank: int
    host: str
    pid: str
    step: str
    seconds: float

    @classmethod
    def of(cls, rank: int, heartbeat: dict | None, seconds: float) -> Silence:
        if heartbeat is None:
            return cls(rank, UNKNOWN, UNKNOWN, UNKNOWN, seconds)
        return cls(rank, str(heartbeat["host"]), str(heartbeat["pid"]), str(heartbeat["step"]), seconds)


class Gone(Exception):
    """The heartbeat file is not there (not written yet, or removed when its rank finished)."""


def read_heartbeat(directory: Path, rank: int, run_id: str) -> dict | None:
    """A rank's heartbeat of this run; None for one of another run; Gone when there is no file.
    Other read errors (a shared file system's hiccup) are raised: the caller tries again later."""
    try:
        heartbeat = json.loads(heartbeat_path(directory, rank).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise Gone from None
    return heartbeat if heartbeat.get("run") == run_id else None


class Watchdog:
    """One rank's heartbeat and its watch over the next rank (see the module docstring).

    on_hang(watchdog, silence) runs in the thread when the watched rank's silence exceeds the
    timeout; the default, end_this_rank, logs it and ends the process."""

    def __init__(
        self,
        directory: Path,
        rank: int,
        size: int,
        run_id: str,
        timeout: float | None,
        on_hang: Callable[[Watchdog, Silence], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.directory = Path(directory)
        self.rank, self.size, self.run_id, self.timeout = rank, size, run_id, timeout
        self.enabled = timeout is not None and size > 1
        self.interval = heartbeat_interval(timeout) if self.enabled else 0.0
        self.watched = (rank + 1) % size
        self.step = 0  # the last training step done (progress())
        self.beats = 0
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self._on_hang = on_hang or end_this_rank
        self._clock = clock
        self._last: dict | None = None  # the watched rank's last heartbeat seen
        self._since = 0.0  # clock time at which it was first seen (or the watch began)
        self._finished = False  # the watched rank removed its file: it finished training
        self._write_failed = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def progress(self, step: int) -> None:
        """Called by the training loop: the heartbeats carry it (no I/O here)."""
        self.step = step

    def start(self) -> Watchdog:
        if not self.enabled:
            return self
        self._since = self._clock()
        self.beat()
        self._thread = threading.Thread(target=self._run, name="hpcseq-watchdog", daemon=True)
        self._thread.start()
        atexit.register(self._report_at_exit)
        return self

    def stop(self) -> None:
        """At the end of training (every rank past its last collective): no more heartbeats, and
        this rank's file removed, which tells its watcher that it finished."""
        if not self.enabled or self._stop.is_set():
            return
        self._stop.set()
        atexit.unregister(self._report_at_exit)
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 5)
        with suppress(FileNotFoundError):
            heartbeat_path(self.directory, self.rank).unlink()
        with suppress(OSError):  # the last rank to finish removes the folder
            self.directory.rmdir()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()
            silence = self.check()
            if silence is not None:
                self._on_hang(self, silence)
                return

    def beat(self) -> None:
        self.beats += 1
        heartbeat = {
            "run": self.run_id,
            "rank": self.rank,
            "host": self.host,
            "pid": self.pid,
            "beat": self.beats,
            "step": self.step,
            "time": time.time(),
        }
        try:
            write_json(heartbeat_path(self.directory, self.rank), heartbeat)
        except OSError as error:
            if not self._write_failed:  # once: its watcher will report this rank if it goes on
                get_logger().warning("cannot write the heartbeat of rank %d: %s", self.rank, error)
            self._write_failed = True

    def check(self) -> Silence | None:
        """The watched rank's silence, once longer than the timeout; None while it beats, after it
        finished, or when its file cannot be read just now."""
        if self._finished:
            return None
        now = self._clock()
        try:
            heartbeat = read_heartbeat(self.directory, self.watched, self.run_id)
        except Gone:
            if self._last is not None:  # it was there: its rank finished and removed it
                self._finished = True
                return None
            heartbeat = None
        except (OSError, ValueError, KeyError):
            return None
        if heartbeat is not None and (self._last is None or heartbeat["beat"] != self._last["beat"]):
            self._last, self._since = heartbeat, now
            return None
        if now - self._since > self.timeout:
            return Silence.of(self.watched, self._last, now - self._since)
        return None

    def silent_ranks(self) -> list[Silence]:
        """Every other rank whose last heartbeat of this run is older than SILENT_BEATS intervals
        (by the wall clocks of the two nodes, which Slurm clusters keep in step)."""
        found = []
        for rank in range(self.size):
            if rank == self.rank:
                continue
            try:
                heartbeat = read_heartbeat(self.directory, rank, self.run_id)
            except (Gone, OSError, ValueError):
                continue
            age = time.time() - float(heartbeat["time"]) if heartbeat else 0.0
            if heartbeat is not None and age > SILENT_BEATS * self.interval:
                found.append(Silence.of(rank, heartbeat, age))
        return found

    def _report_at_exit(self) -> None:
        """This rank ends without having finished training (an exception): name the ranks that had
        gone silent before, whose silence is the likely cause."""
        self._stop.set()
        for silence in self.silent_ranks():
            get_logger().error(RANK_SILENT.text(**_fields(silence)))


def _fields(silence: Silence) -> dict:
    return {
        "rank": silence.rank,
        "host": silence.host,
        "pid": silence.pid,
        "step": silence.step,
        "seconds": silence.seconds,
    }


def end_this_rank(watchdog: Watchdog, silence: Silence) -> None:
    """The watched rank hangs: say which, and end this process, so that the launcher ends the job
    (the other ranks wait in their collectives, and the main thread of this one too)."""
    get_logger().error(RANK_HUNG.text(**_fields(silence), timeout=watchdog.timeout, code=HANG_EXIT_CODE))
    for stream in (sys.stdout, sys.stderr):
        with suppress(Exception):
            stream.flush()
    os._exit(HANG_EXIT_CODE)


def start_watchdog(ranks, directory: Path, timeout: float | None) -> Watchdog:
    """Every rank calls it right after Horovod starts: it is a collective (rank 0 empties the
    folder of an earlier run, then broadcasts this run's id). Without a timeout, or on one rank,
    the watchdog does nothing."""
    if timeout is None or ranks.size == 1:
        return Watchdog(directory, ranks.rank, ranks.size, "", None)
    if ranks.is_root:
        shutil.rmtree(directory, ignore_errors=True)
    run_id = ranks.collectives.broadcast_object(
        uuid.uuid4().hex[:12] if ranks.is_root else None, root_rank=0, name="hpcseq_watchdog_run"
    )
    return Watchdog(directory, ranks.rank, ranks.size, run_id, timeout).start()
