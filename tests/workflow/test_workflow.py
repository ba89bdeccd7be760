"""The Snakemake workflow: dry run and lint of the shipped config, config errors, and the whole
pipeline run small with 2 real Horovod ranks (horovodrun on this machine). Snakemake runs in a
directory under tmp_path (run_snakemake of tests/conftest.py), never in the checkout."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import (
    DEFAULT_RUN,
    REPO_ROOT,
    SHIPPED_EXPERIMENTS,
    VENV_TRAIN,
    run_snakemake,
    tiny_workflow_config,
    write_config,
)

# Answers the checks Snakemake makes of conda before it plans with `--sdm conda` (conda channels
# are unreachable here, so no real environment is built).
STAND_IN_CONDA = """#!/bin/sh
case "$1" in
  info) echo '{"conda_prefix": "%(prefix)s", "platform": "linux-64"}' ;;
  --version) echo "conda 24.7.1" ;;
  config) echo '{"get": {"channel_priority": "strict"}}' ;;
  *) echo "stand-in conda cannot: $*" >&2; exit 1 ;;
esac
"""


@pytest.fixture
def snakemake(tmp_path):
    """`snakemake <args>` run in tmp_path/run: its .snakemake/ stays there."""

    def run(*args, **options) -> subprocess.CompletedProcess:
        return run_snakemake(*args, cwd=tmp_path / "run", **options)

    return run


def tiny_config(tmp_path: Path, **experiment_overrides) -> Path:
    config = tiny_workflow_config(tmp_path)
    for name, overrides in experiment_overrides.items():
        for stage, values in overrides.items():
            config["experiments"][name].setdefault(stage, {}).update(values)
    return write_config(tmp_path, config)


def test_dry_run_of_the_shipped_config_plans_every_stage(tmp_path, snakemake):
    result = snakemake("-n", "--config", f"results_dir={tmp_path}/r", f"logs_dir={tmp_path}/l")
    for rule in (
        "preprocess_text",
        "preprocess_sentences",
        "vocabulary_characters",
        "vocabulary_words",
        "train",
        "evaluate",
        "plot_training_curves",
        "plot_confusion_matrix",
        "summary",
    ):
        assert rule in result.stdout
    assert re.search(rf"^train +{len(DEFAULT_RUN)}$", result.stdout, flags=re.MULTILINE)  # the default run's
    assert not re.search(r"^download_", result.stdout, flags=re.MULTILINE)  # `make run` stays offline


@pytest.mark.parametrize("preset", ["quick", "lecture"])
def test_dry_run_of_each_preset(preset, tmp_path, snakemake):
    snakemake("-n", "--config", f"preset={preset}", f"results_dir={tmp_path}/r")


def test_command_line_config_overrides_nested_keys_of_the_shipped_config(tmp_path, snakemake):
    # `--config experiments=...` extends config/config.yaml (it does not replace it), and the
    # nested values, strings to Snakemake, are typed by the schema
    result = snakemake(
        "-n",
        "--config",
        f"results_dir={tmp_path}/r",
        "experiments={shakespeare_char_rnn: {ranks: 1, training: {epochs: 3}}}",
        "slurm={signal_seconds_before_limit: 300}",
    )
    assert re.search(rf"^train +{len(DEFAULT_RUN)}$", result.stdout, flags=re.MULTILINE)
    result = snakemake("-n", "--config", "experiments={shakespeare_char_rnn: {ranks: many}}", check=False)
    assert result.returncode != 0
    assert "experiments.shakespeare_char_rnn.ranks: 'many' is not of type 'integer'" in result.stdout + result.stderr


def test_lint_is_clean(snakemake):
    result = snakemake("--lint")
    assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr


def shell_commands(result: subprocess.CompletedProcess) -> list[str]:
    """The shell commands of a `snakemake -n -p` (first lines only), rule `all` left out."""
    lines = (result.stdout + result.stderr).splitlines()
    commands = [line.removeprefix("Shell command: ") for line in lines if line.startswith("Shell command: ")]
    return [command for command in commands if command != "None"]


def test_rules_read_the_validated_config_with_its_defaults(tmp_path, snakemake):
    # the tiny config names no local_launcher: the rules see the schema default
    config = yaml.safe_load(tiny_config(tmp_path).read_text())
    assert "local_launcher" not in config
    commands = shell_commands(snakemake("-n", "-p", "--configfile", str(tiny_config(tmp_path))))
    train = [c for c in commands if " -m hpcseq train " in c]
    assert len(train) == 2 and all("--local-launcher horovodrun " in c for c in train)
    assert all(f"-- {VENV_TRAIN / 'bin' / 'python'} -m hpcseq train " in c for c in train)


def test_under_sdm_conda_every_rule_runs_the_python_of_its_conda_environment(tmp_path, snakemake):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    conda = bin_dir / "conda"
    conda.write_text(STAND_IN_CONDA % {"prefix": tmp_path})
    conda.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    args = ["--sdm", "conda", "--conda-prefix", str(tmp_path / "envs"), "--configfile", str(tiny_config(tmp_path))]
    result = snakemake("-n", "-p", *args, env=env)
    output = result.stdout + result.stderr
    # named by their path from the rule files, the run directory being outside the checkout
    created = {Path(path).resolve() for path in re.findall(r"Conda environment (\S+) will be created\.", output)}
    assert created == {REPO_ROOT / "envs" / "workflow.yaml", REPO_ROOT / "envs" / "training.yaml"}
    commands = shell_commands(result)
    assert len(commands) == 12  # 2 x (preprocess, vocabulary, train, evaluate, curves) + confusion + summary
    assert all(command.startswith("python -m hpcseq ") for command in commands)
    assert sum(" -- python -m hpcseq train " in command for command in commands) == 2
    assert sum(" -- python -m hpcseq evaluate " in command for command in commands) == 2


def test_config_errors_name_the_key(tmp_path, snakemake):
    result = snakemake("-n", "--config", "preset=nonexistent", check=False)
    assert result.returncode != 0
    assert "config key preset: 'nonexistent' is not defined under `presets`" in result.stdout + result.stderr

    config = yaml.safe_load(tiny_config(tmp_path).read_text())
    config["experiments"]["tiny_char"]["training"]["lerning_rate"] = 0.1
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    result = snakemake("-n", "--configfile", str(bad), check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "experiments.tiny_char.training.lerning_rate: unknown key (did you mean 'learning_rate'?)" in output


def test_whole_pipeline_small_with_two_horovod_ranks(local_pipeline):
    root, config = local_pipeline.root, local_pipeline.config

    def snakemake(*args: str) -> subprocess.CompletedProcess:
        return run_snakemake(*args, cwd=local_pipeline.run_dir)

    results = local_pipeline.results
    for name in ("tiny_char", "tiny_sentiment"):
        model_dir = results / name / "model"
        ranks = [json.loads((model_dir / "ranks" / f"rank-{r}.json").read_text()) for r in (0, 1)]
        # both ranks ran under horovodrun and ended with identical weights
        assert [r["launcher"] for r in ranks] == ["horovodrun", "horovodrun"]
        assert ranks[0]["weights_sha256"] == ranks[1]["weights_sha256"]
        summary = json.loads((model_dir / "training_summary.json").read_text())
        assert summary["ranks"] == 2 and summary["weights_sha256"] == ranks[0]["weights_sha256"]
        assert len((model_dir / "metrics.jsonl").read_text().splitlines()) == 2
        evaluation = json.loads((results / name / "eval" / "metrics.json").read_text())
        assert evaluation["training"]["ranks"] == 2
        assert (results / name / "eval" / "plots" / "training_curves.png").stat().st_size > 1000
        # every rule wrote its log
        for stage in ("preprocess", "vocabulary", "train", "evaluate"):
            assert (root / "logs" / stage / f"{name}.log").is_file()
    # the ranks' shards are disjoint
    char_ranks = [json.loads((results / "tiny_char/model/ranks" / f"rank-{r}.json").read_text()) for r in (0, 1)]
    a, b = (r["shard"] for r in char_ranks)
    assert set(range(a["first"], a["first"] + a["count"])).isdisjoint(range(b["first"], b["first"] + b["count"]))
    sentiment_ranks = [
        json.loads((results / "tiny_sentiment/model/ranks" / f"rank-{r}.json").read_text()) for r in (0, 1)
    ]
    assert [r["shard"]["offset"] for r in sentiment_ranks] == [0, 1]
    assert (results / "tiny_sentiment" / "eval" / "plots" / "confusion_matrix.png").is_file()
    summary_md = (results / "summary.md").read_text()
    assert "## tiny_char (char_rnn)" in summary_md and "## tiny_sentiment (sentiment_lstm)" in summary_md
    assert "Training data:* each epoch uses" in summary_md  # max_steps_per_epoch is stated

    # a second run has nothing to do
    again = snakemake("--cores", "2", "--configfile", str(config))
    assert "Nothing to be done" in again.stdout + again.stderr

    # a change of training settings reruns training and what follows, not preprocessing
    settings = tiny_workflow_config(root)  # the same results, one more epoch
    settings["experiments"]["tiny_char"]["training"]["epochs"] = 3
    changed = write_config(root / "changed", settings)
    plan = snakemake("-n", "--configfile", str(changed)).stdout
    assert "rule train:" in plan and "rule preprocess_text:" not in plan and "rule vocabulary_characters:" not in plan

    # the Snakemake report embeds the summary, metrics and plots
    report = root / "report.html"
    snakemake("--configfile", str(config), "--report", str(report))
    assert report.stat().st_size > 10000


def test_a_local_run_is_held_to_no_clusters_geometry_and_job_scripts_are_written_where_they_fit(tmp_path, snakemake):
    """Issue 11.1: 3 ranks on this machine were refused for not filling the nodes of the `local`
    test cluster, and a partition that only JSC's clusters have failed for every other cluster."""
    # 3 ranks: on part of a JSC node (which JSC charges in full), allowed for this experiment only
    experiment = (
        "experiments={shakespeare_char_rnn: {ranks: 3, slurm: {partition: gpu_devel, allow_partial_node: true}}}"
    )
    budget = "slurm={account: training2543}"  # JSC's clusters require one (issue 13)
    result = snakemake("-n", "--config", f"results_dir={tmp_path}/r", f"jobs_dir={tmp_path}/j", experiment, budget)
    planned = result.stdout + result.stderr
    # one line per cluster that leaves scripts out (issue 25: quiet by default), each reason once
    left_out = {line.split()[4]: line for line in planned.splitlines() if line.startswith("no job scripts for ")}
    total = len(SHIPPED_EXPERIMENTS)
    generic = f"no job scripts for generic (1 of {total} experiments: shakespeare_char_rnn)"
    assert left_out["generic"].startswith(generic)
    assert "slurm.partition: cluster generic has no 'gpu_devel' partition" in left_out["generic"]
    assert "experiments.<experiment>.ranks: 3 ranks do not fill whole nodes of 2 GPUs on local" in left_out["local"]
    assert f"{tmp_path}/j/jureca-dc/shakespeare_char_rnn.sbatch" in result.stdout
    # issue 13.1: the shipped 2 ranks are half a JSC node: reported, not written, and the run goes on
    assert f"no job scripts for jureca-dc ({total - 1} of {total} experiments: " in left_out["jureca-dc"]
    assert "2 rank(s) use 2 of the 4 GPUs of a node, and jureca-dc charges whole nodes" in left_out["jureca-dc"]
    assert "`hpcseq sbatch --cluster jureca-dc` says what to do" in left_out["jureca-dc"]
    assert len(left_out) == len(planned.split("no job scripts for ")) - 1  # no cluster twice
    # on JURECA-DC, the README's advice for the development partition (the others on one whole node)
    whole = ("--configfile", str(REPO_ROOT / "config" / "config.yaml"), str(REPO_ROOT / "config" / "whole-nodes.yaml"))
    snakemake(
        "-n", "--config", "cluster=jureca-dc", f"results_dir={tmp_path}/r", f"jobs_dir={tmp_path}/j",
        experiment, budget, *whole,
    )  # fmt: skip
    refused = snakemake("-n", "--config", "cluster=local", f"results_dir={tmp_path}/r", experiment, check=False)
    assert refused.returncode != 0
    assert "experiments.shakespeare_char_rnn.ranks: 3 ranks do not fill whole nodes of 2 GPUs on local" in (
        refused.stdout + refused.stderr
    )
