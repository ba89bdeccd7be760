"""A rank that hangs, with real ranks: one of 2 ranks is stopped with SIGSTOP in the middle of
training; the run ends within training.hang_timeout_seconds and a few seconds, the message names
the rank, its host and pid, and `hpcseq logs` gives that as the cause. Without the watchdog
nothing ends such a run under mpirun (measured; training/watchdog.py has the numbers)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time

import pytest

from hpcseq.errors import HANG_EXIT_CODE
from hpcseq.events import RANK_HUNG
from hpcseq.logs.diagnose import Facts, diagnose
from hpcseq.logs.parse import lines_from_text
from hpcseq.training.watchdog import heartbeat_path
from tests.training.conftest import prepare, tiny_settings
from tests.training.test_resume import command

HANG_TIMEOUT = 10  # seconds; heartbeats every 2.5 s
ENDS_WITHIN = HANG_TIMEOUT + 20  # two heartbeat intervals of detection, then the launcher's teardown


def heartbeats(paths) -> dict[int, dict]:
    found = {}
    for path in paths.heartbeats.glob("rank-*.json"):
        try:
            beat = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        found[beat["rank"]] = beat
    return found


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.1)
    raise TimeoutError(what)


def ranks_left(pids: dict[int, int], within: float) -> dict[int, str]:
    """{rank: state} of the ranks still alive (neither gone nor a zombie) after waiting up to
    `within` seconds for them to end."""
    deadline = time.monotonic() + within
    while True:
        alive = {rank: state for rank, pid in pids.items() if (state := process_state(pid)) not in ("gone", "Z")}
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def process_state(pid: int) -> str:
    """R, S, T (stopped), Z (ended, not reaped) or gone."""
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


@pytest.mark.parametrize("launcher,stopped", [("mpirun", 1), ("horovodrun", 0)])
def test_a_stopped_rank_ends_the_run_within_the_hang_timeout_and_is_named(launcher, stopped, tmp_path):
    training = {"epochs": 100, "max_steps_per_epoch": 100, "steps_per_execution": 4}
    settings = tiny_settings("char", training={**training, "hang_timeout_seconds": HANG_TIMEOUT})
    settings = {**settings, "ranks": 2}
    paths = prepare(settings, tmp_path / "results")
    earlier = heartbeat_path(paths.heartbeats, 5)  # of an earlier run on more ranks: never read
    earlier.parent.mkdir(parents=True)
    earlier.write_text(json.dumps({"run": "earlier", "rank": 5, "host": "x", "pid": 1, "beat": 1, "step": 9}))
    process = subprocess.Popen(
        command(settings, paths.results_dir, launcher),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    pids: dict[int, int] = {}
    try:
        # training under way on both ranks: their heartbeats of this run carry steps
        beats = wait_until(
            lambda: (found := heartbeats(paths)) and all(found.get(r, {}).get("step", 0) > 0 for r in (0, 1)) and found,
            300,
            "training did not start",
        )
        assert beats[0]["run"] == beats[1]["run"] and not earlier.exists()
        pids = {rank: beat["pid"] for rank, beat in beats.items()}
        os.kill(pids[stopped], signal.SIGSTOP)  # every thread of it stops, as on a frozen node
        stopped_at = time.monotonic()
        output, _ = process.communicate(timeout=ENDS_WITHIN + 30)
        ended_after = time.monotonic() - stopped_at
        # what the launcher left of the ranks, before the clean-up below: its kill of the stopped
        # rank may land a moment after it returns (seen with mpirun on a busy machine)
        left = ranks_left(pids, within=10)
    finally:
        for pid in pids.values():
            if process_state(pid) not in ("gone", "Z"):
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGKILL)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    print(f"{launcher}: ended {ended_after:.1f} s after SIGSTOP of rank {stopped}, exit code {process.returncode}")
    assert process.returncode != 0
    assert ended_after < ENDS_WITHIN, output[-3000:]
    found = RANK_HUNG.search(output)
    assert found, output[-3000:]
    assert (found["rank"], found["host"], found["pid"]) == (str(stopped), socket.gethostname(), str(pids[stopped]))
    assert int(found["step"]) > 0 and int(found["seconds"]) >= HANG_TIMEOUT
    assert found["code"] == str(HANG_EXIT_CODE)
    # the launcher ended the stopped rank too: nothing is left behind
    assert not left, left
    diagnosis = diagnose(
        Facts(lines=lines_from_text(output, "train.log"), exit_code=process.returncode, training_started=True)
    )
    assert diagnosis.kind == "rank_hung", diagnosis
    assert f"Rank {stopped} on {socket.gethostname()}" in diagnosis.summary
