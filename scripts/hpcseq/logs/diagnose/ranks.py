"""A training rank that hung (its heartbeat stopped: training/watchdog.py) or died before the
others, as the launchers report it: srun's `task N: ...`, mpirun's `exited on signal`,
horovodrun's and mpirun's `exited with non-zero status`."""

from __future__ import annotations

import re

from hpcseq.events import RANK_HUNG, RANK_SILENT, STOPPED_ON_SIGNAL
from hpcseq.logs.diagnose.facts import Diagnosis, Evidence, Facts, find_first, how_to_resume, join_sentences
from hpcseq.logs.diagnose.python_errors import chosen_traceback
from hpcseq.logs.diagnose.rules import Rule
from hpcseq.logs.diagnose.slurm_states import markers_by_file
from hpcseq.logs.parse import LogLine


def rank_hung(facts: Facts) -> Diagnosis | None:
    """A rank whose heartbeat stopped (training/watchdog.py): stopped, frozen or cut off, without an
    error of its own. The rank that ended itself to end the job (events.RANK_HUNG, exit code 124),
    and the ranks that failed waiting for it (events.RANK_SILENT: Gloo's own timeout), follow from it."""
    found = find_first(facts.lines, RANK_HUNG.pattern) or find_first(facts.lines, RANK_SILENT.pattern)
    if not found:
        return None
    line, match = found
    fields = match.groupdict()
    error = chosen_traceback(facts)
    # A Python error is the cause where the silent rank raised it (and then hung on its way out), or
    # where the rank's silence ended the job: the ranks that fail waiting for a silent one (Gloo's
    # timeout) raise errors of their own that follow from the silence.
    if error is not None and (fields.get("code") or error.exception_line.rank in (None, int(fields["rank"]))):
        return None
    if fields["host"] == "unknown":
        who = f"Rank {fields['rank']} (it never sent a heartbeat, so its host is unknown)"
    else:
        who = f"Rank {fields['rank']} on {fields['host']} (pid {fields['pid']})"
    step = f", since step {fields['step']}" if fields["step"] != "unknown" else ""
    if fields.get("code"):
        then = (
            f"after training.hang_timeout_seconds ({fields['timeout']} s) another rank ended itself (exit code "
            f"{fields['code']}) so that the job ended, instead of every rank waiting for it until the time limit"
        )
    else:
        then = "the other ranks failed waiting for it (their errors follow from it)"
    node = fields["host"] if fields["host"] != "unknown" else "its node"
    return Diagnosis(
        "rank_hung",
        f"{who} hung: no heartbeat for {fields['seconds']} s{step}; {then}.",
        Evidence.of(line),
        join_sentences(
            "A rank that stops without an error of its own was stopped (SIGSTOP, a debugger), or its node froze or "
            f"lost its network or file system: look at {node} (`scontrol show node {node}`: down, drained?) and "
            "run again; if it happens there again, leave the node out (sbatch --exclude). Should a rank pause that "
            "long as a matter of course (a file system that stalls), raise training.hang_timeout_seconds.",
            how_to_resume(facts),
        ),
    )


SRUN_TASK = re.compile(r"^srun: error: (?P<node>\S+): tasks? (?P<tasks>[\d,\-]+): (?P<how>.+?)\s*$")
HOROVODRUN_EXIT = re.compile(r"Horovod detected that one or more processes exited with non-zero status")
MPIRUN_SIGNAL = re.compile(
    r"mpirun noticed that process rank (?P<tasks>\d+) with PID \d+ on node (?P<node>\S+) "
    r"exited on signal (?P<signal>\d+)(?: \((?P<name>[^)]+)\))?"
)
MPIRUN_EXIT = re.compile(
    r"(?:mpirun|prterun) detected that one or more processes exited with non-zero status|"
    r"Primary job\s+terminated normally, but \d+ process(?:es)? returned"
)
PROCESS_NAME = re.compile(r"Process name:\s*(?P<name>\S+)")
EXIT_CODE = re.compile(r"Exit code:\s*(?P<code>\d+)")


def _rank_death_advice(how: str, facts: Facts) -> str:
    if how.startswith("Killed") or "signal 9" in how:
        return (
            "It has no error of its own in the output, so it was killed from outside: by the kernel's "
            "out-of-memory killer (compare sacct's MaxRSS with ReqMem), an administrator or a node health "
            "check, or `kill -9`. The other ranks were stopped with it."
        )
    if "Segmentation fault" in how or "signal 11" in how or "Bus error" in how:
        return (
            "A crash in native code (TensorFlow, Horovod, MPI, CUDA): check that Horovod was built against the "
            "loaded MPI and TensorFlow, and try again (a bad node gives the same)."
        )
    return "Its own error is in its output above this line (for horovodrun/mpirun, lines prefixed with its rank)."


def signal_stop_codes(lines: list[LogLine]) -> set[int]:
    """The exit codes with which ranks said they stopped on a signal after writing a checkpoint
    (`hpcseq train: error: stopped on SIGUSR1 ... (exit code 75)`): a rank that exits with one of
    them ended as designed, it did not die."""
    return {int(match.group("code")) for line in lines if (match := STOPPED_ON_SIGNAL.search(line.text))}


SRUN_EXIT_CODE = re.compile(r"^Exited with exit code (?P<code>\d+)$")


# srun's word for a task ended by SIGUSR1. hpcseq's stages catch it (training checkpoints and
# stops, the others ignore it) from their first lines on, so a task ended by it was signalled
# while it was still starting: Slurm's warning before the time limit came that early.
SRUN_WARNING_DEATH = "User defined signal 1"


def _srun_task_death(how: str, cancelled: bool, stop_codes: set[int]) -> bool:
    """Whether srun's `task N: <how>` is a rank that died: not one killed by Slurm's own cancel
    (a consequence), not an out-of-memory kill (host_out_of_memory's), not a clean signal stop,
    not one ended by the time-limit warning while it started (time_limit's)."""
    if (how.startswith("Terminated") and cancelled) or "Out Of Memory" in how or how.startswith(SRUN_WARNING_DEATH):
        return False
    exited = SRUN_EXIT_CODE.match(how)
    return not (exited and int(exited.group("code")) in stop_codes)


def tasks_text(match: re.Match) -> str:
    """`ranks 0-1 on node1` from srun's `node1: tasks 0-1: ...`."""
    tasks = match.group("tasks")
    plural = "ranks" if re.search(r"[,\-]", tasks) else "rank"
    return f"{plural} {tasks} on {match.group('node')}"


def rank_died(facts: Facts) -> Diagnosis | None:
    """The first rank that ended before the others: srun's `task N: Killed / Exited with exit code`,
    mpirun's `exited on signal`, horovodrun's and mpirun's `exited with non-zero status`. Deaths
    after Slurm's own cancel line (time limit, scancel) are consequences and do not count, nor are
    ranks that exited with the code they announced when they stopped on a signal (time_limit's)."""
    markers = markers_by_file(facts)
    lines = [line for line in facts.lines if not (line.path in markers and line.number > markers[line.path])]
    stop_codes = signal_stop_codes(facts.lines)
    return (
        _srun_task_died(facts, lines, bool(markers), stop_codes)
        or _mpirun_rank_signalled(facts, lines)
        or _launcher_reported_exit(facts, lines, stop_codes)
    )


def _srun_task_died(facts: Facts, lines: list[LogLine], cancelled: bool, stop_codes: set[int]) -> Diagnosis | None:
    for line in lines:
        match = SRUN_TASK.match(line.text)
        if not match:
            continue
        how = match.group("how")
        if not _srun_task_death(how, cancelled, stop_codes):
            continue
        return Diagnosis(
            "rank_died",
            f"Horovod {tasks_text(match)} ended early: {how}.",
            Evidence.of(line),
            join_sentences(_rank_death_advice(how, facts), how_to_resume(facts)),
        )
    return None


def _mpirun_rank_signalled(facts: Facts, lines: list[LogLine]) -> Diagnosis | None:
    found = find_first(lines, MPIRUN_SIGNAL)
    if not found:
        return None
    line, match = found
    name = match.group("name") or f"signal {match.group('signal')}"
    return Diagnosis(
        "rank_died",
        f"MPI rank {match.group('tasks')} on {match.group('node')} ended early: "
        f"{name} (signal {match.group('signal')}).",
        Evidence.of(line),
        join_sentences(
            _rank_death_advice(f"{name} signal {match.group('signal')}", facts),
            how_to_resume(facts),
        ),
    )


def _launcher_reported_exit(facts: Facts, lines: list[LogLine], stop_codes: set[int]) -> Diagnosis | None:
    """horovodrun's and mpirun's `exited with non-zero status`, with the process and exit code
    they print in the lines after it."""
    for index, line in enumerate(lines):
        if not (HOROVODRUN_EXIT.search(line.text) or MPIRUN_EXIT.search(line.text)):
            continue
        following = lines[index : index + 10]
        name = next((m.group("name") for after in following if (m := PROCESS_NAME.search(after.text))), None)
        code = next((int(m.group("code")) for after in following if (m := EXIT_CODE.search(after.text))), None)
        if code in stop_codes:
            continue  # the ranks stopped on a signal after checkpointing: time_limit's
        who = f"process {name}" if name else "a process"
        how = f"exit code {code}" if code is not None else "a non-zero exit code"
        if code is not None and code > 128:
            how += f" (signal {code - 128})"
        return Diagnosis(
            "rank_died",
            f"A rank ended early: {who} exited with {how}.",
            Evidence.of(line),
            join_sentences(
                _rank_death_advice("Killed" if code == 137 else how, facts),
                how_to_resume(facts),
            ),
        )
    return None


RULES = (Rule("rank_hung", rank_hung), Rule("rank_died", rank_died))
