"""hpcseq.cluster.resources: job plans, Snakemake Slurm plugin resources, and Slurm checks of a config."""

from __future__ import annotations

import pytest

from hpcseq import config as config_module
from hpcseq.cluster import resources as job_resources
from hpcseq.errors import ConfigErrors
from tests.unit.cluster.conftest import CLUSTERS, EXPERIMENTS, SITE, jsc_config, shipped_config


@pytest.mark.parametrize("ranks,nodes,per_node", [(1, 1, 1), (4, 1, 4), (8, 2, 4), (16, 4, 4)])
def test_training_geometry_fills_whole_nodes(ranks, nodes, per_node):
    own = {"ranks": ranks, "slurm": {"allow_partial_node": ranks < 4}}
    config = shipped_config(experiments={"shakespeare_char_rnn": own})
    plan = job_resources.plan_job(config, "jureca-dc", "shakespeare_char_rnn", "train")
    assert (plan.geometry.nodes, plan.geometry.tasks_per_node) == (nodes, per_node)
    assert plan.geometry.ranks == ranks
    resources = job_resources.snakemake_resources(plan)
    assert resources["gres"] == f"gpu:{per_node}" and resources["nodes"] == nodes
    assert "tasks" not in resources  # the plugin would turn it into --ntasks-per-gpu
    assert (resources["mpi"] != "") == (ranks > 1)


def test_ranks_that_do_not_fill_nodes_are_refused_by_key():
    with pytest.raises(ConfigErrors) as caught:
        shipped_config(cluster="jureca-dc", experiments={"shakespeare_char_rnn": {"ranks": 6}})
    assert any(
        error.key == "experiments.shakespeare_char_rnn.ranks" and "multiple of 4" in str(error)
        for error in caught.value.errors
    )


def test_time_limit_above_the_partition_limit_is_refused():
    with pytest.raises(ConfigErrors) as caught:
        jsc_config(
            cluster="jureca-dc",
            experiments={"shakespeare_char_rnn": {"slurm": {"partition": "gpu_devel", "time": "03:00:00"}}},
        )
    assert any("above the 02:00:00 limit of partition dc-gpu-devel" in str(e) for e in caught.value.errors)


def test_site_settings_reach_the_snakemake_resources_quoted():
    config = shipped_config(slurm=SITE)
    resources = job_resources.snakemake_resources(
        job_resources.plan_job(config, "local", "shakespeare_char_rnn", "train")
    )
    assert resources["slurm_account"] == "training2543"
    assert resources["slurm_extra"] == (
        "--reservation=dl-course --mail-user=jane.doe@fz-juelich.de --mail-type=END,FAIL --signal=USR1@120"
    )
    assert resources["slurm_partition"] == "gpus" and resources["mpi"] == "srun --mpi=pmix"


def test_no_cluster_is_a_valid_local_only_config():
    raw = config_module.load_yaml(config_module.DEFAULT_CONFIG_PATH)
    raw.pop("clusters")
    raw["cluster"] = None
    config = config_module.validate_config(raw)
    assert job_resources.stage_resources(config, "shakespeare_char_rnn", "train")["tasks_per_node"] == 2
    raw["cluster"] = "jureca-dc"
    with pytest.raises(ConfigErrors, match="'jureca-dc' is not defined under `clusters`"):
        config_module.validate_config(raw)


@pytest.mark.parametrize("cluster", [None, *CLUSTERS])
@pytest.mark.parametrize("ranks", [1, 2])
def test_every_stage_has_exactly_its_resource_keys(cluster, ranks):
    """The workflow declares resource_keys(stage) for each rule; stage_resources builds those, in order."""
    partial = {"ranks": ranks, "slurm": {"allow_partial_node": True}}  # 1 or 2 of a JSC node's 4 GPUs
    config = shipped_config(cluster=cluster, slurm=SITE, experiments={name: partial for name in EXPERIMENTS})
    for stage in job_resources.JOB_STAGES:
        resources = job_resources.stage_resources(config, "shakespeare_char_rnn", stage)
        assert tuple(resources) == job_resources.resource_keys(stage, config), (cluster, stage)
        assert all(value is not None for value in resources.values())
        assert isinstance(resources["runtime"], int) and resources["runtime"] >= 1


def test_job_stages_are_the_stages_with_a_time_limit():
    schema = config_module.load_schema()["$defs"]["slurm_settings"]["properties"]["time"]["properties"]
    assert set(job_resources.JOB_STAGES) == set(schema)


def test_runtime_is_in_whole_minutes_rounded_up():
    config = shipped_config(slurm={"time": {"preprocess": "0:61"}})
    for cluster in (None, "jureca-dc"):
        config["cluster"] = cluster
        assert job_resources.stage_resources(config, "shakespeare_char_rnn", "preprocess")["runtime"] == 2


def test_slurm_config_errors_lists_every_bad_value_before_planning():
    config = shipped_config()
    config["slurm"]["time"]["train"] = "soon"
    config["slurm"]["account"] = "a b"
    config["experiments"]["shakespeare_char_rnn"]["slurm"]["time"] = "later"
    config["experiments"]["shakespeare_char_rnn"]["ranks"] = 6  # not planned: the values above are wrong
    config["cluster"] = "nowhere"
    keys = [error.key for error in job_resources.slurm_config_errors(config)]
    assert keys == ["cluster", "slurm.account", "slurm.time.train", "experiments.shakespeare_char_rnn.slurm.time"]
    assert job_resources.slurm_config_errors(shipped_config()) == []


def test_settings_are_checked_against_the_cluster_in_use_only():
    """Issue 11.1: a partition that only JSC's clusters have, a time limit above JSC's, and a rank
    count that fills no node of the local cluster are each fine where they are used."""
    devel = {"shakespeare_char_rnn": {"slurm": {"partition": "gpu_devel"}}}
    assert jsc_config(cluster="jureca-dc", experiments=devel)["cluster"] == "jureca-dc"
    with pytest.raises(ConfigErrors, match="cluster local has no 'gpu_devel' partition"):
        shipped_config(cluster="local", experiments=devel)
    long = {"shakespeare_char_rnn": {"slurm": {"time": "30:00:00"}}}
    shipped_config(cluster="local", experiments=long)
    with pytest.raises(ConfigErrors, match="above the 1-00:00:00 limit"):
        jsc_config(cluster="jureca-dc", experiments=long)
    three = {"shakespeare_char_rnn": {"ranks": 3}}
    shipped_config(cluster=None, experiments=three)
    with pytest.raises(ConfigErrors, match="3 ranks do not fill whole nodes of 2 GPUs on local"):
        shipped_config(cluster="local", experiments=three)
    # two ranks fill a node of the local cluster (2 GPUs) but half of a JSC node, which JSC charges in full
    shipped_config(cluster="local")
    with pytest.raises(ConfigErrors, match=r"2 rank\(s\) use 2 of the 4 GPUs of a node, and jureca-dc charges whole"):
        shipped_config(cluster="jureca-dc", slurm=SITE)


def test_a_job_script_problem_names_the_cluster_it_does_not_fit():
    devel = {"shakespeare_char_rnn": {"ranks": 4, "slurm": {"partition": "gpu_devel"}}}
    config = shipped_config(cluster=None, slurm=SITE, experiments=devel)
    assert job_resources.job_script_problems(config, "jureca-dc", "shakespeare_char_rnn") == []
    [problem] = job_resources.job_script_problems(config, "generic", "shakespeare_char_rnn")
    assert "cluster generic has no 'gpu_devel' partition" in str(problem)


def test_on_a_cluster_that_charges_whole_nodes_the_profile_submits_only_training_jobs():
    """local-jsc as the JSC clusters: preprocessing and vocabulary where Snakemake runs, evaluation
    in the training job (whose time limit is training's, as a job script's); `local` keeps a job per
    stage."""
    config = jsc_config(cluster="jureca-dc")
    where = job_resources.profile_jobs(config)
    assert where == {
        "preprocess": None,
        "vocabulary": None,
        "train": "train_and_evaluate",
        "evaluate": "train_and_evaluate",
    }
    assert job_resources.profile_job_kind(config, "train") == "train_and_evaluate"
    combined = job_resources.plan_job(config, "jureca-dc", "shakespeare_char_rnn", "train_and_evaluate")
    alone = job_resources.plan_job(config, "jureca-dc", "shakespeare_char_rnn", "train")
    assert combined.time_seconds == alone.time_seconds == 2 * 3600
    assert combined.geometry == alone.geometry and combined.partition == "dc-gpu"
    local = shipped_config(cluster="local")
    assert job_resources.profile_jobs(local) == {stage: stage for stage in job_resources.JOB_STAGES}
