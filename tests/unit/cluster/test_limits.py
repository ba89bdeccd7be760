"""hpcseq.cluster.limits: a budget where a cluster requires one (config, command line or
SBATCH_ACCOUNT), QoS and account as the Snakemake plugin's own resources, and partition limits on
time and nodes, each refused by key before anything is submitted (issue 13)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from snakemake_executor_plugin_slurm.submit_string import get_submit_command
from snakemake_executor_plugin_slurm.validation import validate_slurm_extra

from hpcseq import cli
from hpcseq.cluster import limits
from hpcseq.cluster import resources as job_resources
from hpcseq.errors import ConfigErrors
from tests.unit.cluster.conftest import EXPERIMENTS, SITE, shipped_config

JSC_CLUSTERS = ("jureca-dc", "juwels-booster", "juwels-cluster", "local-jsc")
EXPERIMENT = "shakespeare_char_rnn"
# 4 ranks: whole nodes on each of them (4 GPUs per node; 2 on local-jsc), for every experiment
WHOLE_NODES = {name: {"ranks": 4} for name in EXPERIMENTS}
WHOLE_NODES_ARGUMENT = "experiments={" + ", ".join(f"{name}: {{ranks: 4}}" for name in WHOLE_NODES) + "}"


def config_errors(**overrides) -> list:
    with pytest.raises(ConfigErrors) as caught:
        shipped_config(**overrides)
    return caught.value.errors


@pytest.mark.parametrize("cluster", JSC_CLUSTERS)
def test_a_cluster_that_requires_a_budget_refuses_a_run_without_one_once_naming_the_three_ways(cluster):
    [error] = config_errors(cluster=cluster, experiments=WHOLE_NODES)
    assert error.key == "slurm.account"
    text = str(error)
    assert f"cluster {cluster} charges every job to a compute budget (clusters.{cluster}.account_required)" in text
    assert "slurm.account in the config file" in text
    assert "--config 'slurm={account: NAME}'" in text and "hpcseq sbatch --account NAME" in text
    assert "export SBATCH_ACCOUNT=NAME" in text


@pytest.mark.parametrize("cluster", ["local", "generic"])
def test_a_cluster_without_the_requirement_runs_without_a_budget(cluster):
    config = shipped_config(cluster=cluster)
    assert job_resources.stage_resources(config, EXPERIMENT, "preprocess")["slurm_account"] == ""


def test_the_budget_comes_from_sbatch_account_when_the_config_has_none(monkeypatch):
    monkeypatch.setenv("SBATCH_ACCOUNT", "from-env")
    config = shipped_config(cluster="local-jsc")
    for stage in job_resources.JOB_STAGES:
        assert job_resources.stage_resources(config, EXPERIMENT, stage)["slurm_account"] == "from-env"
    # the config's (or the command line's) account wins over the environment's
    config = shipped_config(cluster="local-jsc", slurm={"account": "from-config"})
    assert job_resources.stage_resources(config, EXPERIMENT, "train")["slurm_account"] == "from-config"


def test_inside_a_job_the_budget_is_the_jobs_own_and_is_not_asked_for_again(monkeypatch):
    """The Slurm plugin runs Snakemake again inside each job, with SBATCH_* and SLURM_JOB_ACCOUNT
    stripped (its job step): the job was admitted with a budget, so none is asked for there."""
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    config = shipped_config(cluster="local-jsc")
    assert job_resources.stage_resources(config, EXPERIMENT, "train")["slurm_account"] == ""
    monkeypatch.setenv("SLURM_JOB_ACCOUNT", "of-the-job")  # a Snakemake driver run as a job hands it on
    config = shipped_config(cluster="local-jsc")
    assert job_resources.stage_resources(config, EXPERIMENT, "train")["slurm_account"] == "of-the-job"
    monkeypatch.setenv("SBATCH_ACCOUNT", "from-env")
    assert job_resources.stage_resources(config, EXPERIMENT, "train")["slurm_account"] == "from-env"


def test_a_hostile_sbatch_account_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv("SBATCH_ACCOUNT", "x; rm -rf ~")
    [error] = config_errors(cluster="local-jsc")
    assert error.key == "slurm.account (from $SBATCH_ACCOUNT)"
    assert "is not a valid Slurm name" in str(error)


def test_job_scripts_for_every_cluster_name_the_missing_budget_where_one_is_required():
    config = shipped_config(cluster=None, experiments=WHOLE_NODES)
    for cluster in JSC_CLUSTERS:
        [problem] = job_resources.job_script_problems(config, cluster, EXPERIMENT)
        assert problem.key == "slurm.account" and f"cluster {cluster} charges" in str(problem)
    assert job_resources.job_script_problems(config, "generic", EXPERIMENT) == []


def sbatch(capsys, *arguments: str) -> tuple[int, str, str]:
    code = cli.main(["sbatch", "--experiment", EXPERIMENT, "--config", WHOLE_NODES_ARGUMENT, *arguments])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_hpcseq_sbatch_writes_no_script_without_a_budget_and_writes_the_one_given(capsys, monkeypatch):
    code, out, err = sbatch(capsys, "--cluster", "jureca-dc", "--stdout")
    assert code == 2 and out == ""
    assert "config key slurm.account: cluster jureca-dc charges every job to a compute budget" in err
    code, out, err = sbatch(capsys, "--cluster", "jureca-dc", "--account", "training2543", "--stdout")
    assert code == 0, err
    assert "#SBATCH --account=training2543" in out
    monkeypatch.setenv("SBATCH_ACCOUNT", "from-env")  # written into the script: it runs where that is not set
    code, out, err = sbatch(capsys, "--cluster", "jureca-dc", "--stdout")
    assert code == 0, err
    assert "#SBATCH --account=from-env" in out


def test_every_cluster_gets_a_script_only_where_a_budget_is_not_needed_or_given(capsys, tmp_path):
    code, _, err = sbatch(capsys, "--cluster", "all", "--output-dir", str(tmp_path))
    assert code == 0, err
    for cluster in JSC_CLUSTERS:
        assert f"no script for {EXPERIMENT} on {cluster}: config key slurm.account: cluster {cluster}" in err
    assert "generic" in {p.parent.name for p in tmp_path.glob(f"*/{EXPERIMENT}.sbatch")}


@pytest.fixture(autouse=True)
def _keep_sigusr1():
    """cli.main sets SIGUSR1 to be ignored (for stages); put it back for the rest of the suite."""
    import signal

    previous = signal.getsignal(signal.SIGUSR1)
    yield
    signal.signal(signal.SIGUSR1, previous)


# ----------------------------------------------------------------------------- QoS and account


def plugin_job(resources: dict) -> SimpleNamespace:
    class Resources(dict):
        __getattr__ = dict.get

    return SimpleNamespace(resources=Resources(resources), threads=1)


def plugin_call(resources: dict) -> str:
    """The sbatch command line of the Snakemake Slurm plugin 2.8.0 (its own code) for these resources."""
    params = {
        "run_uuid": "uuid",
        "slurm_logfile": "log",
        "comment_str": "rule",
        "account": f"-A {resources['slurm_account']}",  # what the plugin's get_account_arg yields
        "partition": f"-p {resources['slurm_partition']}",
        "workdir": "",
    }
    return get_submit_command(plugin_job(resources), params)


@pytest.mark.parametrize("kind", job_resources.JOB_KINDS)
def test_qos_and_account_are_the_plugins_own_resources_and_never_in_slurm_extra(kind):
    every_stage = list(job_resources.JOB_STAGES)
    config = shipped_config(cluster="local-jsc", slurm={**SITE, "qos": "course", "reservation_stages": every_stage})
    resources = job_resources.stage_resources(config, EXPERIMENT, kind)
    assert tuple(resources) == job_resources.resource_keys(kind, config)
    assert resources["qos"] == "course" and resources["slurm_account"] == "training2543"
    assert "--qos" not in resources["slurm_extra"] and "--account" not in resources["slurm_extra"]
    assert "--reservation=dl-course" in resources["slurm_extra"]  # no per-job resource for it in the plugin
    validate_slurm_extra(plugin_job(resources))  # the plugin's own check: raises on a forbidden option
    call = plugin_call(resources)
    assert "--qos=course" in call and "-A training2543" in call and "--reservation=dl-course" in call


@pytest.mark.parametrize("kind", job_resources.JOB_KINDS)
def test_a_reservation_and_a_qos_reach_only_the_jobs_of_the_stages_they_name(kind):
    """By default a reservation goes to jobs that train only, a QoS to every job; each list can be
    changed, and a job of several stages takes them if any of its stages is listed."""
    config = shipped_config(cluster="local-jsc", slurm={**SITE, "qos": "course"})
    trains = "train" in job_resources.JOB_KINDS[kind]
    resources = job_resources.stage_resources(config, EXPERIMENT, kind)
    assert ("--reservation=dl-course" in resources["slurm_extra"]) == trains, (kind, resources)
    assert resources["qos"] == "course"
    moved = shipped_config(
        cluster="local-jsc",
        slurm={**SITE, "qos": "course", "reservation_stages": ["evaluate"], "qos_stages": ["preprocess"]},
    )
    resources = job_resources.stage_resources(moved, EXPERIMENT, kind)
    stages = job_resources.JOB_KINDS[kind]
    assert ("--reservation=dl-course" in resources["slurm_extra"]) == ("evaluate" in stages), (kind, resources)
    assert ("qos" in resources) == ("preprocess" in stages) == ("qos" in job_resources.resource_keys(kind, moved))


def test_a_stage_name_that_is_not_one_is_refused_in_the_stage_lists():
    with pytest.raises(ConfigErrors, match=r"slurm\.reservation_stages"):
        shipped_config(slurm={"reservation_stages": ["training"]})


def test_without_a_qos_the_plugin_gets_no_qos_resource():
    """The plugin passes `--qos=''` for a qos resource that is present but empty."""
    config = shipped_config(cluster="local", slurm=SITE)
    resources = job_resources.stage_resources(config, EXPERIMENT, "train")
    assert "qos" not in resources and "qos" not in job_resources.resource_keys("train", config)
    assert "--qos" not in plugin_call(resources)
    # without a cluster the stages run on this machine: no Slurm settings at all
    config = shipped_config(cluster=None, slurm={"qos": "course"})
    assert "qos" not in job_resources.resource_keys("train", config)


# ----------------------------------------------------------------------------- partition limits


def test_a_time_above_the_devel_partition_limit_is_refused_naming_key_value_limit_and_partition():
    devel = {EXPERIMENT: {"slurm": {"partition": "gpu_devel", "time": "00:20:00"}}}
    [error] = config_errors(cluster="local-jsc", slurm=SITE, experiments=devel)
    assert str(error) == (
        f"config key experiments.{EXPERIMENT}.slurm.time: 00:20:00 is above the 00:10:00 limit of "
        "partition jsc-devel on local-jsc"
    )
    devel[EXPERIMENT]["slurm"]["time"] = "00:10:00"  # at the limit: accepted
    assert shipped_config(cluster="local-jsc", slurm=SITE, experiments=devel)["cluster"] == "local-jsc"


def test_more_nodes_than_the_partition_allows_are_refused_naming_key_value_limit_and_partition():
    devel = {EXPERIMENT: {"ranks": 6, "slurm": {"partition": "gpu_devel", "time": "00:05:00"}}}
    [error] = config_errors(cluster="local-jsc", slurm=SITE, experiments=devel)
    assert str(error) == (
        f"config key experiments.{EXPERIMENT}.ranks: 6 ranks ask for 3 nodes, above the 2-node limit of "
        "partition jsc-devel on local-jsc"
    )
    devel[EXPERIMENT]["ranks"] = 4  # 2 nodes: accepted; the batch partition has no node limit
    shipped_config(cluster="local-jsc", slurm=SITE, experiments=devel)
    shipped_config(cluster="local-jsc", slurm=SITE, experiments={EXPERIMENT: {"ranks": 6}})


def test_limits_of_a_cluster_are_validated_by_key():
    with pytest.raises(ConfigErrors) as caught:
        limits.parse_limits("c", {"max_nodes": {"gpu": 0, "cpu": "2"}, "account_required": "yes"})
    keys = sorted(error.key for error in caught.value.errors)
    assert keys == ["clusters.c.account_required", "clusters.c.max_nodes.cpu", "clusters.c.max_nodes.gpu"]
    assert limits.parse_limits("c", {}) == limits.Limits(account_required=False, max_nodes={})
