"""Fault tolerance with real ranks: a run killed with SIGKILL at a random step and rerun ends with
exactly the weights and metrics of an uninterrupted run; SIGUSR1 (Slurm's time-limit warning) on
one rank makes every rank stop at the same step, checkpoint and exit 75.

Why exact equality holds on CPU: a batch is a pure function of its global step (stateless
shuffling), the checkpoint holds weights, optimizer state (with its step counter, which drives the
learning-rate schedule), every rank's dropout-generator state and the partial sums of the
interrupted epoch's metrics, TensorFlow runs with op determinism, and an allreduce of two ranks
adds the same two numbers in either order.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from hpcseq.cluster.launch import local_mpirun
from tests.training.conftest import prepare, tiny_settings
from tests.training.test_train import HOROVODRUN, PYTHON, metrics_of, summary_of

TRAINING = {"epochs": 4, "max_steps_per_epoch": 120, "steps_per_execution": 4, "checkpoint_every_minutes": 0.02}


def settings_for(model: str) -> dict:
    name = "char" if model == "char_rnn" else "senti"
    extra = {"batch_size": 32} if model == "char_rnn" else {"batch_size": 16, "max_steps_per_epoch": 60}
    settings = tiny_settings(name, training={**TRAINING, **extra})
    return {**settings, "ranks": 2}


def command(settings, results_dir, launcher="horovodrun"):
    prefix = [HOROVODRUN, "-np", "2", "-H", "localhost:2", "--gloo"] if launcher == "horovodrun" else local_mpirun(2)
    return [
        *prefix,
        PYTHON,
        "-m",
        "hpcseq",
        "train",
        "--settings",
        json.dumps(settings),
        "--results-dir",
        str(results_dir),
    ]


def run_to_end(settings, results_dir, launcher="horovodrun") -> subprocess.CompletedProcess:
    result = subprocess.run(
        command(settings, results_dir, launcher),
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def rank_processes(marker: str) -> dict[int, int]:
    """rank -> pid of the training processes whose command line contains `marker`."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            environ = dict(
                item.split(b"=", 1) for item in (entry / "environ").read_bytes().split(b"\0") if b"=" in item
            )
        except OSError:
            continue
        if b"hpcseq" in cmdline and b"train" in cmdline and any(marker.encode() in part for part in cmdline):
            rank = environ.get(b"HOROVOD_RANK") or environ.get(b"OMPI_COMM_WORLD_RANK")
            if rank is not None and b"python" in cmdline[0]:
                found[int(rank)] = int(entry.name)
    return found


def wait_until(predicate, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(what)


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    """Uninterrupted 2-rank runs of both models: the numbers an interrupted run must reproduce."""
    refs = {}
    for model in ("char_rnn", "sentiment_lstm"):
        settings = settings_for(model)
        paths = prepare(settings, tmp_path_factory.mktemp(f"reference-{model}"))
        run_to_end(settings, paths.results_dir)
        refs[model] = (summary_of(paths), metrics_of(paths))
    return refs


# One kill per model and run: each run draws its own moment (printed), so CI runs keep sampling
# new steps; repetitions within one run cost a minute of both cores each.
@pytest.mark.parametrize("model", ["char_rnn", "sentiment_lstm"])
def test_sigkill_at_a_random_step_then_rerun_equals_an_uninterrupted_run(model, references, tmp_path):
    settings = settings_for(model)
    paths = prepare(settings, tmp_path / "results")
    process = subprocess.Popen(
        command(settings, paths.results_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    # wait for training to be under way (a first checkpoint), then kill every rank at a random moment
    wait_until(lambda: paths.checkpoints.is_dir() and any(paths.checkpoints.glob("epoch-*")), 300, "no checkpoint")
    delay = random.uniform(0.0, 2.5)
    time.sleep(delay)
    ranks = rank_processes(str(paths.results_dir))
    assert process.poll() is None and len(ranks) == 2, f"training ended before the kill (delay {delay:.2f} s)"
    for pid in ranks.values():
        os.kill(pid, signal.SIGKILL)  # as a crashed node: no handler runs, nothing is flushed
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    checkpoints = sorted(p.name for p in paths.checkpoints.glob("epoch-*"))
    print(f"killed after {delay:.2f} s; checkpoints left: {checkpoints}")

    result = run_to_end(settings, paths.results_dir)
    assert "resuming from" in result.stdout
    summary, metrics = summary_of(paths), metrics_of(paths)
    reference_summary, reference_metrics = references[model]
    assert summary["weights_sha256"] == reference_summary["weights_sha256"]
    for got, expected in zip(metrics, reference_metrics, strict=True):
        for key in ("epoch", "loss", "val_loss"):
            assert got[key] == expected[key], (key, got, expected)


def test_sigusr1_on_one_rank_stops_all_ranks_at_one_step_with_a_checkpoint(references, tmp_path):
    settings = settings_for("char_rnn")
    settings["training"] = {**settings["training"], "checkpoint_every_minutes": None}
    paths = prepare(settings, tmp_path / "results")
    process = subprocess.Popen(
        command(settings, paths.results_dir, "mpirun"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    wait_until(
        lambda: any(paths.checkpoints.glob("epoch-0001-*")) if paths.checkpoints.is_dir() else False,
        300,
        "first epoch did not finish",
    )
    time.sleep(random.uniform(0.1, 0.8))
    ranks = rank_processes(str(paths.results_dir))
    os.kill(ranks[1], signal.SIGUSR1)  # only rank 1 hears it; the step guard tells rank 0
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 75, output[-3000:]
    assert output.count("stopped on SIGUSR1 after writing checkpoint") == 2  # both ranks, same message
    latest = sorted(paths.checkpoints.glob("epoch-*"))[-1]
    state = json.loads((latest / "state.json").read_text())
    assert state["step_in_epoch"] > 0 or state["epochs_completed"] > 1
    assert len(state["random_generators"]) == 2
    # the rerun continues from there and ends as the uninterrupted run (checkpoint timing is not
    # part of the computation, so the reference with time-based checkpoints applies)
    run_to_end(settings, paths.results_dir)
    assert summary_of(paths)["weights_sha256"] == references["char_rnn"][0]["weights_sha256"]


def test_sigterm_checkpoints_and_exits_143(char_experiment):
    settings, paths = char_experiment
    settings = {**settings, "training": {**settings["training"], "epochs": 30, "max_steps_per_epoch": 200}}
    process = subprocess.Popen(
        [PYTHON, "-m", "hpcseq", "train", "--settings", json.dumps(settings), "--results-dir", str(paths.results_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_until(lambda: paths.metrics.is_file() and paths.metrics.read_text().strip(), 300, "no epoch finished")
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 143, output[-2000:]
    assert "stopped on SIGTERM after writing checkpoint" in output
    states = [json.loads((p / "state.json").read_text()) for p in paths.checkpoints.glob("epoch-*")]
    assert max(s["global_step"] for s in states) > 200  # more than the first epoch's checkpoint


def test_time_limit_warning_before_training_starts_is_not_lost(char_experiment):
    """The job script exports HPCSEQ_TIME_LIMIT_WARNING when Slurm's warning came during
    preprocessing: training then checkpoints after its first steps and exits 75."""
    settings, paths = char_experiment
    result = subprocess.run(
        [PYTHON, "-m", "hpcseq", "train", "--settings", json.dumps(settings), "--results-dir", str(paths.results_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HPCSEQ_TIME_LIMIT_WARNING": "1"},
    )
    assert result.returncode == 75, result.stdout[-2000:] + result.stderr[-2000:]
    state = json.loads(next(paths.checkpoints.glob("epoch-0000-step-*")).joinpath("state.json").read_text())
    assert state["step_in_epoch"] == settings["training"]["steps_per_execution"]
