"""The time-series reader and the forecasting data stages (hpcseq.data.time_series).

The small files are in the exact published layouts: Jena's header line as Keras' copy of
jena_climate_2009_2016.csv has it (quoted names with units, `Date Time` like 01.01.2009 00:10:00)
with its first three rows, then rows made up in the same layout; Seattle's daily observations are
the shipped file.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from hpcseq import config as C
from hpcseq.data import time_series as T
from hpcseq.errors import ConfigError, InputDataError
from hpcseq.paths import ExperimentPaths
from tests.conftest import REPO_ROOT

SEATTLE = REPO_ROOT / "data" / "seattle-weather.csv"
JENA_HEADER = (
    '"Date Time","p (mbar)","T (degC)","Tpot (K)","Tdew (degC)","rh (%)","VPmax (mbar)","VPact (mbar)",'
    '"VPdef (mbar)","sh (g/kg)","H2OC (mmol/mol)","rho (g/m**3)","wv (m/s)","max. wv (m/s)","wd (deg)"'
)
JENA_FIRST_ROWS = [
    "01.01.2009 00:10:00,996.52,-8.02,265.40,-8.90,93.30,3.33,3.11,0.22,1.94,3.12,1307.75,1.03,1.75,152.30",
    "01.01.2009 00:20:00,996.57,-8.41,265.01,-9.28,93.40,3.23,3.02,0.21,1.89,3.03,1309.80,0.72,1.50,136.10",
    "01.01.2009 00:30:00,996.53,-8.51,264.91,-9.31,93.90,3.21,3.01,0.20,1.88,3.02,1310.24,0.19,0.63,171.60",
]
JENA_LAYOUT = {"time_column": "Date Time", "time_format": "%d.%m.%Y %H:%M:%S", "interval_minutes": 10}
SEATTLE_LAYOUT = {"time_column": "date", "time_format": "%Y/%m/%d", "interval_minutes": 24 * 60}
SEATTLE_NUMBERS = ["precipitation", "temp_max", "temp_min", "wind"]  # not `weather`, a word


def jena_row(minute: int, temperature: float) -> str:
    """A made-up row in Jena's layout, `minute` minutes after 01.01.2009 00:00."""
    hours, minutes = divmod(minute, 60)
    days, hours = divmod(hours, 24)
    return (
        f"{1 + days:02d}.01.2009 {hours:02d}:{minutes:02d}:00,996.5,{temperature:.2f},265.4,-8.9,93.3,3.3,3.1,0.2,"
        "1.9,3.1,1307.7,1.0,1.7,152.3"
    )


def write_jena(tmp_path, rows: list[str], name: str = "jena.csv"):
    path = tmp_path / name
    path.write_text("\n".join([JENA_HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def test_jena_layout_quoted_header_times_and_chosen_columns(tmp_path):
    path = write_jena(tmp_path, JENA_FIRST_ROWS)
    series = T.read_series(path, JENA_LAYOUT, ["T (degC)", "p (mbar)"])
    assert series.columns == ["T (degC)", "p (mbar)"]
    assert series.values.dtype == np.float32 and series.values.shape == (3, 2)
    assert series.values[:, 0].tolist() == pytest.approx([-8.02, -8.41, -8.51])
    assert np.diff(series.minutes).tolist() == [10, 10]
    assert series.lines.tolist() == [2, 3, 4]
    every = T.read_series(path, JENA_LAYOUT, None)
    assert len(every.columns) == 14 and "Date Time" not in every.columns


@pytest.mark.parametrize(
    ("bad_row", "words"),
    [
        ("01.01.2009 00:40:00,996.5,-8.5", "3 fields, the header has 15"),
        (jena_row(40, 1.0).replace(",-8.9,", ",n/a,"), "column 'Tdew (degC)': 'n/a' is not a number"),
        (jena_row(40, 1.0).replace("01.01.2009 00:40:00", "2009-01-01 00:40"), "does not match the format"),
    ],
)
def test_a_malformed_line_is_an_error_naming_file_and_line(tmp_path, bad_row, words):
    path = write_jena(tmp_path, [*JENA_FIRST_ROWS, bad_row])
    with pytest.raises(InputDataError) as caught:
        T.read_series(path, JENA_LAYOUT, None)
    assert (caught.value.path, caught.value.line) == (str(path), 5)
    assert f"{path}, line 5: " in str(caught.value) and words in str(caught.value)


def test_an_unknown_column_is_named_with_the_files_columns(tmp_path):
    path = write_jena(tmp_path, JENA_FIRST_ROWS)
    with pytest.raises(InputDataError, match=r"no column 'T \(C\)' in the header \(line 1\); its columns are "):
        T.read_series(path, JENA_LAYOUT, ["T (C)"])
    with pytest.raises(InputDataError, match=r"no column 'date'.*'Date Time'"):
        T.read_series(path, {**JENA_LAYOUT, "time_column": "date"}, None)


def test_gaps_repeats_and_backward_steps_end_runs_and_are_counted():
    minutes = np.array([0, 10, 20, 50, 60, 60, 70, 65, 75, 85])  # gap of 2 rows, repeat, backwards
    starts, counts = T.run_starts(minutes, 10)
    assert starts.tolist() == [0, 3, 5, 7]
    assert counts == {"gap": 1, "repeated": 1, "backwards": 1, "irregular": 0, "missing_rows": 2}
    _, irregular = T.run_starts(np.array([0, 10, 25, 35]), 10)
    assert irregular["irregular"] == 1 and irregular["gap"] == 0
    # windows of 3 rows only inside runs [0, 3), [3, 5), [5, 7), [7, 10)
    assert T.window_starts(starts, len(minutes), 3).tolist() == [0, 7]
    assert T.windows_without_gaps(len(minutes), 3) - 2 == 6  # the windows the breaks cost


def test_the_seattle_weather_is_read_day_by_day_without_a_gap():
    series = T.read_series(SEATTLE, SEATTLE_LAYOUT, SEATTLE_NUMBERS)
    assert series.columns == SEATTLE_NUMBERS and series.values.shape == (1461, 4)  # 2012-2015, 2 leap days
    assert series.values[0].tolist() == pytest.approx([0.0, 12.8, 5.0, 4.7])  # 2012/01/01,0.0,12.8,5.0,4.7,drizzle
    assert (
        T.time_text(series.minutes[0]) == "2012-01-01 00:00" and T.time_text(series.minutes[-1]) == "2015-12-31 00:00"
    )
    starts, counts = T.run_starts(series.minutes, SEATTLE_LAYOUT["interval_minutes"])
    assert starts.tolist() == [0] and counts == {**dict.fromkeys(T.STEP_KINDS, 0), "missing_rows": 0}
    # the shipped dataset names the same layout, and its sha256 is the file's
    shipped = C.load_yaml(REPO_ROOT / "config" / "config.yaml")["datasets"]["seattle_weather"]
    assert {key: shipped["time_series"][key] for key in SEATTLE_LAYOUT} == SEATTLE_LAYOUT
    T.read_series(SEATTLE, shipped["time_series"], SEATTLE_NUMBERS, shipped["sha256"])


def test_the_text_column_of_the_seattle_weather_is_refused_as_a_feature():
    with pytest.raises(InputDataError, match=r"line 2: column 'weather': 'drizzle' is not a number"):
        T.read_series(SEATTLE, SEATTLE_LAYOUT, None)


def test_a_missing_day_is_a_gap_of_one_row(tmp_path):
    lines = SEATTLE.read_text(encoding="utf-8").splitlines()
    path = tmp_path / "seattle.csv"
    path.write_text("\n".join(line for line in lines if not line.startswith("2012/02/29")) + "\n", encoding="utf-8")
    series = T.read_series(path, SEATTLE_LAYOUT, ["temp_max"])
    starts, counts = T.run_starts(series.minutes, SEATTLE_LAYOUT["interval_minutes"])
    assert counts["gap"] == 1 and counts["missing_rows"] == 1
    assert T.time_text(series.minutes[starts[1]]) == "2012-03-01 00:00" and series.lines[starts[1]] == 61
    span = T.window_span(14, 1, 1)  # two weeks, the target the next day
    windows = T.window_starts(starts, len(series.minutes), span)
    assert T.windows_without_gaps(len(series.minutes), span) - len(windows) == span - 1


def experiment(tmp_path, path, **preprocess):
    raw = {
        "datasets": {"series": {"format": "time_series", "path": str(path), "time_series": JENA_LAYOUT}},
        "experiments": {"forecast": {"model": "forecast_lstm", "dataset": "series", "preprocess": preprocess}},
    }
    settings = C.experiment_settings(C.validate_config(raw), "forecast")
    return settings, ExperimentPaths.of(tmp_path / "results", "forecast")


def test_chronological_split_and_normalisation_from_the_training_rows_only(tmp_path):
    # 40 rows: training temperatures 0..20 but 5, validation and test far higher (a leak would show)
    rows = [jena_row(10 * (i + 1), float(i) if i < 21 else 1000.0 + i) for i in range(41)]
    del rows[5]  # a gap in the training part
    path = write_jena(tmp_path, rows)
    settings, paths = experiment(tmp_path, path, target_column="T (degC)", columns=["T (degC)", "p (mbar)"])
    report = T.prepare_series(settings, paths.prepared)
    assert report["sizes"] == {"train": 20, "validation": 10, "test": 10}  # the material's 50/25/25
    splits = report["splits"]
    assert splits["train"]["last_time"] < splits["validation"]["first_time"] < splits["test"]["first_time"]
    assert (splits["train"]["gap"], splits["train"]["missing_rows"], splits["train"]["runs"]) == (1, 1, 2)
    assert report["steps_ending_runs"]["first"] == ["line 7: 2009-01-01 00:50 -> 2009-01-01 01:10"]
    document = T.build_normalisation_and_encode(settings, paths.prepared, paths.vocab, paths.encoded)
    training = [i for i in range(21) if i != 5]
    assert document["mean"][0] == pytest.approx(np.mean(training))
    assert document["std"][0] == pytest.approx(np.std(training))
    assert document["constant_in_training"] == ["p (mbar)"]  # std 1: the column stays 0
    assert (document["target_column"], document["target_index"], document["size"]) == ("T (degC)", 0, 2)
    test_values, test_runs = T.load_split(paths.encoded, "test")
    expected = (np.arange(1031, 1041) - np.mean(training)) / np.std(training)
    assert test_values[:, 0] == pytest.approx(expected, rel=1e-5)
    assert test_runs.tolist() == [0]
    vocabulary = T.Normalisation.from_json(json.loads(paths.vocab.read_text()))
    assert vocabulary.target_to_data_unit(test_values[:, 0]) == pytest.approx(np.arange(1031, 1041), rel=1e-5)


def test_a_malformed_line_leaves_nothing_written(tmp_path):
    rows = [jena_row(10 * (i + 1), float(i)) for i in range(20)]
    rows[12] = rows[12].replace(",996.5,", ",,")
    settings, paths = experiment(tmp_path, write_jena(tmp_path, rows))
    with pytest.raises(InputDataError, match=r"line 14: column 'p \(mbar\)': '' is not a number"):
        T.prepare_series(settings, paths.prepared)
    assert not paths.prepared.exists() or not any(paths.prepared.iterdir())


def test_several_columns_need_a_target_named_by_key(tmp_path):
    settings, paths = experiment(tmp_path, write_jena(tmp_path, JENA_FIRST_ROWS))
    key = r"experiments\.forecast\.preprocess\.target_column"
    with pytest.raises(ConfigError, match=key + ": the series has 14 columns"):
        T.prepare_series(settings, paths.prepared)
