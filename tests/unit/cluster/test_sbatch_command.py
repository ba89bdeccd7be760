"""`hpcseq sbatch` as a user runs it: settings checked against the cluster the scripts are for, and
scripts that run in a clone of the repository elsewhere (issue 11, items 1 and 2)."""

from __future__ import annotations

import pytest
import yaml

from hpcseq import cli
from hpcseq.config import DEFAULT_CONFIG_PATH, REPO_ROOT, load_yaml


def sbatch(capsys, *arguments: str) -> tuple[int, str, str]:
    code = cli.main(["sbatch", "--experiment", "shakespeare_char_rnn", *arguments])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_partition_only_the_chosen_cluster_has_is_accepted(capsys):
    code, out, err = sbatch(capsys, "--cluster", "jureca-dc", "--partition", "gpu_devel", "--stdout")
    assert code == 0, err
    assert "#SBATCH --partition=dc-gpu-devel" in out


def test_a_setting_that_does_not_fit_the_chosen_cluster_names_the_option_given(capsys):
    code, _, err = sbatch(capsys, "--cluster", "local", "--partition", "gpu_devel", "--stdout")
    assert code == 2
    assert "option --partition: cluster local has no 'gpu_devel' partition" in err
    assert "experiments." not in err and "generic" not in err
    code, _, err = sbatch(capsys, "--cluster", "jureca-dc", "--time", "30:00:00", "--stdout")
    assert code == 2 and "option --time: 1-06:00:00 is above the 1-00:00:00 limit" in err


def test_every_cluster_gets_a_script_where_the_setting_fits_and_the_others_are_named(capsys, tmp_path):
    code, out, err = sbatch(capsys, "--cluster", "all", "--partition", "gpu_devel", "--output-dir", str(tmp_path))
    assert code == 0, err
    written = sorted(path.parent.name for path in tmp_path.glob("*/shakespeare_char_rnn.sbatch"))
    assert written == ["jureca-dc", "juwels-booster", "juwels-cluster"]
    for cluster in ("generic", "local"):
        assert f"no script for shakespeare_char_rnn on {cluster}: option --partition" in err
    assert out.split() == [str(tmp_path / cluster / "shakespeare_char_rnn.sbatch") for cluster in written]


def test_a_workdir_on_the_cluster_gets_the_config_path_inside_the_repository(capsys):
    code, out, err = sbatch(capsys, "--cluster", "jureca-dc", "--workdir", "$HOME/hpcseq", "--stdout")
    assert code == 0, err
    assert 'cd "$HOME"/hpcseq || exit 1' in out
    assert str(REPO_ROOT) not in out
    assert " --configfile config/config.yaml " in out


def test_a_config_outside_the_repository_cannot_be_read_in_a_workdir_elsewhere(capsys, tmp_path):
    elsewhere = tmp_path / "my.yaml"
    elsewhere.write_text(yaml.safe_dump(load_yaml(DEFAULT_CONFIG_PATH)), encoding="utf-8")
    code, _, err = sbatch(
        capsys, "--configfile", str(elsewhere), "--cluster", "jureca-dc", "--workdir", "$HOME/hpcseq", "--stdout"
    )
    assert code == 2
    assert f"option --configfile: {elsewhere} lies outside the repository" in err


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
