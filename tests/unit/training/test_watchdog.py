"""hpcseq.training.watchdog without TensorFlow or Horovod: real threads, real heartbeat files and,
for the rank that hangs, a real process stopped with SIGSTOP. tests/training/test_watchdog.py stops
a rank of a real 2-rank training under mpirun and horovodrun."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from hpcseq.errors import HANG_EXIT_CODE
from hpcseq.events import RANK_HUNG, RANK_SILENT
from hpcseq.training.watchdog import (
    SILENT_BEATS,
    UNKNOWN,
    Watchdog,
    heartbeat_interval,
    heartbeat_path,
    read_heartbeat,
)
from tests.conftest import REPO_ROOT

TIMEOUT = 1.0  # heartbeats every 0.25 s


def wait_until(predicate, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.02)
    return None


def watchdog(directory, rank, hangs, run="run1", size=2, timeout=TIMEOUT) -> Watchdog:
    return Watchdog(directory, rank, size, run, timeout, on_hang=lambda dog, silence: hangs.append(silence))


def peer_process(directory, rank: int, run: str = "run1", step: int = 0) -> subprocess.Popen:
    """Another rank's watchdog in a process of its own (its own watch is left without effect)."""
    code = textwrap.dedent(
        f"""
        import sys, time
        from hpcseq.training.watchdog import Watchdog
        dog = Watchdog({str(directory)!r}, {rank}, 2, {run!r}, {TIMEOUT}, on_hang=lambda d, s: None)
        dog.progress({step})
        dog.start()
        print("started", flush=True)
        time.sleep(60)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "scripts")}
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout.readline().strip() == "started"
    return process


@pytest.fixture
def processes():
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGCONT)
            process.kill()
        process.wait()


def test_the_interval_is_a_few_seconds_at_most_and_four_beats_fit_in_the_timeout():
    assert heartbeat_interval(300) == 5.0 and heartbeat_interval(10) == 2.5


def test_a_rank_stopped_with_sigstop_is_named_with_its_host_pid_and_step_after_the_timeout(tmp_path, processes):
    hangs = []
    peer = peer_process(tmp_path, rank=1, step=340)
    processes.append(peer)
    dog = watchdog(tmp_path, 0, hangs).start()
    try:
        time.sleep(1.5 * TIMEOUT)  # it beats: no hang, though longer than the timeout
        assert hangs == []
        os.kill(peer.pid, signal.SIGSTOP)  # every thread of it stops: its heartbeat stops changing
        stopped = time.monotonic()
        assert wait_until(lambda: hangs, 5 * TIMEOUT), "the stopped rank was never reported"
        waited = time.monotonic() - stopped
    finally:
        dog.stop()
    (silence,) = hangs
    assert (silence.rank, silence.host, silence.pid, silence.step) == (1, socket.gethostname(), str(peer.pid), "340")
    # the timeout from the last beat it saw: at least the timeout, at most two intervals more
    assert TIMEOUT < silence.seconds <= TIMEOUT + 2 * heartbeat_interval(TIMEOUT) + 0.2
    assert waited <= TIMEOUT + 2 * heartbeat_interval(TIMEOUT) + 0.5


def test_a_rank_that_finished_training_is_not_a_hang(tmp_path):
    hangs = []
    first, second = watchdog(tmp_path, 0, hangs).start(), watchdog(tmp_path, 1, hangs).start()
    time.sleep(2 * heartbeat_interval(TIMEOUT))
    second.stop()  # its file goes: it finished
    assert not heartbeat_path(tmp_path, 1).exists()
    time.sleep(1.5 * TIMEOUT)
    first.stop()
    assert hangs == []
    assert not tmp_path.exists() or not any(tmp_path.iterdir())  # the last to finish leaves nothing


def test_heartbeats_of_an_earlier_run_do_not_count(tmp_path, processes):
    """A rank of this run that never sends a heartbeat is named, with an unknown host, although
    the folder holds a beating heartbeat of another run for that rank."""
    hangs = []
    processes.append(peer_process(tmp_path, rank=1, run="earlier"))
    dog = watchdog(tmp_path, 0, hangs, run="this").start()
    try:
        assert read_heartbeat(tmp_path, 1, "this") is None
        assert wait_until(lambda: hangs, 5 * TIMEOUT)
    finally:
        dog.stop()
    assert (hangs[0].rank, hangs[0].host, hangs[0].pid, hangs[0].step) == (1, UNKNOWN, UNKNOWN, UNKNOWN)


def test_the_training_loop_only_sets_a_number_and_the_thread_writes_it(tmp_path):
    dog = Watchdog(tmp_path, 0, 2, "run1", TIMEOUT, on_hang=lambda d, s: None).start()
    try:
        written = read_heartbeat(tmp_path, 0, "run1")
        dog.progress(17)
        assert read_heartbeat(tmp_path, 0, "run1") == written  # no I/O in progress()
        assert wait_until(lambda: read_heartbeat(tmp_path, 0, "run1")["step"] == 17, 3 * TIMEOUT)
        assert read_heartbeat(tmp_path, 0, "run1")["pid"] == os.getpid()
    finally:
        dog.stop()


def test_when_a_rank_fails_it_names_the_ranks_that_had_gone_silent(tmp_path):
    quiet = []
    dogs = [watchdog(tmp_path, rank, quiet, size=3) for rank in range(3)]
    for dog in dogs:
        dog.beat()  # one heartbeat each, then nothing more
    time.sleep(SILENT_BEATS * heartbeat_interval(TIMEOUT) + 0.3)
    dogs[2].beat()  # rank 2 is alive, rank 1 silent
    silent = dogs[0].silent_ranks()
    assert [(s.rank, s.host, s.pid) for s in silent] == [(1, socket.gethostname(), str(os.getpid()))]
    assert silent[0].seconds > SILENT_BEATS * heartbeat_interval(TIMEOUT)


def test_without_a_timeout_or_with_one_rank_there_is_no_watchdog(tmp_path):
    for dog in (Watchdog(tmp_path, 0, 2, "r", None), Watchdog(tmp_path, 0, 1, "r", 10)):
        assert not dog.enabled
        dog.start()
        dog.progress(3)
        dog.stop()
    assert not any(tmp_path.iterdir())


def run_python(code: str, timeout: float = 30) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "scripts")}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, timeout=timeout
    )


def test_the_watcher_logs_the_hang_and_ends_its_process_with_the_hang_exit_code(tmp_path):
    """The default on_hang: the message `hpcseq logs` reads, then exit code 124, although the
    main thread is busy (it would be waiting in a collective)."""
    result = run_python(
        f"""
        import time
        from hpcseq.events import setup_logging
        from hpcseq.training.watchdog import Watchdog
        setup_logging("train", 0, 2)
        Watchdog({str(tmp_path)!r}, 0, 2, "run1", {TIMEOUT}).start()
        time.sleep(30)
        """
    )
    assert result.returncode == HANG_EXIT_CODE, result.stdout + result.stderr
    found = RANK_HUNG.search(result.stdout)
    assert found and (found["rank"], found["host"], found["code"]) == ("1", UNKNOWN, str(HANG_EXIT_CODE))
    assert " hpcseq train rank 0/2 ERROR rank 1 on host unknown" in result.stdout


def test_a_rank_that_fails_while_another_is_silent_says_so_as_it_exits(tmp_path):
    """An exception (Gloo's own timeout under horovodrun) ends the rank: at exit it names the rank
    whose heartbeat had stopped before."""
    result = run_python(
        f"""
        import os, time
        from hpcseq.events import setup_logging
        from hpcseq.training.watchdog import Watchdog
        setup_logging("train", 0, 2)
        print("pid", os.getpid(), flush=True)
        silent = Watchdog({str(tmp_path)!r}, 1, 2, "run1", {TIMEOUT})  # one heartbeat, then nothing
        silent.progress(99)
        silent.beat()
        Watchdog({str(tmp_path)!r}, 0, 2, "run1", {TIMEOUT}, on_hang=lambda d, s: None).start()
        time.sleep({SILENT_BEATS * heartbeat_interval(TIMEOUT) + 0.5})
        raise RuntimeError("Horovod has been shut down")
        """
    )
    assert result.returncode == 1 and "RuntimeError: Horovod has been shut down" in result.stderr
    found = RANK_SILENT.search(result.stdout)
    pid = result.stdout.split()[1]
    assert found and (found["rank"], found["pid"], found["step"]) == ("1", pid, "99"), result.stdout
    # and a rank that fails while every other rank beats names none
    quiet = run_python(
        f"""
        from hpcseq.events import setup_logging
        from hpcseq.training.watchdog import Watchdog
        setup_logging("train", 0, 2)
        Watchdog({str(tmp_path / "2")!r}, 1, 2, "run1", {TIMEOUT}).beat()
        Watchdog({str(tmp_path / "2")!r}, 0, 2, "run1", {TIMEOUT}, on_hang=lambda d, s: None).start()
        raise RuntimeError("a failure of its own")
        """
    )
    assert quiet.returncode == 1 and "sent no heartbeat" not in quiet.stdout
