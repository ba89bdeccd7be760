"""Evaluation of sequence_regression models, next to persistence, the training mean and the season.

Mean absolute error in the data's unit (predictions un-normalised with the training split's mean
and std) next to persistence (the target column's last value in the window, the material's
"naive" forecast), the training mean, and a seasonal baseline (the training rows' mean of the
target on the calendar day of the forecast time: time_series.SEASONAL_RULE), on the same test
windows.
"""

from __future__ import annotations

import json
import time

import numpy as np

from hpcseq.data import time_series
from hpcseq.data.vocabulary import encoded_index
from hpcseq.errors import InputDataError
from hpcseq.evaluation import metrics
from hpcseq.evaluation.held_out import result_header
from hpcseq.io import write_text
from hpcseq.paths import ExperimentPaths
from hpcseq.training import inputs
from hpcseq.training.rank_data import series_windows


def evaluate_regression(settings: dict, paths: ExperimentPaths, model, normalisation, log) -> dict:
    """The model's forecast of every window of the held-out split, in the data's unit, next to
    persistence and the training mean; a few forecasts in the samples file."""
    split, series = _held_out_windows(settings, paths)
    dataset = inputs.series_eval_dataset(
        series["values"], series["starts"], series["windows"], settings["evaluation"]["batch_size"]
    )
    started = time.perf_counter()
    predicted = normalisation.target_to_data_unit(model.predict(dataset, verbose=0).reshape(-1))
    seconds = time.perf_counter() - started
    raw = time_series.load_arrays(paths.prepared_split(split, settings["task"]))  # in the data's unit
    forecast = _forecast_rows(series, raw, normalisation)
    truth, persistence = forecast["truth"], forecast["persistence"]
    seasonal = _seasonal_forecast(paths, settings["task"], normalisation, raw["minutes"][forecast["target_row"]])
    training_mean = np.full(len(truth), normalisation.mean[normalisation.target_index])
    report = json.loads(paths.split_report.read_text(encoding="utf-8"))
    windows = series["windows"]
    result = {
        **result_header(settings, split),
        "target_column": normalisation.target_column,
        "unit": normalisation.unit,
        "windows": len(truth),
        "windows_dropped_at_gaps": series["dropped_at_gaps"],
        "time_index": {key: report["splits"][split][key] for key in ("runs", *time_series.STEP_KINDS, "missing_rows")},
        "horizon_minutes": windows["horizon"] * windows["sampling_step"] * report["interval_minutes"],
        "model_metrics": metrics.regression_metrics(truth, predicted),
        "persistence_baseline": metrics.regression_metrics(truth, persistence),
        "training_mean_baseline": metrics.regression_metrics(truth, training_mean),
        "seasonal_baseline": {
            **metrics.regression_metrics(truth, seasonal["forecast"]),
            "described": seasonal["described"],
        },
        "windows_per_second": len(truth) / seconds,
    }
    examples = _forecast_examples(
        settings, split, normalisation, raw, {**forecast, "predicted": predicted, "seasonal": seasonal["forecast"]}
    )
    write_text(paths.samples, examples)
    log.info(
        "%s split, %d windows (%d dropped at gaps): MAE %.4f %s; persistence %.4f, training mean %.4f, seasonal %.4f",
        split,
        len(truth),
        series["dropped_at_gaps"],
        result["model_metrics"]["mae"],
        normalisation.unit or "",
        result["persistence_baseline"]["mae"],
        result["training_mean_baseline"]["mae"],
        result["seasonal_baseline"]["mae"],
    )
    return result


def _held_out_windows(settings: dict, paths: ExperimentPaths) -> tuple[str, dict]:
    """The test split, or the validation split when the test split has no rows, and its windows
    (rank_data.series_windows); an error when it holds none."""
    index = encoded_index(paths.encoded)
    split = "test" if index["splits"]["test"]["rows"] > 0 else "validation"
    series = series_windows(settings, paths.encoded, split)
    if len(series["starts"]) < 1:
        raise InputDataError(
            paths.encoded_split(split, settings["task"]),
            f"the {split} split has {len(series['values'])} rows: no window of {series['span']} rows inside a run",
        )
    return split, series


def _forecast_rows(series: dict, raw: dict, normalisation) -> dict[str, np.ndarray]:
    """Of every window: its last input row, the true value of the target it forecasts, and
    persistence's forecast (the target column's value in its last row), in the data's unit."""
    target = normalisation.target_index
    windows = series["windows"]
    last_row = series["starts"] + (windows["sequence_length"] - 1) * windows["sampling_step"]
    target_row = last_row + windows["horizon"] * windows["sampling_step"]
    return {
        "last_row": last_row,
        "target_row": target_row,
        "truth": raw["values"][target_row, target].astype(np.float64),
        "persistence": raw["values"][last_row, target].astype(np.float64),
    }


def _seasonal_forecast(paths: ExperimentPaths, task: str, normalisation, target_minutes: np.ndarray) -> dict:
    """The seasonal baseline's forecast for each target time, from the training split's rows (in the
    data's unit), and the sentence that says what it is and how many calendar days training covers."""
    train = time_series.load_arrays(paths.prepared_split("train", task))
    target = normalisation.target_index
    means = time_series.seasonal_means(train["minutes"], train["values"][:, target])
    covered = len(np.unique(time_series.calendar_days(train["minutes"])))
    described = (
        f"{normalisation.target_column}: {time_series.SEASONAL_RULE}; the training rows cover {covered} of "
        f"{time_series.CALENDAR_DAYS} calendar days"
    )
    return {"forecast": means[time_series.calendar_days(target_minutes)], "described": described}


def _forecast_examples(settings: dict, split: str, normalisation, raw: dict, forecast: dict) -> str:
    """The samples file: evaluation.examples forecasts, evenly spread over the windows, each with
    the time of its last input, persistence, the seasonal baseline and the truth."""
    truth, examples = forecast["truth"], settings["evaluation"]["examples"]
    lines = [
        f"# Forecasts of {settings['name']} on its {split} split ({normalisation.target_column}, {normalisation.unit})",
        "",
        "time of the last input | persistence | seasonal | forecast | truth",
        "",
    ]
    for row in np.linspace(0, len(truth) - 1, num=min(examples, len(truth)), dtype=np.int64) if examples else []:
        when = time_series.time_text(raw["minutes"][forecast["last_row"][row]])
        persistence, seasonal, predicted = (forecast[key][row] for key in ("persistence", "seasonal", "predicted"))
        lines.append(f"{when} | {persistence:.2f} | {seasonal:.2f} | {predicted:.2f} | {truth[row]:.2f}")
    return "\n".join(lines) + "\n"
