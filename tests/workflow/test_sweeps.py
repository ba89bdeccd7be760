"""Sweeps (`snakemake sweeps`, config `sweeps:`): every sweep of the shipped config plans its jobs
(a dry run of its table), and one tiny sweep runs end to end: 2 models trained for 2 steps on a
slice of the shipped series the Seattle sweep uses, 1 rank, then its table, JSON and plot."""

from __future__ import annotations

import copy
import json
import re

import pytest
import yaml

from tests.conftest import REPO_ROOT, VENV_TRAIN, run_snakemake, write_config

SHIPPED = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())
SHIPPED_SWEEPS = SHIPPED["sweeps"]


def planned_jobs(stdout: str) -> dict[str, int]:
    """The job counts of a dry run's "Job stats" table."""
    table = stdout[stdout.index("Job stats:") :]
    return {rule: int(count) for rule, count in re.findall(r"^(\w+) +(\d+)$", table, flags=re.MULTILINE)}


@pytest.mark.parametrize("sweep", sorted(SHIPPED_SWEEPS))
def test_every_shipped_sweep_plans_a_training_and_evaluation_per_model(sweep, tmp_path):
    result = run_snakemake(
        "-n", f"{tmp_path}/r/sweeps/{sweep}.md", "--config", f"results_dir={tmp_path}/r", cwd=tmp_path / "run"
    )
    jobs = planned_jobs(result.stdout)
    models = len(SHIPPED_SWEEPS[sweep]["models"])
    assert (jobs["sweep_train"], jobs["sweep_evaluate"], jobs["sweep_table"]) == (models, models, 1)
    experiment = SHIPPED["experiments"][SHIPPED_SWEEPS[sweep]["experiment"]]
    if "download" in SHIPPED["datasets"][experiment["dataset"]]:  # Jena: fetched first
        assert jobs[f"download_{experiment['dataset']}"] == 1
    assert not {rule for rule in jobs if rule == "train" or rule.startswith("sweep_table")} - {"sweep_table"}


def tiny_sweep_config(tmp_path, models: list[str]) -> dict:
    """A sweep of `models` on the first rows of the shipped Seattle sweep's data and settings,
    1 rank, 1 epoch of 2 steps; everything written under tmp_path."""
    experiment = copy.deepcopy(SHIPPED["experiments"][SHIPPED_SWEEPS["seattle_forecast"]["experiment"]])
    dataset = copy.deepcopy(SHIPPED["datasets"][experiment["dataset"]])
    dataset["path"] = str(REPO_ROOT / dataset["path"])
    hyperparameters = experiment.get("hyperparameters", {})
    window = hyperparameters.get("sequence_length", 120) * hyperparameters.get("sampling_step", 6) + 24
    experiment.update(ranks=1, dataset="series", default_target=False)
    experiment.setdefault("preprocess", {})["max_rows"] = 8 * window  # a few dozen windows per split
    experiment["training"] = {"epochs": 1, "max_steps_per_epoch": 2, "batch_size": 16, "global_batch_size": None}
    return {
        "preset": None,
        "results_dir": str(tmp_path / "results"),
        "logs_dir": str(tmp_path / "logs"),
        "benchmarks_dir": str(tmp_path / "benchmarks"),
        "jobs_dir": str(tmp_path / "jobs"),
        "training_python": str(VENV_TRAIN / "bin" / "python"),
        "datasets": {"series": dataset},
        "experiments": {"tiny_forecast": experiment},
        "sweeps": {"tiny": {"experiment": "tiny_forecast", "models": models}},
    }


def test_a_tiny_sweep_runs_end_to_end(tmp_path):
    models = SHIPPED_SWEEPS["seattle_forecast"]["models"][:2]
    config = write_config(tmp_path, tiny_sweep_config(tmp_path, models))
    run_snakemake("sweeps", "--cores", "2", "--configfile", str(config), cwd=tmp_path / "run")
    sweeps = tmp_path / "results" / "sweeps"
    table = json.loads((sweeps / "tiny.json").read_text())
    assert [row["model"] for row in table["rows"]] == models
    assert table["baseline_name"] == "persistence" and table["metric"] == "MAE"
    for row in table["rows"]:
        assert row["value"] > 0 and row["baseline"] > 0 and row["ranks"] == 1
    baseline = table["rows"][0]["baseline"]
    assert all(row["baseline"] == baseline for row in table["rows"])  # the same test windows
    text = (sweeps / "tiny.md").read_text()
    for row in table["rows"]:
        assert f"| `{row['model']}` | {row['value']:.3f} | {baseline:.3f} |" in text
    assert (sweeps / "tiny.png").read_bytes()[:4] == b"\x89PNG"
