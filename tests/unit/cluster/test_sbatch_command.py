"""`hpcseq sbatch` as a user runs it: settings checked against the cluster the scripts are for, and
scripts that run in a clone of the repository elsewhere (issue 11, items 1 and 2)."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from hpcseq import cli
from hpcseq.cluster.clusters import or_stop
from hpcseq.config import DEFAULT_CONFIG_PATH, REPO_ROOT, load_yaml
from tests.unit.cluster.conftest import EXPERIMENTS


def sbatch(capsys, *arguments: str) -> tuple[int, str, str]:
    """hpcseq sbatch for one experiment, with a budget (JSC's clusters require one)."""
    code = cli.main(["sbatch", "--experiment", "shakespeare_char_rnn", "--account", "training2543", *arguments])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_partition_only_the_chosen_cluster_has_is_accepted(capsys):
    code, out, err = sbatch(capsys, "--cluster", "jureca-dc", "--nodes", "1", "--partition", "gpu_devel", "--stdout")
    assert code == 0, err
    assert "#SBATCH --partition=dc-gpu-devel" in out


def test_a_setting_that_does_not_fit_the_chosen_cluster_names_the_option_given(capsys):
    code, _, err = sbatch(capsys, "--cluster", "local", "--partition", "gpu_devel", "--stdout")
    assert code == 2
    assert "option --partition: cluster local has no 'gpu_devel' partition" in err
    assert "experiments." not in err and "generic" not in err
    code, _, err = sbatch(capsys, "--cluster", "jureca-dc", "--nodes", "1", "--time", "30:00:00", "--stdout")
    assert code == 2 and "option --time: 1-06:00:00 is above the 1-00:00:00 limit" in err


def test_every_cluster_gets_a_script_where_the_setting_fits_and_the_others_are_named(capsys, tmp_path):
    code, out, err = sbatch(
        capsys, "--cluster", "all", "--nodes", "1", "--partition", "gpu_devel", "--output-dir", str(tmp_path)
    )
    assert code == 0, err
    written = sorted(path.parent.name for path in tmp_path.glob("*/shakespeare_char_rnn.sbatch"))
    assert written == ["jureca-dc", "juwels-booster", "juwels-cluster"]
    for cluster in ("generic", "local"):
        assert f"no script for shakespeare_char_rnn on {cluster}: option --partition" in err
    assert out.split() == [str(tmp_path / cluster / "shakespeare_char_rnn.sbatch") for cluster in written]


def test_a_workdir_on_the_cluster_gets_the_config_path_inside_the_repository(capsys):
    code, out, err = sbatch(capsys, "--cluster", "jureca-dc", "--nodes", "1", "--workdir", "$HOME/hpcseq", "--stdout")
    assert code == 0, err
    assert or_stop('cd "$HOME"/hpcseq') in out
    assert str(REPO_ROOT) not in out
    assert " --configfile config/config.yaml " in out


def test_a_config_outside_the_repository_cannot_be_read_in_a_workdir_elsewhere(capsys, tmp_path):
    elsewhere = tmp_path / "my.yaml"
    elsewhere.write_text(yaml.safe_dump(load_yaml(DEFAULT_CONFIG_PATH)), encoding="utf-8")
    code, _, err = sbatch(
        capsys,
        *("--configfile", str(elsewhere), "--cluster", "jureca-dc", "--nodes", "1", "--workdir", "$HOME/hpcseq"),
        "--stdout",
    )
    assert code == 2
    assert f"option --configfile: {elsewhere} lies outside the repository" in err
    # a job run in this very checkout reads it where it is
    code, _, err = sbatch(
        capsys, "--configfile", str(elsewhere), "--cluster", "local", "--workdir", str(REPO_ROOT), "--stdout"
    )
    assert code == 0, err


@pytest.fixture(autouse=True)
def _keep_sigusr1(monkeypatch):
    """cli.main sets SIGUSR1 to be ignored (for stages); put it back for the rest of the suite."""
    import signal

    previous = signal.getsignal(signal.SIGUSR1)
    yield
    signal.signal(signal.SIGUSR1, previous)


def test_config_overrides_reach_the_header_and_every_step_of_the_script(capsys):
    """Issue 11.3: a script generated with `--config` overrides of an experiment ran the file's
    settings (2 ranks, 02:00:00) while the workflow trained on 4 ranks."""
    override = 'experiments={shakespeare_char_rnn: {ranks: 4, slurm: {time: "00:45:00"}}}'
    code, out, err = sbatch(capsys, "--cluster", "local", "--config", override, "--stdout")
    assert code == 0, err
    assert {"#SBATCH --time=00:45:00", "#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=2"} <= set(out.splitlines())
    steps = [line for line in out.splitlines() if " -m hpcseq " in line]
    assert len(steps) == 4
    for step in steps:
        assert f" --configfile config/config.yaml --config '{override}' --experiment shakespeare_char_rnn " in step
    # a step of the script resolves the same settings as the workflow
    assert cli.main(["config", "--config", override, "--experiment", "shakespeare_char_rnn"]) == 0
    assert '"ranks": 4' in capsys.readouterr().out


def test_by_default_a_script_runs_where_it_is_submitted_never_in_this_machines_path(capsys):
    """Issue 13.6: scripts cd'd into the absolute path of the machine that wrote them."""
    code, out, err = sbatch(capsys, "--cluster", "local", "--stdout")
    assert code == 0, err
    lines = out.splitlines()
    assert or_stop('cd "$SLURM_SUBMIT_DIR"').splitlines()[-1] in lines
    assert str(REPO_ROOT) not in out
    # submitted from elsewhere, the job stops at once and says where to submit it from
    check = next(line for line in lines if line.startswith("[ -f config/config.yaml ]"))
    assert "submit the job from the top directory of the repository" in check


def test_a_workdir_with_variables_is_expanded_where_the_job_runs_and_checked_first(capsys, tmp_path):
    code, out, err = sbatch(capsys, "--cluster", "local", "--workdir", "$PROJECT/$USER/hpc seq", "--stdout")
    assert code == 0, err
    lines = out.splitlines()
    guards = [
        ': "${PROJECT:?is not set, and a path of this job uses it}"',
        ': "${USER:?is not set, and a path of this job uses it}"',
    ]
    cd = or_stop('cd "$PROJECT"/"$USER"/\'hpc seq\'').splitlines()[-1]
    assert lines.index(guards[0]) < lines.index(guards[1]) < lines.index(cd)
    # without $PROJECT the job stops before anything else, naming it
    script = tmp_path / "job.sbatch"
    script.write_text(out)
    result = subprocess.run(["bash", str(script)], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode != 0 and "PROJECT: is not set, and a path of this job uses it" in result.stderr


def test_a_partial_node_on_a_cluster_that_charges_whole_nodes_is_refused_with_what_to_do(capsys):
    code, _, err = sbatch(capsys, "--cluster", "jureca-dc", "--stdout")
    assert code == 2
    assert (
        "config key experiments.shakespeare_char_rnn.ranks: 2 rank(s) use 2 of the 4 GPUs of a node, and jureca-dc "
        "charges whole nodes: the job would pay for 4 GPUs and leave 2 idle" in err
    )
    assert "`hpcseq sbatch --nodes N`" in err and "allow_partial_node: true" in err
    partial = "{slurm: {allow_partial_node: true}}"
    allowed = f"experiments={{{', '.join(f'{name}: {partial}' for name in EXPERIMENTS)}}}"
    code, out, err = sbatch(capsys, "--cluster", "jureca-dc", "--config", allowed, "--stdout")
    assert code == 0, err
    lines = out.splitlines()  # paid for knowingly: 2 of the node's 4 GPUs, and the job sees those 2
    assert {"#SBATCH --gres=gpu:2", "export CUDA_VISIBLE_DEVICES=0,1"} <= set(lines)


def test_nodes_sizes_the_job_and_every_step_reads_the_same_ranks(capsys):
    code, out, err = sbatch(capsys, "--cluster", "jureca-dc", "--nodes", "2", "--stdout")
    assert code == 0, err
    lines = out.splitlines()
    assert {"#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=4", "#SBATCH --gres=gpu:4"} <= set(lines)
    assert "export CUDA_VISIBLE_DEVICES=0,1,2,3" in lines
    steps = [line for line in lines if " -m hpcseq " in line]
    assert len(steps) == 4
    assert all("--config 'experiments={shakespeare_char_rnn: {ranks: 8}}'" in step for step in steps)
    assert " --nodes=2 --ntasks=8 --ntasks-per-node=4 " in steps[2]
    # a step reads them as the job was written for them
    values = ["experiments={shakespeare_char_rnn: {ranks: 8}}"]
    assert cli.main(["config", "--config", *values, "--experiment", "shakespeare_char_rnn"]) == 0
    assert '"ranks": 8' in capsys.readouterr().out
    # on every cluster at once: each its own node size (local: 2 GPUs per node)
    code, out, err = sbatch(capsys, "--cluster", "all", "--nodes", "1", "--stdout")
    assert code == 0, err
    assert (
        "experiments={shakespeare_char_rnn: {ranks: 4}}" in out
        and "experiments={shakespeare_char_rnn: {ranks: 2}}" in out
    )
    code, _, err = sbatch(capsys, "--cluster", "local", "--nodes", "0", "--stdout")
    assert code == 2 and "--nodes: 0 is not a whole number >= 1" in err
