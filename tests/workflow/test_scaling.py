"""The scaling study through Snakemake: `snakemake scaling` trains the tiny char_rnn on 1 and 2 real
Horovod ranks (horovodrun on this machine) with Horovod's timeline and writes its table, JSON
and plot; a normal run leaves it out; on a cluster each rank count gets the nodes training would."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import REPO_ROOT, run_snakemake, tiny_workflow_config, write_config

STUDY = {"experiments": ["tiny_char"], "ranks": [1, 2], "steps_per_epoch": 6, "epochs": 2}


@pytest.fixture
def snakemake(tmp_path):
    def run(*args, **options):
        return run_snakemake(*args, cwd=tmp_path / "run", **options)

    return run


def test_the_scaling_target_measures_each_rank_count_and_keeps_the_timelines(tmp_path, snakemake):
    config = tiny_workflow_config(tmp_path)
    config["scaling"] = STUDY
    path = write_config(tmp_path, config)
    snakemake("scaling", "--cores", "2", "--configfile", str(path))
    scaling = tmp_path / "results" / "scaling"
    study = json.loads((scaling / "tiny_char.json").read_text())
    assert (scaling / "tiny_char.png").read_bytes()[:4] == b"\x89PNG"
    assert "| ranks | nodes | steps | throughput (samples/s) | per rank |" in (scaling / "tiny_char.md").read_text()
    one, two = study["runs"]
    assert (one["ranks"], two["ranks"]) == (1, 2)
    assert (one["speedup"], one["efficiency"]) == (1.0, 1.0)
    assert two["speedup"] == pytest.approx(two["samples_per_second"] / one["samples_per_second"])
    for run in (one, two):
        shares = run["timeline"]["shares"]
        assert all(0 <= share <= 1 for share in shares.values())
        assert sum(shares.values()) == pytest.approx(run["timeline"]["communication_share"])
        assert run["timeline"]["communication_share"] <= 1
        assert run["measured_steps"] == 6 and run["batch_size_per_rank"] == 32  # weak scaling
        timeline = scaling / run["timeline"]["file"]
        assert timeline == scaling / "tiny_char.timeline" / f"ranks-{run['ranks']}.json" and timeline.is_file()
    # 2 ranks exchanged the 5 gradients of the model at every step, in Horovod's timeline
    assert two["timeline"]["gradient_tensors"] == 5 and two["timeline"]["communication_share"] > 0
    assert two["launcher"] == "horovodrun" and one["timeline"]["window_seconds"] is None
    run_dir = scaling / "tiny_char" / "ranks-2" / "model"
    summary = json.loads((run_dir / "training_summary.json").read_text())
    assert summary["ranks"] == 2 and summary["global_batch_size"] == 64
    # the model and checkpoints are temporary: a rerun starts afresh, never from a checkpoint
    assert not (run_dir / "checkpoints").exists() and not (run_dir / "final.keras").exists()
    assert not (tmp_path / "results" / "tiny_char" / "model").exists()  # the experiment's own training did not run
    again = snakemake("scaling", "-n", "--configfile", str(path))
    assert "Nothing to be done" in again.stdout + again.stderr


def test_a_normal_run_leaves_the_study_out_and_a_cluster_gets_nodes_per_rank_count(tmp_path, snakemake):
    result = snakemake("-n", "--config", f"results_dir={tmp_path}/r", f"jobs_dir={tmp_path}/j")
    assert "rule scaling" not in result.stdout  # (a warning may mention scaling.slurm)
    result = snakemake(
        "-n", "-p", "scaling", "--config", "cluster=jureca-dc", "scaling={ranks: [1, 8]}", f"results_dir={tmp_path}/r",
        "slurm={account: training2543}",
        # whole JSC nodes for every experiment (JSC charges whole nodes), as the README says; the
        # study's 1 rank is allowed on part of one
        "--configfile", str(REPO_ROOT / "config" / "config.yaml"), str(REPO_ROOT / "config" / "whole-nodes.yaml"),
    )  # fmt: skip
    planned = result.stdout
    assert planned.count("rule scaling_train:") == 2 and "rule scaling_table:" in planned
    resources = re.findall(r"resources: .*nodes=(\d+), tasks_per_node=(\d+), .*gres=(\S+), mpi=(.*)", planned)
    srun = "srun --cpu-bind=none --mpi=pspmix --threads-per-core=1"
    assert sorted(resources) == [("1", "1", "gpu:1", ""), ("2", "4", "gpu:4", srun)]
    assert "--ranks 8 --nodes 2 --tasks-per-node 4" in planned
    assert f"--horovod-timeline={tmp_path}/r/scaling/shakespeare_char_rnn.timeline/ranks-8.json" in planned
