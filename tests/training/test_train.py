"""Training with real TensorFlow and real Horovod ranks: plain process, horovodrun, mpirun;
reproducibility, resume from checkpoints, refusal of foreign checkpoints, evaluation."""

from __future__ import annotations

import json
import platform
import socket
import subprocess

import horovod
import numpy
import pytest
import tensorflow
import tf_keras

from hpcseq.cluster.launch import local_mpirun
from hpcseq.job_ledger import read_ledger
from hpcseq.logs.parse import console_progress, lines_from_text
from tests.conftest import REPO_ROOT
from tests.training.conftest import (
    HOROVODRUN,
    PYTHON,
    metrics_of,
    prepare,
    run_stage,
    summary_of,
    tiny_settings,
)


def rank_reports(paths):
    return [json.loads(p.read_text()) for p in sorted(paths.rank_reports.glob("rank-*.json"))]


def test_plain_process_trains_writes_metrics_checkpoints_and_is_reproducible(plain_training):
    trained = plain_training("char")
    settings, paths = trained.settings, trained.paths
    summary = summary_of(paths)
    assert summary["ranks"] == 1 and summary["launcher"] == "plain"
    records = metrics_of(paths)
    assert [r["epoch"] for r in records] == [1, 2]
    for record in records:
        assert {
            "loss",
            "val_loss",
            "sparse_categorical_accuracy",
            "samples_per_second",
            "train_seconds",
            "epoch_seconds",
            "learning_rate",
        } <= set(record)
        assert record["samples"] == 40 * 32
    assert records[1]["loss"] < records[0]["loss"]
    # the first execution of steps (tracing included) is timed apart, in the epoch it ran in only
    first, second = records
    assert 0 < first["first_execution_seconds"] < first["train_seconds"] and second["first_execution_seconds"] is None
    assert second["steady_samples_per_second"] == second["samples_per_second"]
    assert first["steady_samples_per_second"] is not None
    assert paths.final_model.is_file()
    assert sorted(p.name for p in paths.checkpoints.iterdir()) == ["epoch-0001-step-0000000", "epoch-0002-step-0000000"]
    # same seed, fresh start: the same weights bit for bit (CPU, op determinism on)
    first_hash = summary["weights_sha256"]
    run_stage("train", settings, paths.results_dir, extra=["--restart"])
    assert summary_of(paths)["weights_sha256"] == first_hash
    assert [r["loss"] for r in metrics_of(paths)] == [r["loss"] for r in records]


def test_rerun_resumes_from_the_last_checkpoint_and_matches_an_uninterrupted_run(plain_training, tmp_path):
    three = tiny_settings("char", training={"epochs": 3})
    straight = prepare(three, tmp_path / "straight")
    run_stage("train", three, straight.results_dir)

    two = plain_training("char")  # the same settings, trained for 2 epochs once per session
    assert two.settings == tiny_settings("char", training={"epochs": 2})
    resumed = two.paths
    result = run_stage("train", three, resumed.results_dir)  # more epochs: continues, does not restart
    assert "resuming from" in result.stdout and "2 of 3 epochs done" in result.stdout
    assert summary_of(resumed)["resumed_from_epoch"] == 2
    assert [r["epoch"] for r in metrics_of(resumed)] == [1, 2, 3]
    assert summary_of(resumed)["weights_sha256"] == summary_of(straight)["weights_sha256"]
    assert [r["val_loss"] for r in metrics_of(resumed)] == [r["val_loss"] for r in metrics_of(straight)]


def test_checkpoint_from_other_settings_is_refused_with_the_difference(char_experiment):
    settings, paths = char_experiment
    run_stage("train", settings, paths.results_dir)
    other = json.loads(json.dumps(settings))
    other["training"]["learning_rate"] = 0.01
    result = run_stage("train", other, paths.results_dir, check=False)
    assert result.returncode == 2
    assert "written with other settings" in result.stderr
    assert "training.learning_rate: checkpoint 0.001, now 0.01" in result.stderr
    assert "--restart" in result.stderr
    assert paths.checkpoints.is_dir()  # refused, and nothing moved or deleted


def slurm_jobs(paths) -> list[str]:
    return [entry["job_id"] for entry in read_ledger(paths.slurm_jobs)]


def test_workflow_sets_foreign_checkpoints_aside_and_switching_back_resumes_them(char_experiment):
    """... and the Slurm jobs of the job ledger go aside and come back with them (job_ledger.py):
    each run here as if in a Slurm job of its own (SLURM_JOB_ID)."""
    settings, paths = char_experiment
    run_stage("train", settings, paths.results_dir, env={"SLURM_JOB_ID": "901"})
    first = summary_of(paths)["weights_sha256"]
    original = sorted(p.name for p in paths.checkpoints.iterdir())
    other = json.loads(json.dumps(settings))
    other["training"]["learning_rate"] = 0.01
    set_aside = ["--foreign-checkpoints", "set-aside"]
    result = run_stage("train", other, paths.results_dir, extra=set_aside, env={"SLURM_JOB_ID": "902"})
    assert slurm_jobs(paths) == ["902"]  # the job of the old settings went aside with their checkpoints
    assert (
        "checkpoints of other settings (training.learning_rate: checkpoint 0.001, now 0.01) set aside" in result.stdout
    )
    assert "starting from scratch" in result.stdout and "resuming from" not in result.stdout
    aside = [p for p in paths.model_dir.iterdir() if p.name.startswith("checkpoints.settings-")]
    assert len(aside) == 1 and sorted(p.name for p in aside[0].iterdir()) == original
    assert summary_of(paths)["weights_sha256"] != first
    # back to the first settings: their checkpoints return and nothing is trained again
    result = run_stage("train", settings, paths.results_dir, extra=set_aside, env={"SLURM_JOB_ID": "903"})
    assert slurm_jobs(paths) == ["901", "903"]
    assert [entry["job_id"] for entry in read_ledger(paths.slurm_jobs_set_aside)] == ["902"]
    assert "set aside earlier, are back" in result.stdout
    assert "all 2 epochs were already done" in result.stdout
    assert summary_of(paths)["weights_sha256"] == first
    assert len([p for p in paths.model_dir.iterdir() if p.name.startswith("checkpoints.settings-")]) == 1


def _check_two_ranks(paths, launcher_name):
    reports = rank_reports(paths)
    assert [r["rank"] for r in reports] == [0, 1]
    assert all(r["size"] == 2 and r["launcher"] == launcher_name for r in reports)
    # Horovod kept the ranks in lockstep: identical weights at the end
    assert reports[0]["weights_sha256"] == reports[1]["weights_sha256"] == summary_of(paths)["weights_sha256"]
    return reports


def git_state() -> tuple[str, bool]:
    """The checkout's commit and whether `git status --porcelain` lists changes."""

    def git(*arguments):
        command = ["git", "--no-optional-locks", "-C", str(REPO_ROOT), *arguments]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()

    return git("rev-parse", "HEAD"), bool(git("status", "--porcelain"))


def _check_provenance(paths, result, launcher_name, controller, git_before):
    """Where and with what the two ranks ran, in the summary and on the console: each rank's own
    host through Horovod's allgather, the checkout's commit, the versions of this interpreter."""
    provenance = summary_of(paths)["provenance"]
    reports = rank_reports(paths)
    host = socket.gethostname()
    assert [(e["rank"], e["hostname"]) for e in provenance["ranks"]] == [(0, host), (1, host)]
    assert [e["pid"] for e in provenance["ranks"]] == [r["pid"] for r in reports]  # each rank its own entry
    assert [(e["local_rank"], e["local_size"], e["cross_rank"], e["cross_size"]) for e in provenance["ranks"]] == [
        (0, 2, 0, 1),
        (1, 2, 0, 1),
    ]
    assert (provenance["hosts"], provenance["host_count"]) == ([host], 1)
    assert provenance["launcher"] == launcher_name and provenance["slurm"] is None
    versions = provenance["versions"]
    assert (versions["python"], versions["tensorflow"], versions["keras"], versions["horovod"], versions["numpy"]) == (
        platform.python_version(),
        tensorflow.__version__,
        f"tf_keras {tf_keras.__version__}",  # Keras 2, as hpcseq selects it (hpcseq/stack.py)
        horovod.__version__,
        numpy.__version__,
    )
    assert versions["horovod_built"]["controller"] == controller
    if versions["horovod_built"]["mpi"]:  # the MPI library Horovod loaded, as mpirun reports its version
        mpirun = subprocess.run(["mpirun", "--version"], capture_output=True, text=True, check=True).stdout
        release = mpirun.split("\n")[0].split()[-1]  # "mpirun (Open MPI) 4.1.4"
        assert f"v{release}" in versions["mpi"]["library"] and versions["mpi"]["standard"]
    code = provenance["code"]
    # others may edit the checkout meanwhile: the state before or after the run
    assert (code["commit"], code["dirty"]) in {git_before, git_state()}
    assert code["repository"] == str(REPO_ROOT) and code["reason"] is None
    progress = console_progress(lines_from_text(result.stdout, "train.out"))
    assert progress.rank_hosts == [host, host]


def test_two_ranks_under_horovodrun_end_identical_with_disjoint_shards(char_experiment):
    settings, paths = char_experiment
    settings = {**settings, "ranks": 2}
    git_before = git_state()
    horovodrun = [HOROVODRUN, "-np", "2", "-H", "localhost:2", "--gloo"]
    result = run_stage("train", settings, paths.results_dir, launcher=horovodrun)
    reports = _check_two_ranks(paths, "horovodrun")
    _check_provenance(paths, result, "horovodrun", "gloo", git_before)
    a, b = (r["shard"] for r in reports)
    assert a["first"] + a["count"] <= b["first"]  # rank 0's windows end before rank 1's begin
    assert a["count"] > 0 and b["count"] > 0
    assert summary_of(paths)["global_batch_size"] == 64
    assert summary_of(paths)["learning_rate"]["scaled"] == pytest.approx(0.002)


def test_two_ranks_under_mpirun(sentiment_experiment):
    settings, paths = sentiment_experiment
    settings = {**settings, "ranks": 2}
    mpirun = local_mpirun(2)
    git_before = git_state()
    result = run_stage("train", settings, paths.results_dir, launcher=mpirun)
    reports = _check_two_ranks(paths, "mpirun")
    _check_provenance(paths, result, "mpirun", "mpi", git_before)
    shard_a, shard_b = (r["shard"] for r in reports)
    assert shard_a["offset"] == 0 and shard_b["offset"] == 1 and shard_a["stride"] == 2


def test_evaluation_of_both_models(plain_training):
    for trained in (plain_training("char"), plain_training("senti")):
        settings, paths = trained.settings, trained.paths
        run_stage("evaluate", settings, paths.results_dir)
        result = json.loads(paths.eval_metrics.read_text())
        assert paths.samples.is_file()
        if settings["task"] == "next_character":
            model = result["model_metrics"]
            assert model["perplexity"] == pytest.approx(2.718281828 ** model["loss"], rel=1e-6)
            assert model["bits_per_character"] == pytest.approx(model["loss"] / 0.693147, rel=1e-4)
            assert result["unigram_baseline"]["loss"] > 0
            assert len(result["samples"]) == 3 * 2  # three seed texts x (greedy, temperature 0.7)
            assert all(len(s["text"]) == 20 for s in result["samples"])
        else:
            matrix = result["model_metrics"]["confusion_matrix"]
            assert sum(map(sum, matrix)) == result["overlap"]["test_sentences"]
            assert result["overlap"]["also_in_training"] == 0  # the default split is leakage-free
            assert 0.0 <= result["majority_baseline"]["accuracy"] <= 1.0


def test_missing_horovod_environment_is_a_clear_error(tmp_path):
    result = subprocess.run(
        [
            PYTHON,
            "-m",
            "hpcseq",
            "launch",
            "--ranks",
            "1",
            "--",
            str(tmp_path / "nope/python"),
            "-m",
            "hpcseq",
            "train",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "training interpreter" in result.stderr and "make setup" in result.stderr


def test_a_checkpoint_of_one_hot_inputs_written_before_the_onehot_layer_counts_as_other_settings(tmp_path):
    """Such a checkpoint holds an identity Embedding's weight the model no longer has: its
    fingerprint differs, so the workflow sets it aside (as in the test above) instead of failing to
    load it; a model with a learned embedding keeps its old fingerprint."""
    from hpcseq.training.checkpoints import fingerprint_differences
    from hpcseq.training.resume import fingerprint_of

    vocab = tmp_path / "vocab.json"
    vocab.write_text("{}", encoding="utf-8")
    one_hot, learned = tiny_settings("char"), tiny_settings("senti")
    assert one_hot["architecture"]["embedding"] == "one_hot" and learned["architecture"]["embedding"] != "one_hot"
    now = fingerprint_of(one_hot, vocab, 1000)
    before = {key: value for key, value in now.items() if key != "weights_layout"}
    assert fingerprint_differences(before, now) == ["weights_layout: checkpoint '<absent>', now 'one_hot_layer'"]
    assert "weights_layout" not in fingerprint_of(learned, vocab, 1000)
