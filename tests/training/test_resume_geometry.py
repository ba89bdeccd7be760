"""Resuming a training on another number of ranks (issue 26): real TensorFlow, real Horovod ranks.

What must hold (scripts/hpcseq/training/resume.py, docs/cluster/time-limits.md):
- every epoch is in metrics.jsonl exactly once, whatever the ranks before and after;
- with `global_batch_size` set, the global batch and the learning rate stay the same (each rank's
  batch is global / ranks), and the interrupted epoch continues at its step, with the metric sums
  of its first steps: its loss and the following epochs continue the curve;
- without it (`batch_size` per rank), the global batch and the learning rate change with the ranks:
  a WARNING in the log says from what to what, and the training summary's `resumes` records it.

What "node" means here: the local Slurm cluster of tests/slurm is not running in CI, so the "2
nodes x 2 ranks" leg is 4 Horovod ranks on this machine, started by horovodrun with two host names
for it (`-H localhost:2,<hostname>:2`, both local, so no ssh): Horovod sees 2 hosts of 2 ranks
(local_size 2, cross_size 2; the test reads what horovodrun told each rank), as on 2 real nodes.
Unlike real nodes the ranks share one machine's cores and memory and Gloo talks over loopback,
which does not matter to a resume: what it depends on is the number of ranks and each rank's batch
(tests/slurm/test_nodes.py shows that 2 nodes x 2 ranks under Slurm end with the same weights as 4
ranks on one machine). "1 node x 2 ranks" is 2 ranks of mpirun on this machine.

Cost: about 90 s of CPU time for the file (10 TensorFlow processes: most of it is their start).
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from hpcseq.cluster.launch import local_mpirun
from tests.training.conftest import HOROVODRUN, PYTHON, metrics_of, prepare, run_stage, summary_of, tiny_settings
from tests.training.test_resume import rank_processes, wait_until

TIME_LIMIT_WARNING_EXIT = 75  # hpcseq train's exit after a checkpoint on SIGUSR1 (Slurm's time-limit warning)
# Steps of an epoch of the 4-rank leg: long enough (20 executions of 2 steps, seconds even on a
# loaded machine) that SIGUSR1, sent once epoch 1's checkpoint is on disk, lands inside epoch 2
# (with 8 steps a loaded CI machine finished epoch 2 before the signal was acted on).
STEPS_PER_EPOCH = 40


def second_host_name() -> str:
    """Another name horovodrun takes for this machine, so that it sees two local hosts."""
    name = socket.gethostname()
    return name if name not in ("localhost", "") else "127.0.0.1"


def horovodrun(ranks: int, hosts: str) -> list[str]:
    return [HOROVODRUN, "-np", str(ranks), "-H", hosts, "--gloo"]


def latest_state(paths) -> dict:
    latest = sorted(paths.checkpoints.glob("epoch-*"))[-1]
    return json.loads((latest / "state.json").read_text())


def horovod_hosts(pids: dict[int, int]) -> dict[int, tuple[str, str, str]]:
    """rank -> (host, local rank, number of hosts) as horovodrun told each rank (its environment)."""
    found = {}
    for rank, pid in pids.items():
        raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        environ = dict(item.decode().split("=", 1) for item in raw if b"=" in item)
        found[rank] = (environ["HOROVOD_HOSTNAME"], environ["HOROVOD_LOCAL_RANK"], environ["HOROVOD_CROSS_SIZE"])
    return found


def stop_at_a_checkpoint(settings: dict, paths, launcher: list[str]) -> dict:
    """Start the training, wait for its first epoch's checkpoint, then send SIGUSR1 to its last
    rank (as Slurm warns before a time limit): all ranks stop at one step with a checkpoint.
    Returns horovod_hosts() of its ranks."""
    command = [*launcher, PYTHON, "-m", "hpcseq", "train", "--settings", json.dumps(settings)]
    process = subprocess.Popen(
        [*command, "--results-dir", str(paths.results_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        start_new_session=True,  # its own process group, which a failed test ends whole
    )
    try:
        wait_until(lambda: any(paths.checkpoints.glob("epoch-0001-*")), 300, "the first epoch did not finish")
        ranks = rank_processes(str(paths.results_dir))
        hosts = horovod_hosts(ranks)
        os.kill(ranks[max(ranks)], signal.SIGUSR1)
        output, _ = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=60)
    # every rank exits 75 after the checkpoint (horovodrun itself then exits 1, naming the 75)
    assert output.count("stopped on SIGUSR1 after writing checkpoint") == len(ranks), output[-3000:]
    return hosts


def test_two_nodes_of_two_ranks_continue_on_two_ranks_with_the_same_global_batch_and_rate(tmp_path):
    training = {
        "epochs": 2,
        "global_batch_size": 32,
        "learning_rate": 0.005,
        "max_steps_per_epoch": STEPS_PER_EPOCH,
        "steps_per_execution": 2,
        "checkpoint_every_minutes": None,
    }
    four = tiny_settings("char", ranks=4, training=training)
    paths = prepare(four, tmp_path / "results")
    second = second_host_name()
    hosts = stop_at_a_checkpoint(four, paths, horovodrun(4, f"localhost:2,{second}:2"))
    # what Horovod was told: 2 hosts of 2 ranks each
    assert hosts == {
        0: ("localhost", "0", "2"),
        1: ("localhost", "1", "2"),
        2: (second, "0", "2"),
        3: (second, "1", "2"),
    }
    stopped = latest_state(paths)
    assert stopped["geometry"]["ranks"] == 4
    assert stopped["epochs_completed"] == 1 and 0 < stopped["step_in_epoch"] < stopped["steps_per_epoch"], stopped

    two = {**four, "ranks": 2}
    result = run_stage("train", two, paths.results_dir, launcher=local_mpirun(2))
    console = result.stdout + result.stderr
    assert "global batch 32 (16 per rank) and learning rate 0.005 kept" in console, console[-3000:]
    assert "starts over" not in console

    metrics, summary = metrics_of(paths), summary_of(paths)
    assert [m["epoch"] for m in metrics] == [1, 2]  # none lost, none repeated
    assert [m["ranks"] for m in metrics] == [4, 2]
    # the optimizer's own rate, read at each epoch's end (a float32: 0.005 to 7 digits)
    assert metrics[0]["learning_rate"] == metrics[1]["learning_rate"] == pytest.approx(0.005, rel=1e-6)
    assert [m["samples"] for m in metrics] == [STEPS_PER_EPOCH * 32] * 2
    assert metrics[1]["resumed_at_step"] == stopped["step_in_epoch"]
    assert summary["global_batch_size"] == 32 and summary["batch_size_per_rank"] == 16
    assert summary["learning_rate"]["scaled"] == summary["learning_rate"]["base"] == 0.005
    (resume,) = summary["resumes"]
    assert (resume["epochs_completed"], resume["step_in_epoch"]) == (1, stopped["step_in_epoch"])
    assert not resume["epoch_started_over"]
    assert (resume["from"]["ranks"], resume["to"]["ranks"]) == (4, 2)
    assert resume["from"]["global_batch_size"] == resume["to"]["global_batch_size"] == 32
    assert resume["from"]["learning_rate"] == resume["to"]["learning_rate"] == 0.005
    assert sorted(resume["changed"]) == ["batch_size_per_rank", "ranks"]

    # continuous: in these first epochs an uninterrupted run lowers both losses every epoch, so the
    # tolerance is none: the resumed epoch must end below the one before. A resume that lost the
    # weights or optimizer state would train the second epoch's remaining steps from scratch and
    # end above the first epoch's whole epoch; lost metric sums would not change its validation loss.
    untrained = math.log(summary["vocabulary_size"])  # a uniform guess: what the losses start from
    print("loss, val_loss per epoch:", [(m["loss"], m["val_loss"]) for m in metrics], "untrained:", untrained)
    assert metrics[0]["val_loss"] < untrained
    assert metrics[1]["loss"] < metrics[0]["loss"] and metrics[1]["val_loss"] < metrics[0]["val_loss"]


def test_one_rank_continued_on_two_without_global_batch_warns_and_records_the_change(tmp_path):
    training = {"epochs": 2, "batch_size": 16, "max_steps_per_epoch": 4, "steps_per_execution": 2}
    one = tiny_settings("char", ranks=1, training=training)
    paths = prepare(one, tmp_path / "results")
    # the time-limit warning before training starts: a checkpoint after the first execution of steps
    first = run_stage("train", one, paths.results_dir, check=False, env={"HPCSEQ_TIME_LIMIT_WARNING": "1"})
    assert first.returncode == TIME_LIMIT_WARNING_EXIT, first.stdout[-3000:] + first.stderr[-3000:]
    assert latest_state(paths)["step_in_epoch"] == 2

    two = {**one, "ranks": 2}
    result = run_stage("train", two, paths.results_dir, launcher=local_mpirun(2))
    console = result.stdout + result.stderr
    assert (
        "WARNING resuming on 2 ranks, the checkpoint's run had 1: the global batch changes from 16 to 32 "
        "and the learning rate from 0.001 to 0.002" in console
    ), console[-3000:]
    assert "epoch 1 starts over" in console

    metrics, summary = metrics_of(paths), summary_of(paths)
    assert [m["epoch"] for m in metrics] == [1, 2]
    assert [m["ranks"] for m in metrics] == [2, 2]
    (resume,) = summary["resumes"]
    assert (resume["epochs_completed"], resume["step_in_epoch"], resume["epoch_started_over"]) == (0, 2, True)
    assert (resume["from"]["ranks"], resume["from"]["global_batch_size"], resume["from"]["learning_rate"]) == (
        1,
        16,
        0.001,
    )
    assert (resume["to"]["ranks"], resume["to"]["global_batch_size"], resume["to"]["learning_rate"]) == (2, 32, 0.002)
    assert {"ranks", "global_batch_size", "learning_rate"} <= set(resume["changed"])


def test_pooled_metric_sums_give_the_epoch_mean_over_all_items():
    """4 ranks stopped inside an epoch, 2 continue it: the average of the 2 ranks' means (what
    Horovod's MetricAverageCallback logs) equals the mean over every item of the epoch."""
    from hpcseq.training.run_state import pooled_metric_states

    losses_before = [[1.0, 2.0], [3.0, 5.0], [4.0, 4.0], [8.0, 1.0]]  # per rank of 4, 2 items each
    saved = [[[sum(rank), float(len(rank))]] for rank in losses_before]  # one Mean metric: total, count
    losses_after = [[2.0, 0.5, 1.5], [0.0, 3.0, 2.5]]  # per rank of 2, 3 items each
    ((total, count),) = pooled_metric_states(saved, 2)  # every continuing rank starts from these
    means = [(total + sum(items)) / (count + len(items)) for items in losses_after]
    every_item = [loss for rank in losses_before + losses_after for loss in rank]
    assert sum(means) / 2 == pytest.approx(sum(every_item) / len(every_item))
