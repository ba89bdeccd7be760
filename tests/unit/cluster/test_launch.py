"""hpcseq.cluster.launch.build_launch_command: srun inside Slurm, horovodrun/mpirun or a plain process outside."""

from __future__ import annotations

import os

import pytest

from hpcseq.cluster.launch import (
    build_launch_command,
    check_interpreter,
    in_slurm_allocation,
    srun_counts,
    training_step_options,
    with_setup,
)
from hpcseq.errors import ConfigError, EnvironmentSetupError

SLURM = {"SLURM_JOB_ID": "12345", "PATH": "/usr/bin"}
LOCAL = {"PATH": "/usr/bin"}


@pytest.fixture
def fake_env(tmp_path):
    """A fake training venv: bin/python and bin/horovodrun, both executable."""
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("python", "horovodrun"):
        path = bin_dir / name
        path.write_text("#!/bin/sh\nexit 0\n")
        path.chmod(0o755)
    return bin_dir


def command(python="python"):
    return [str(python), "-m", "hpcseq", "train", "--settings", '{"a": 1}']


def test_in_slurm_allocation():
    assert in_slurm_allocation(SLURM)
    assert not in_slurm_allocation(LOCAL)
    assert not in_slurm_allocation({"SLURM_JOB_ID": ""})


def test_slurm_uses_the_srun_line_with_explicit_counts():
    argv = build_launch_command(
        command(),
        ranks=8,
        nodes=2,
        tasks_per_node=4,
        srun="srun --mpi=pmix --cpu-bind=none",
        local_launcher="horovodrun",
        environ=SLURM,
    )
    assert argv == [
        "srun",
        "--mpi=pmix",
        "--cpu-bind=none",
        "--kill-on-bad-exit=1",
        "--nodes=2",
        "--ntasks=8",
        "--ntasks-per-node=4",
        *command(),
    ]


def test_slurm_single_rank_still_uses_srun():
    argv = build_launch_command(command(), 1, 1, 1, "srun", "horovodrun", environ=SLURM)
    assert argv == ["srun", "--kill-on-bad-exit=1", "--nodes=1", "--ntasks=1", "--ntasks-per-node=1", *command()]


def test_slurm_srun_line_is_split_like_a_shell():
    argv = build_launch_command(["x"], 2, 1, 2, "srun --export='ALL,A=1 2'", "mpirun", environ=SLURM)
    assert argv == [
        "srun",
        "--export=ALL,A=1 2",
        "--kill-on-bad-exit=1",
        "--nodes=1",
        "--ntasks=2",
        "--ntasks-per-node=2",
        "x",
    ]


@pytest.mark.parametrize("ranks, nodes, tasks", [(3, 2, 2), (8, 2, 2), (2, 1, 4)])
def test_slurm_rejects_ranks_that_do_not_fill_the_nodes(ranks, nodes, tasks):
    with pytest.raises(ConfigError) as caught:
        build_launch_command(command(), ranks, nodes, tasks, "srun", "horovodrun", environ=SLURM)
    assert caught.value.key == "ranks"
    assert f"{ranks} ranks do not fill {nodes} node(s) x {tasks} tasks" in str(caught.value)


@pytest.mark.parametrize("ranks, nodes, tasks", [(0, 1, 1), (2, 0, 2), (2, 1, 0)])
def test_counts_below_one_are_rejected(ranks, nodes, tasks):
    for environ in (SLURM, LOCAL):
        with pytest.raises(ConfigError) as caught:
            build_launch_command(command(), ranks, nodes, tasks, "srun", "horovodrun", environ=environ)
        assert caught.value.key == "ranks"


def test_one_local_rank_runs_the_command_plainly(fake_env):
    python = fake_env / "python"
    for launcher in ("horovodrun", "mpirun"):
        argv = build_launch_command(command(python), 1, 1, 1, "srun", launcher, environ=LOCAL)
        assert argv == command(python)


def test_horovodrun_next_to_the_python(fake_env):
    python = fake_env / "python"
    argv = build_launch_command(command(python), 4, 1, 4, "srun", "horovodrun", environ=LOCAL)
    assert argv == [str(fake_env / "horovodrun"), "-np", "4", "-H", "localhost:4", "--gloo", *command(python)]


def test_horovodrun_from_path_when_not_next_to_python(tmp_path, fake_env, monkeypatch):
    lonely = tmp_path / "other" / "bin"
    lonely.mkdir(parents=True)
    (lonely / "python").write_text("")
    monkeypatch.setenv("PATH", str(fake_env))
    argv = build_launch_command(command(lonely / "python"), 2, 1, 2, "srun", "horovodrun", environ=LOCAL)
    assert argv[:6] == [str(fake_env / "horovodrun"), "-np", "2", "-H", "localhost:2", "--gloo"]


def test_horovodrun_missing_everywhere(tmp_path, monkeypatch):
    lonely = tmp_path / "bin"
    lonely.mkdir()
    (lonely / "python").write_text("")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(EnvironmentSetupError) as caught:
        build_launch_command(command(lonely / "python"), 2, 1, 2, "srun", "horovodrun", environ=LOCAL)
    assert str(lonely / "python") in str(caught.value) and "horovodrun" in str(caught.value)


@pytest.mark.parametrize("is_root", [True, False])
def test_mpirun_allows_root_only_as_root(is_root):
    argv = build_launch_command(command(), 3, 1, 3, "srun", "mpirun", environ=LOCAL, is_root=is_root)
    root_flag = ["--allow-run-as-root"] if is_root else []
    # waiting ranks yield their core to TensorFlow's threads (Open MPI would spin)
    flags = ["--oversubscribe", "--bind-to", "none", "--mca", "mpi_yield_when_idle", "1"]
    assert argv == ["mpirun", *root_flag, *flags, "-np", "3", *command()]


def test_mpirun_default_root_detection():
    argv = build_launch_command(command(), 2, 1, 2, "srun", "mpirun", environ=LOCAL)
    assert ("--allow-run-as-root" in argv) == (os.geteuid() == 0)


def test_unknown_local_launcher():
    with pytest.raises(ConfigError) as caught:
        build_launch_command(command(), 2, 1, 2, "srun", "pbsdsh", environ=LOCAL)
    assert caught.value.key == "local_launcher" and "'pbsdsh'" in str(caught.value)


def test_check_interpreter(tmp_path, fake_env):
    check_interpreter(str(fake_env / "python"))
    with pytest.raises(EnvironmentSetupError) as caught:
        check_interpreter(str(tmp_path / "no" / "python"))
    assert str(tmp_path / "no" / "python") in str(caught.value)


def test_job_scripts_and_launch_give_srun_the_same_counts():
    assert srun_counts(nodes=2, ranks=8, tasks_per_node=4) == ["--nodes=2", "--ntasks=8", "--ntasks-per-node=4"]
    # a rank that fails (or that the watchdog of another rank ends because it hangs) ends the step
    assert training_step_options(2, 8, 4) == ["--kill-on-bad-exit=1", *srun_counts(2, 8, 4)]
    argv = build_launch_command(["x"], 8, 2, 4, "srun", "mpirun", cpus_per_task=6, environ=SLURM)
    assert argv == ["srun", *training_step_options(2, 8, 4), "--cpus-per-task=6", "x"]


def test_the_setup_with_its_network_exports_runs_before_srun_inside_slurm_only():
    setup = "export NCCL_SOCKET_IFNAME=lo\nexport OMPI_MCA_btl_tcp_if_include=lo"
    argv = with_setup(["srun", "x"], setup, environ=SLURM)
    assert argv == ["bash", "-c", f"set -e\n{setup}\nexec srun x"]
    assert with_setup(["mpirun", "x"], setup, environ=LOCAL) == ["mpirun", "x"]


def test_under_the_profile_the_ranks_start_as_in_a_job_script_on_jsc():
    """Issue 13.7: the training step of `hpcseq launch` (the profile's rule) gets the JSC binding
    (--threads-per-core=1, so that --cpus-per-task counts physical cores) like the job script's."""
    from hpcseq.cluster import jobscript
    from hpcseq.cluster import resources as job_resources
    from tests.unit.cluster.conftest import jsc_config

    config = jsc_config(experiments={"shakespeare_char_rnn": {"ranks": 8}})
    plan = job_resources.plan_job(config, "jureca-dc", "shakespeare_char_rnn", "train")
    resources = job_resources.snakemake_resources(plan)
    argv = build_launch_command(
        ["python", "-m", "hpcseq", "train"],
        8,
        resources["nodes"],
        resources["tasks_per_node"],
        resources["mpi"],
        "horovodrun",
        cpus_per_task=resources["cpus_per_task"],
        environ=SLURM,
    )
    assert argv[:4] == ["srun", "--cpu-bind=none", "--mpi=pspmix", "--threads-per-core=1"]
    assert "--cpus-per-task=32" in argv
    script = jobscript.render_job_script(
        jobscript.script_request(config, "jureca-dc", "shakespeare_char_rnn", jobscript.SUBMIT_DIR, "c.yaml")
    )
    train_line = next(line for line in script.splitlines() if " -m hpcseq train " in line)
    assert train_line.startswith(" ".join(argv[: argv.index("--cpus-per-task=32")]))
    # every job of the cluster asks for it (sbatch), the CPU stages too
    cpu = job_resources.snakemake_resources(
        job_resources.plan_job(config, "jureca-dc", "shakespeare_char_rnn", "evaluate")
    )
    assert "--threads-per-core=1" in cpu["slurm_extra"].split()


def test_the_training_command_outside_snakemake_is_the_one_snakemake_formats():
    """`make benchmark` runs TRAIN_COMMAND through rule_command: the same words as the rule's."""
    import shlex
    from types import SimpleNamespace

    from snakemake.utils import format as snakemake_format

    from hpcseq.cluster.launch import TRAIN_COMMAND, rule_command

    params = SimpleNamespace(
        workflow_python="/opt/my env/python",
        python="/venv/bin/python",
        ranks=2,
        settings='{"name": "it\'s", "x": [1, 2]}',
        results="results dir",
        model_dir="results dir/m",
        launcher="horovodrun",
        srun="",
        setup="module load A; echo $HOME",
        container="",
        timeline="",
    )
    resources = SimpleNamespace(nodes=1, tasks_per_node=2, cpus_per_task=4)
    expected = shlex.split(snakemake_format(TRAIN_COMMAND, params=params, resources=resources))
    words = rule_command(TRAIN_COMMAND, params=params, resources=resources)
    assert words == expected
    assert words[0] == "/opt/my env/python" and "--slurm-setup=module load A; echo $HOME" in words
