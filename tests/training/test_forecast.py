"""Temperature forecasting (sequence_regression) end to end on the shipped Seattle weather
observations: the data stages, 2 Horovod ranks of a tiny LSTM, evaluation next to persistence, the
training mean and the seasonal baseline, the summary; and the material's named models built by the
one builder. The file is read with one training day left out (a gap the stages must handle)."""

from __future__ import annotations

import csv
import functools
import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from hpcseq import config as config_module
from hpcseq.data.time_series import build_normalisation_and_encode, prepare_series
from hpcseq.evaluation.evaluate import evaluate
from hpcseq.evaluation.summary import write_summary
from hpcseq.paths import ExperimentPaths
from hpcseq.training.models import build_model, fused_kernel_report
from tests.conftest import REPO_ROOT
from tests.training.test_train import HOROVODRUN, metrics_of, run_stage, summary_of

SEATTLE = REPO_ROOT / "data" / "seattle-weather.csv"
LEFT_OUT = "2012/06/15"  # a training day dropped from the copy the test reads: a gap of one row
WINDOW = {"sequence_length": 14, "sampling_step": 1, "horizon": 1}  # two weeks in, the next day's maximum
COLUMNS = ["precipitation", "temp_max", "temp_min", "wind"]


def seattle_settings(path) -> dict:
    shipped = config_module.load_yaml(REPO_ROOT / "config" / "config.yaml")["datasets"]["seattle_weather"]
    raw = {
        "models": {"forecast_lstm": {"layers": [{"cell": "lstm", "units": 8}]}},
        "datasets": {"seattle": {**shipped, "path": str(path), "sha256": None}},
        "experiments": {
            "seattle": {
                "model": "forecast_lstm",
                "dataset": "seattle",
                "ranks": 2,
                "preprocess": {"columns": COLUMNS, "target_column": "temp_max"},
                "hyperparameters": WINDOW,
                "training": {
                    "epochs": 2,
                    "global_batch_size": 64,
                    "max_steps_per_epoch": 25,
                    "steps_per_execution": 5,
                    "checkpoint_every_minutes": None,
                },
            }
        },
    }
    return config_module.experiment_settings(config_module.validate_config(raw), "seattle")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The Seattle experiment prepared, trained on 2 ranks and evaluated once for every test here."""
    folder = tmp_path_factory.mktemp("forecast")
    lines = SEATTLE.read_text(encoding="utf-8").splitlines()
    copy = folder / "seattle-weather.csv"
    copy.write_text("\n".join(line for line in lines if not line.startswith(LEFT_OUT)) + "\n", encoding="utf-8")
    settings = seattle_settings(copy)
    paths = ExperimentPaths.of(folder / "results", settings["name"])
    prepare_series(settings, paths.prepared)
    build_normalisation_and_encode(settings, paths.prepared, paths.vocab, paths.encoded)
    horovodrun = [HOROVODRUN, "-np", "2", "-H", "localhost:2", "--gloo"]
    result = run_stage("train", settings, paths.results_dir, launcher=horovodrun)
    evaluate(settings, paths)  # in this process: one TensorFlow start less
    return settings, paths, result


def baselines_from_the_file(path) -> dict[str, float]:
    """MAE of persistence, the training mean and the day-of-year mean on the test windows, from the
    CSV by hand: the test part (the last 25% of rows) has no gap, so its windows start at every row."""
    rows = list(csv.DictReader(Path(path).read_text(encoding="utf-8").splitlines()))
    days = [row["date"][5:] for row in rows]  # "MM/DD"
    values = np.array([float(row["temp_max"]) for row in rows])
    train_rows, test_start = int(0.5 * len(rows)), int(0.5 * len(rows)) + int(0.25 * len(rows))
    by_day = defaultdict(list)
    for day, value in zip(days[:train_rows], values[:train_rows], strict=True):
        by_day[day].append(value)
    targets = np.arange(test_start + WINDOW["sequence_length"], len(rows))
    truth = values[targets]
    seasonal = np.array([np.mean(by_day[days[row]]) for row in targets])  # 2012 and 2013 hold every day
    return {
        "persistence_baseline": float(np.abs(values[targets - 1] - truth).mean()),
        "training_mean_baseline": float(np.abs(values[:train_rows].mean() - truth).mean()),
        "seasonal_baseline": float(np.abs(seasonal - truth).mean()),
    }


def test_trains_on_two_ranks_and_is_evaluated_in_degrees_next_to_the_baselines(trained):
    settings, paths, result = trained
    summary = summary_of(paths)
    assert (summary["task"], summary["ranks"], summary["global_batch_size"]) == ("sequence_regression", 2, 64)
    assert summary["normalisation"]["columns"] == COLUMNS and summary["normalisation"]["unit"] == "degC"
    assert summary["cudnn_kernels"] == [{"layer": "lstm", "cell": "LSTM", "fused_cudnn_kernel": True, "why_not": []}]
    assert any("14 training windows would span a gap" in note for note in summary["training_data_notes"])
    assert "cuDNN fused kernel on a GPU, layer lstm (LSTM): yes" in result.stdout + result.stderr
    assert {"loss", "mae", "val_loss", "val_mae"} <= set(metrics_of(paths)[-1])
    metrics = json.loads(paths.eval_metrics.read_text())
    assert (metrics["unit"], metrics["target_column"], metrics["evaluated_split"]) == ("degC", "temp_max", "test")
    assert metrics["horizon_minutes"] == 24 * 60 and metrics["windows_dropped_at_gaps"] == 0
    for name in ("model_metrics", "persistence_baseline", "training_mean_baseline", "seasonal_baseline"):
        assert metrics[name]["examples"] == metrics["windows"]
        assert math.isfinite(metrics[name]["mae"]) and math.isfinite(metrics[name]["rmse"])
    for name, mae in baselines_from_the_file(settings["dataset"]["path"]).items():
        assert metrics[name]["mae"] == pytest.approx(mae, rel=1e-4), name
    assert "calendar day" in metrics["seasonal_baseline"]["described"]
    # a few dozen steps already beat always answering the training mean (6 degC here)
    assert metrics["model_metrics"]["mae"] < metrics["training_mean_baseline"]["mae"]
    forecasts = paths.samples.read_text().splitlines()
    assert forecasts[0].startswith("# Forecasts of seattle on its test split (temp_max, degC)") and len(forecasts) == 28


def test_the_summary_shows_the_mae_beside_persistence_and_the_gaps(trained, tmp_path):
    _, paths, _ = trained
    text = write_summary(paths.results_dir, ["seattle"], tmp_path / "summary.md")
    assert "| test MAE (degC) |" in text and "(persistence " in text and "training mean " in text
    assert "| forecast | temp_max, 24 h after the window |" in text
    assert "0 gap(s), 0 missing row(s)" in text  # the test part; the training part's gap is a note
    assert "would span a gap in the time index" in text


@functools.cache
def forecast_model(name: str) -> tf.keras.Model:
    model = config_module.filled_named_models()[name]
    architecture = config_module.architecture_of(model)
    return build_model(name, model["task"], architecture, 14, {"sequence_length": 120})


def test_the_materials_forecasting_models_and_their_cudnn_verdicts():
    shapes = {}
    for name in ("forecast_dense", "forecast_conv1d", "forecast_lstm", "forecast_lstm_dropout"):
        model = forecast_model(name)
        assert model.input_shape == (None, 120, 14) and model.output_shape == (None, 1)
        shapes[name] = [type(layer).__name__ for layer in model.layers[1:]]
    assert shapes["forecast_dense"] == ["Flatten", "Dense", "Dense"]
    assert shapes["forecast_conv1d"] == [
        "Conv1D",
        "MaxPooling1D",
        "Conv1D",
        "MaxPooling1D",
        "Conv1D",
        "GlobalAveragePooling1D",
        "Dense",
    ]
    assert shapes["forecast_lstm_dropout"] == ["LSTM", "Dropout", "Dense"]
    assert fused_kernel_report(forecast_model("forecast_dense")) == []  # no recurrent layer
    [dropout] = fused_kernel_report(forecast_model("forecast_lstm_dropout"))
    assert dropout["why_not"] == ["recurrent_dropout 0.25 (needs 0)"]
    gru = fused_kernel_report(forecast_model("forecast_stacked_gru"))
    assert [layer["why_not"] for layer in gru] == [["recurrent_dropout 0.5 (needs 0)"]] * 2
    assert forecast_model("forecast_stacked_gru").get_layer("gru_1").return_sequences
    [bilstm] = fused_kernel_report(forecast_model("forecast_bilstm"))
    assert bilstm["fused_cudnn_kernel"] and bilstm["layer"] == "bidirectional_lstm"
