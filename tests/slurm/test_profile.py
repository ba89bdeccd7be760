"""`snakemake --profile slurm` against the real local Slurm cluster, and dry runs of the profile
for every cluster definition with the plugin's own sbatch arguments checked against the cluster."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest
import yaml

from tests.conftest import DEFAULT_RUN, REPO_ROOT, SHIPPED_EXPERIMENTS
from tests.slurm.conftest import PROFILE, sacct, slurm_logs, snakemake

CLUSTERS = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())["clusters"]


def planned_train_resources(output: str) -> dict[str, dict]:
    """experiment -> resources of its train job, read from a dry run's plan."""
    plans = {}
    for block in output.split("rule train:")[1:]:
        experiment = re.search(r"wildcards: experiment=(\S+)", block).group(1)
        line = re.search(r"resources: (.*)", block).group(1)
        resources = dict(item.split("=", 1) for item in re.split(r", (?=\w+=)", line))
        plans[experiment] = resources
    return plans


def plugin_sbatch_call(resources: dict) -> str:
    """The sbatch command line the Slurm plugin 2.8.0 builds for these resources (its own code)."""
    from snakemake_executor_plugin_slurm.submit_string import get_submit_command
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    typed = {key: int(value) if value.isdigit() else value for key, value in resources.items()}

    class Resources(dict):
        __getattr__ = dict.__getitem__

    job = SimpleNamespace(resources=Resources(typed), threads=1)
    params = {
        "run_uuid": "uuid",
        "slurm_logfile": "log",
        "comment_str": "rule_train",
        "account": "",
        "partition": f"-p {typed['slurm_partition']}",
        "workdir": "",
    }
    return get_submit_command(job, params) + set_gres_string(job)


@pytest.mark.parametrize("cluster", sorted(CLUSTERS))
@pytest.mark.parametrize("ranks", [1, 2, 8])
def test_profile_dry_run_for_every_cluster_matches_its_shape(cluster, ranks, local_slurm, tmp_path):
    gpus = CLUSTERS[cluster]["gpus_per_node"]
    if ranks > gpus and ranks % gpus:
        ranks = gpus * 2
    # 1 or 2 ranks are part of a JSC node, which JSC charges in full: allowed here on purpose (issue 13)
    overrides = {name: {"ranks": ranks, "slurm": {"allow_partial_node": True}} for name in SHIPPED_EXPERIMENTS}
    config = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())
    for name, values in overrides.items():
        config["experiments"][name].update(values)
    config.update(cluster=cluster, results_dir=str(tmp_path / "r"), jobs_dir=str(tmp_path / "j"))
    config["slurm"]["account"] = "training2543"
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    result = snakemake("-n", "-p", *PROFILE, "--configfile", str(path), cwd=tmp_path / "run")
    plans = planned_train_resources(result.stdout)
    assert sorted(plans) == DEFAULT_RUN
    for experiment, resources in plans.items():
        nodes, per_node = int(resources["nodes"]), int(resources["tasks_per_node"])
        assert nodes * per_node == ranks, (experiment, resources)
        assert per_node <= gpus
        assert resources["gres"] == f"gpu:{per_node}"
        assert resources["slurm_partition"] == CLUSTERS[cluster]["partitions"]["gpu"]
        assert resources["slurm_account"] == "training2543"
        call = plugin_sbatch_call(resources)
        assert f"--nodes={nodes}" in call and f"--gres=gpu:{per_node}" in call
        assert "--ntasks-per-gpu" not in call  # the plugin turns tasks + a GPU gres into --ntasks-per-gpu
        if ranks > 1:
            assert resources["mpi"].startswith("srun ")
            assert f"--ntasks-per-node={per_node}" in call
        else:
            # the plugin refuses an MPI job of one task; the rule starts the rank with srun itself
            assert resources.get("mpi", "") == ""
    # every rank count, one too, starts as a job step (Slurm's time-limit warning goes to job steps)
    for block in result.stdout.split("rule train:")[1:]:
        assert "--srun='srun " in block, block


def _rank_reports(results, experiment):
    return [json.loads((results / experiment / "model" / "ranks" / f"rank-{r}.json").read_text()) for r in (0, 1)]


def test_whole_pipeline_as_slurm_jobs_equals_a_local_run(profile_pipeline, local_pipeline, tmp_path):
    results = profile_pipeline.root / "results"
    run_dir = profile_pipeline.run_dir
    submitted = {job: rule for job, (rule, _) in profile_pipeline.submitted.items()}
    rules = set(submitted.values())
    assert {
        "preprocess_text",
        "preprocess_sentences",
        "vocabulary_characters",
        "vocabulary_words",
        "train",
        "evaluate",
    } <= rules

    local_results = local_pipeline.results  # the same tiny config, run on this machine

    for experiment in ("tiny_char", "tiny_sentiment"):
        reports = _rank_reports(results, experiment)
        job_id = reports[0]["slurm"]["SLURM_JOB_ID"]
        assert reports[1]["slurm"]["SLURM_JOB_ID"] == job_id
        # both ranks started by srun --mpi=pmix inside the job: one step, PMIx ranks 0 and 1
        assert [r["launcher"] for r in reports] == ["srun", "srun"]
        assert [r["slurm"]["PMIX_RANK"] for r in reports] == ["0", "1"]
        assert reports[0]["slurm"]["SLURM_JOB_PARTITION"] == "gpus"
        assert reports[0]["weights_sha256"] == reports[1]["weights_sha256"]
        rows = {row["JobID"]: row for row in sacct(job_id)}
        assert rows[job_id]["Partition"] == "gpus" and rows[job_id]["State"] == "COMPLETED"
        assert "gres/gpu=2" in rows[job_id]["AllocTRES"]
        assert rows[f"{job_id}.0"]["NTasks"] == "2" and rows[f"{job_id}.0"]["State"] == "COMPLETED"
        # the same numbers as the local run (horovodrun + Gloo there, srun + MPI here)
        local = json.loads((local_results / experiment / "model" / "training_summary.json").read_text())
        remote = json.loads((results / experiment / "model" / "training_summary.json").read_text())
        assert remote["weights_sha256"] == local["weights_sha256"]
        assert remote["launcher"] == "srun" and local["launcher"] == "horovodrun"
        remote_eval = json.loads((results / experiment / "eval" / "metrics.json").read_text())
        local_eval = json.loads((local_results / experiment / "eval" / "metrics.json").read_text())
        assert remote_eval["model_metrics"] == local_eval["model_metrics"]
    # the CPU stages ran on the default partition with one CPU
    preprocess_job = next(job for job, rule in submitted.items() if rule == "preprocess_text")
    row = next(r for r in sacct(preprocess_job) if r["JobID"] == preprocess_job)
    assert row["Partition"] == "batch" and row["State"] == "COMPLETED" and "gres/gpu" not in row["AllocTRES"]
    # Slurm logs of successful jobs are kept for `hpcseq logs`, in the directory Snakemake ran in
    assert list(slurm_logs(run_dir, "train", "tiny_char").glob("*.log"))
    (tmp_path / "sacct.txt").write_text("\n".join(str(sacct(job)) for job in submitted))
