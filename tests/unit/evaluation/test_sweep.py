"""A sweep's comparison table (hpcseq.evaluation.sweep) from its runs' files, and the config of its runs."""

from __future__ import annotations

import json

import pytest

from hpcseq import config as C
from hpcseq.errors import ConfigErrors, InputDataError
from hpcseq.evaluation.published import load_published
from hpcseq.evaluation.sweep import sweep_description, write_sweep
from hpcseq.io import write_json
from hpcseq.paths import SweepPaths
from tests.conftest import REPO_ROOT

SHIPPED = REPO_ROOT / "config" / "config.yaml"
# test MAE (degF) of two made-up runs on the same windows, persistence 0.19
RUNS = {"forecast_dense": 0.81, "forecast_lstm_dropout": 0.17}
SWEEP_EXPERIMENT = C.load_yaml(SHIPPED)["sweeps"]["seattle_forecast"]["experiment"]


def write_run(results, model: str, mae: float, fused: list[bool]) -> None:
    run = SweepPaths.of(results, "seattle_forecast").run(SWEEP_EXPERIMENT, model)
    write_json(
        run.eval_metrics,
        {
            "task": "sequence_regression",
            "evaluated_split": "test",
            "unit": "degF",
            "model_metrics": {"mae": mae},
            "persistence_baseline": {"mae": 0.19},
        },
    )
    kernels = [{"layer": "lstm", "fused_cudnn_kernel": value} for value in fused]
    write_json(
        run.training_summary,
        {
            "epochs": 10,
            "global_batch_size": 256,
            "wall_seconds_this_run": 42.5,
            "cudnn_kernels": kernels,
            "preset": "lecture",
            "ranks": 2,
        },
    )


def test_the_table_puts_each_models_mae_beside_persistence(tmp_path):
    config = C.load_config(SHIPPED)
    sweep = sweep_description(config, "seattle_forecast")
    sweep["models"] = [[model, description] for model, description in sweep["models"] if model in RUNS]
    write_run(tmp_path, "forecast_dense", RUNS["forecast_dense"], [])
    write_run(tmp_path, "forecast_lstm_dropout", RUNS["forecast_lstm_dropout"], [False])
    table = write_sweep(sweep, tmp_path, publications={})
    paths = SweepPaths.of(tmp_path, "seattle_forecast")
    assert json.loads(paths.table_json.read_text()) == table
    assert paths.plot.read_bytes()[:4] == b"\x89PNG"
    assert [row["model"] for row in table["rows"]] == ["forecast_dense", "forecast_lstm_dropout"]  # the sweep's order
    rows = {row["model"]: row for row in table["rows"]}
    assert (rows["forecast_dense"]["value"], rows["forecast_dense"]["baseline"]) == (0.81, 0.19)
    assert not rows["forecast_dense"]["beats_baseline"] and rows["forecast_lstm_dropout"]["beats_baseline"]
    assert (
        rows["forecast_dense"]["fused_cudnn_kernel"] is None
        and rows["forecast_lstm_dropout"]["fused_cudnn_kernel"] is False
    )
    text = paths.table_md.read_text()
    assert "| model | test MAE (degF) | persistence | beats it |" in text
    assert "| `forecast_dense` | 0.810 | 0.190 | no | 10 | 256 | 42 | no recurrent layer |" in text
    assert "| `forecast_lstm_dropout` | 0.170 | 0.190 | yes | 10 | 256 | 42 | no |" in text


# A made-up publication on the sweep's experiment: persistence and one of the two models
FAKE_PUBLISHED = f"""
{SWEEP_EXPERIMENT}:
  source: "A. Author, A Made-up Book, ch. 3"
  figures:
    - {{model: persistence, metric: mae, value: 0.2, unit: degC, what: "the book's naive forecast"}}
    - {{model: forecast_dense, metric: mae, value: 0.75, unit: degC, what: "the book's dense model"}}
    - {{model: forecast_dense, metric: accuracy, value: 0.5, what: "not the sweep's metric"}}
  note: the book trains 3 epochs
"""


def test_the_published_figures_stand_beside_each_model_with_their_source(tmp_path):
    published_file = tmp_path / "published.yaml"
    published_file.write_text(FAKE_PUBLISHED)
    sweep = sweep_description(C.load_config(SHIPPED), "seattle_forecast")
    sweep["models"] = [[model, description] for model, description in sweep["models"] if model in RUNS]
    for model, mae in RUNS.items():
        write_run(tmp_path / "results", model, mae, [])
    table = write_sweep(sweep, tmp_path / "results", publications=load_published(published_file))
    rows = {row["model"]: row for row in table["rows"]}
    assert rows["forecast_dense"]["published"] == {"value": 0.75, "unit": "degC", "what": "the book's dense model"}
    assert rows["forecast_lstm_dropout"]["published"] is None
    assert table["published"]["source"] == "A. Author, A Made-up Book, ch. 3"
    assert table["published"]["baseline"]["value"] == 0.2
    text = SweepPaths.of(tmp_path / "results", "seattle_forecast").table_md.read_text()
    assert "| model | test MAE (degF) | published (degC) | persistence | beats it |" in text
    assert "| `forecast_dense` | 0.810 | 0.75 | 0.190 | no |" in text
    assert "| `forecast_lstm_dropout` | 0.170 | \u2013 | 0.190 | yes |" in text
    assert "Published figures: A. Author, A Made-up Book, ch. 3 (config/published.yaml)." in text
    assert "Its persistence: 0.2 degC (the book's naive forecast); on these runs' test windows: 0.190." in text
    assert "the book trains 3 epochs" in text


def test_the_shipped_jena_sweep_compares_with_every_published_figure():
    config = C.load_config(SHIPPED)
    jena = config["sweeps"]["jena_forecast"]
    publication = load_published()[jena["experiment"]]
    assert jena["experiment"] == "jena_temperature_forecast"
    figures = {model for model in jena["models"] if publication.figure(model, "mae") is not None}
    # every model the material gives a figure for is in the sweep; the bidirectional one has none
    assert figures == {f.model for f in publication.figures} - {"persistence"}
    assert set(jena["models"]) - figures == {"forecast_bilstm"}


def test_a_run_that_did_not_finish_is_named(tmp_path):
    sweep = sweep_description(C.load_config(SHIPPED), "seattle_forecast")
    with pytest.raises(InputDataError, match=r"forecast_dense/eval/metrics\.json: missing"):
        write_sweep(sweep, tmp_path)


def test_each_run_gets_its_models_preset_overrides():
    config = C.load_config(SHIPPED, overrides={"preset": "lecture"})
    epochs = {
        model: C.experiment_settings(C.sweep_run_config(config, "jena_forecast", model), "jena_temperature_forecast")[
            "training"
        ]["epochs"]
        for model in config["sweeps"]["jena_forecast"]["models"]
    }
    assert epochs == {
        "forecast_dense": 10,
        "forecast_conv1d": 10,
        "forecast_lstm": 10,
        "forecast_lstm_dropout": 50,
        "forecast_stacked_gru": 50,
        "forecast_bilstm": 10,
    }
    assert config["experiments"]["jena_temperature_forecast"]["model"] == "forecast_lstm"  # unchanged


def test_a_sweep_of_models_of_another_task_or_experiment_is_refused_by_key():
    raw = C.load_yaml(SHIPPED)
    raw["sweeps"] = {
        "bad": {"experiment": SWEEP_EXPERIMENT, "models": ["forecast_lstm", "char_rnn", "nothing"]},
        "worse": {"experiment": "nowhere", "models": ["forecast_lstm"]},
    }
    with pytest.raises(ConfigErrors) as caught:
        C.validate_config(raw)
    keys = {error.key: str(error) for error in caught.value.errors}
    assert "char_rnn is a next_character model" in keys["sweeps.bad.models.1"]
    assert "'nothing' is not a named model" in keys["sweeps.bad.models.2"]
    assert "'nowhere' is not an experiment" in keys["sweeps.worse.experiment"]
