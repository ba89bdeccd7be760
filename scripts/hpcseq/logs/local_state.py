"""How a local job stands: running, failed or completed, interrupted, or unknown; its exit status,
its times, and how its state is known.

Whether a job still runs is known for sure only on the machine that runs it (a process there
writes its log); elsewhere, Snakemake's lock and a log written within the last minute say so, and
the report says which it was.
"""

from __future__ import annotations

import os
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

from hpcseq.events import STAGE_ERROR, STOPPED_ON_SIGNAL
from hpcseq.logs.diagnose import HOROVODRUN_EXIT, TRACEBACK
from hpcseq.logs.local import LocalJob
from hpcseq.logs.parse.lines import LogLine

RECENT_SECONDS = 60  # a log written this recently, under Snakemake's lock: the job runs


@dataclass
class LocalState:
    """A local job's state (in Slurm's words, INTERRUPTED for a run stopped before the job ended),
    its exit status, times, and how its state is known."""

    state: str | None
    exit_code: int | None = None
    started: float | None = None
    ended: float | None = None
    elapsed: float | None = None
    notes: list[str] = field(default_factory=list)


def local_state(job: LocalJob, lines: list[LogLine], now: float | None = None) -> LocalState:
    """How a local job stands: running (a process here writes its log; or Snakemake's lock is
    held and the log was written within the last minute), failed or completed as Snakemake's
    log says (without it: an error in the rule's log; its outputs), interrupted (Snakemake
    stopped before the job ended), else unknown."""
    now = time.time() if now is None else now
    found = _ended(job, lines)
    if found is None and _writer_pid(job) is not None:
        found = LocalState("RUNNING", started=_started(job))
    if found is None and (_marked_incomplete(job) or (job.snakemake is not None and not job.snakemake.done)):
        found = _unfinished(job, now)
    if found is None and all(path.is_file() for path in job.outputs()):
        found = LocalState("COMPLETED", 0)
    if found is None:
        found = LocalState(
            None, notes=["no end in its log, and neither Snakemake's log of the run nor its outputs say how it ended"]
        )
    _add_times(found, job, now)
    return found


def _ended(job: LocalJob, lines: list[LogLine]) -> LocalState | None:
    """Its end as Snakemake's log tells it, else as the program's own error lines do."""
    snakemake = job.snakemake
    if snakemake is not None and snakemake.log.error:
        return LocalState("FAILED", snakemake.log.exit_status)
    if snakemake is not None and snakemake.log.finished:
        return LocalState("COMPLETED", 0)
    if snakemake is None and any(_program_failed(line.text) for line in lines):
        return LocalState("FAILED")
    return None


def _program_failed(text: str) -> bool:
    error = STAGE_ERROR.match(text)
    if error and not STOPPED_ON_SIGNAL.search(error.group("message")):
        return True
    return TRACEBACK.match(text) is not None or HOROVODRUN_EXIT.search(text) is not None


def _unfinished(job: LocalJob, now: float) -> LocalState:
    """A job that started and did not end: running while Snakemake's lock is held and its log
    was written lately; interrupted when no Snakemake holds the lock any more."""
    if not any(path in job.place.locked for path in job.outputs()):
        return LocalState("INTERRUPTED")
    quiet = now - _last_write(job)
    here = (
        "no process on this machine writes its log"
        if job.place.commands()
        else "this system does not show which processes write its log"
    )
    if quiet <= RECENT_SECONDS:
        return LocalState(
            "RUNNING",
            started=_started(job),
            notes=[f"running: Snakemake holds its lock and the log was written {quiet:.0f} s ago ({here})"],
        )
    return LocalState(
        None,
        notes=[
            f"Snakemake holds the lock of its outputs, but nothing was written for {quiet / 60:.0f} min and "
            f"{here}: a quiet step on another machine, or Snakemake was killed (then `snakemake --unlock` "
            "and run again)"
        ],
    )


def _add_times(found: LocalState, job: LocalJob, now: float) -> None:
    snakemake = job.snakemake
    if snakemake is not None and found.state != "RUNNING":
        found.started, found.ended = found.started or snakemake.started, snakemake.ended
    benchmark = _benchmark_seconds(job) if found.state == "COMPLETED" else None
    if benchmark is not None:
        found.elapsed = benchmark
    elif found.state == "RUNNING" and found.started is not None:
        found.elapsed = now - found.started
    elif found.started is not None and found.ended is not None:
        found.elapsed = found.ended - found.started


def _started(job: LocalJob) -> float | None:
    """When its job started: Snakemake's incomplete marker of an output, else its log's header."""
    marked = [job.place.incomplete[path] for path in job.outputs() if path in job.place.incomplete]
    if marked:
        return min(marked)
    return job.snakemake.started if job.snakemake is not None else None


def _marked_incomplete(job: LocalJob) -> bool:
    return any(path in job.place.incomplete for path in job.outputs())


def _last_write(job: LocalJob) -> float:
    """When its log, or Snakemake's log of its run, was last written."""
    times = [0.0]
    for path in (job.rule_log, Path(job.run.path) if job.run is not None else None):
        try:
            times.append(path.stat().st_mtime if path is not None else 0.0)
        except OSError:
            continue
    return max(times)


def _benchmark_seconds(job: LocalJob) -> float | None:
    """The run time Snakemake measured (`s`, the first column of the benchmark's last row), if
    the benchmark file was written when this log was (a job that succeeded writes both)."""
    path = job.benchmark()
    try:
        if path.stat().st_mtime < job.rule_log.stat().st_mtime - 5:
            return None  # of an earlier run
        rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError:
        return None
    if len(rows) < 2 or rows[0][0] != "s":
        return None
    try:
        return float(rows[-1][0])
    except ValueError:
        return None


def _writer_pid(job: LocalJob) -> int | None:
    """A process on this machine whose command writes the rule log (the rule's shell command,
    `... > <log> 2>&1`; its working directory the run directory): the job runs."""
    written = {str(job.rule_log)}
    if job.snakemake is not None and job.snakemake.log.log_files:
        written.add(job.snakemake.log.log_files[0])
    for pid, command in job.place.commands():
        names = [path for path in written if _redirects_to(command, path)]
        if not names:
            continue
        try:
            cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
        except OSError:
            continue  # another user's process (or gone)
        if any(job.place.resolve(cwd / name) == job.rule_log for name in names):
            return pid
    return None


def _redirects_to(command: str, path: str) -> bool:
    return any(f"{arrow}{name}" in command for name in {path, shlex.quote(path)} for arrow in ("> ", ">"))
