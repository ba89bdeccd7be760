"""`hpcseq config --jobs` (hpcseq.cluster.job_table): each stage's Slurm job under the profile; and
--configfile with several files, as Snakemake takes them."""

from __future__ import annotations

import re
import shlex

import pytest

from hpcseq import cli
from tests.conftest import REPO_ROOT
from tests.unit.cluster.conftest import SITE, jsc_config, shipped_config


def test_the_job_table_shows_each_stage_where_it_runs_with_partition_qos_and_reservation():
    from hpcseq.cluster.job_table import profile_job_table

    config = jsc_config(cluster="jureca-dc", slurm={"qos": "course"})
    table = profile_job_table(config, ["shakespeare_char_rnn"]).splitlines()
    rows = {line.split()[1]: line.split() for line in table if line.startswith("shakespeare_char_rnn")}
    assert rows["preprocess"][2:5] == ["login", "node", "(Snakemake)"] and rows["preprocess"][5:] == ["-"] * 6
    assert rows["train"][2:] == ["training", "job", "dc-gpu", "02:00:00", "1", "x", "4", "training2543", "course",
                                 "dl-course"]  # fmt: skip
    assert rows["evaluate"][2:] == rows["train"][2:]
    local = shipped_config(cluster="local", slurm={**SITE, "qos": "course"})
    rows = {line.split()[1]: line for line in profile_job_table(local, ["shakespeare_char_rnn"]).splitlines()[3:]}
    assert "own job" in rows["evaluate"] and "batch" in rows["evaluate"] and "dl-course" not in rows["evaluate"]
    assert "dl-course" in rows["train"] and "course" in rows["preprocess"]
    with pytest.raises(Exception, match="no cluster chosen"):
        profile_job_table(shipped_config(), ["shakespeare_char_rnn"])


def readme_config_commands() -> list[str]:
    """The `hpcseq config` commands of the README's code blocks (continued lines joined)."""
    text = re.sub(r"\\\n\s*", " ", (REPO_ROOT / "README.md").read_text())
    return re.findall(r"^\.venv/workflow/bin/python -m hpcseq (config .*)$", text, flags=re.MULTILINE)


def test_the_readmes_config_jobs_command_prints_the_training_job_with_its_reservation(capsys):
    commands = readme_config_commands()
    assert any("--jobs" in command for command in commands), commands
    for command in commands:
        assert cli.main(shlex.split(command)) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        if "--jobs" in command:
            rows = {tuple(line.split()[:2]): line for line in out.splitlines()}
            train = rows[("shakespeare_char_rnn", "train")]
            assert "training job" in train and "dl-course" in train
            assert "2 x 4" in train  # config/whole-nodes.yaml: the char-RNN on 2 whole nodes
            assert "dl-course" not in rows[("shakespeare_char_rnn", "preprocess")]


def test_several_config_files_are_merged_in_order_and_a_job_script_takes_one(capsys):
    files = ["--configfile", "config/config.yaml", "config/whole-nodes.yaml"]
    assert cli.main(["config", *files, "--experiment", "macbeth_char_rnn"]) == 0
    assert '"ranks": 4' in capsys.readouterr().out
    code = cli.main(["sbatch", *files, "--cluster", "jureca-dc", "--account", "x", "--stdout"])
    assert code == 2
    assert "a job script's steps read one config file where the job runs" in capsys.readouterr().err


@pytest.mark.parametrize(("cluster", "noted"), [("juwels-booster", True), ("jureca-dc", False), ("local", False)])
def test_a_data_job_that_would_pay_for_a_gpu_node_says_so_and_what_to_do_instead(cluster, noted, capsys):
    nodes = [] if cluster == "local" else ["--nodes", "1"]
    arguments = ["sbatch", "--cluster", cluster, "--account", "x", *nodes, "--experiment", "macbeth_char_rnn"]
    assert cli.main([*arguments, "--data-only", "--stdout"]) == 0
    captured = capsys.readouterr()
    assert ("# Cost: booster is a GPU partition of juwels-booster" in captured.out) == noted
    assert ("hpcseq sbatch: note:" in captured.err) == noted
    if noted:
        assert "hpcseq preprocess --experiment macbeth_char_rnn" in captured.err and "--no-data-steps" in captured.err


def test_a_cluster_that_leaves_scripts_out_is_one_line_with_each_reason_once():
    from hpcseq.cluster.job_table import left_out_line
    from hpcseq.errors import ConfigError

    budget = ConfigError("slurm.account", "cluster x charges every job to a budget and none is given; give one: ...")
    left_out = {
        name: [budget, ConfigError(f"experiments.{name}.ranks", f"2 rank(s) of {name} leave GPUs idle: ask for 4")]
        for name in ("tiny_char", "tiny_lstm")
    }
    line = left_out_line("x", left_out, 3)
    assert "\n" not in line and line.startswith("no job scripts for x (2 of 3 experiments: tiny_char, tiny_lstm): ")
    assert line.count("slurm.account") == 1 and line.count("experiments.<experiment>.ranks") == 1
    assert "2 rank(s) of <experiment> leave GPUs idle;" not in line and "give one" not in line
    assert line.endswith("(`hpcseq sbatch --cluster x` says what to do)")
    assert "(3 of 3 experiments: all)" in left_out_line("x", {**left_out, "tiny_gru": [budget]}, 3)
