"""Numeric time series from CSV: reading, gaps in the time index, a chronological split, and the
normalisation of the training part (the `vocabulary` stage of a forecasting experiment).

The dataset's `time_series` entry describes the file (time column, its strptime format, the time
between two rows, each column's unit); the experiment chooses the feature columns and the target.
Rows keep their order; the split is chronological (train | validation | test, first rows first).

**Gaps.** A window is only cut from a *run*: consecutive rows each exactly `interval_minutes` after
the previous one. Every other step ends a run and is counted by kind: a gap (time jumps by more:
the rows in between are missing, like the Seattle series' hour at the 2010 daylight-saving change),
a repeated time, a step backwards, or a step that is no multiple of the interval. Nothing is filled
in or interpolated: a window that would span such a step is dropped, and training and evaluation
count the windows dropped so. The split boundaries end runs too (no window crosses two splits).

**Normalisation** (the vocabulary stage): mean and standard deviation of every column over the
training rows only, written to vocab.json and applied to every split (encoded/<split>.npz); the
training summary records them with the model and evaluation un-normalises predictions with them.
Memory is proportional to the file: one float32 per value; windows are cut later, inside tf.data.
"""

from __future__ import annotations

import csv
import io
from array import array
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from hpcseq.data.source_files import HashingLineReader
from hpcseq.errors import ConfigError, InputDataError
from hpcseq.io import atomic_path, write_json
from hpcseq.paths import ENCODED_INDEX, SPLIT_REPORT, SPLITS, encoded_split_file, prepared_split_file

FORMAT = "time_series"  # the data format this module prepares (paths.TASK_STAGE_FORMAT)
KIND = "normalisation"  # what vocab.json holds for this format
EPOCH = datetime(1970, 1, 1)
STEP_KINDS = ("gap", "repeated", "backwards", "irregular")  # steps that end a run
LISTED_STEPS = 10  # the first irregular steps the split report names


@dataclass
class Series:
    """Rows of the chosen columns, with each row's time (minutes since 1970) and source line."""

    columns: list[str]
    values: np.ndarray  # (rows, columns) float32
    minutes: np.ndarray  # (rows,) int64
    lines: np.ndarray  # (rows,) int64: line in the file, for messages


def _time_minutes(text: str, time_format: str) -> int:
    moment = datetime.strptime(text.strip(), time_format)
    return int((moment - EPOCH).total_seconds() // 60)


def read_series(path: str | Path, layout: dict, columns: list[str] | None, expected_sha256: str | None = None):
    """The CSV at `path` with the header the dataset's `layout` (its `time_series` entry) describes:
    the time column and `columns` (None: every other column), as a Series. A malformed line (wrong
    number of fields, a time that does not match the format, a value that is no number) is an error
    naming the file and line; an unknown column name is an error naming it and the file's columns."""
    reader = HashingLineReader(path)
    time_column = layout["time_column"]
    header: list[str] | None = None
    indices: list[int] = []
    chosen: list[str] = []
    # flat typed buffers (4 bytes a value), not lists of Python floats: Jena's 420,551 x 14 values
    # take 24 MB so, and the arrays are made from them without a copy per row
    values = array("f")
    minutes = array("q")
    lines = array("q")
    for number, raw in reader:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InputDataError(path, f"cannot decode as utf-8 at byte {error.start}", number) from None
        if not text.strip():
            if header is None:
                raise InputDataError(path, "empty line where the header was expected", number)
            continue  # a trailing empty line
        fields = next(csv.reader(io.StringIO(text)))
        if header is None:
            header = [field.strip() for field in fields]
            time_index, chosen, indices = _column_indices(path, header, time_column, columns)
            continue
        if len(fields) != len(header):
            raise InputDataError(path, f"{len(fields)} fields, the header has {len(header)}", number)
        try:
            minutes.append(_time_minutes(fields[time_index], layout["time_format"]))
        except ValueError:
            raise InputDataError(
                path,
                f"time {fields[time_index]!r} of column {time_column!r} does not match the format "
                f"{layout['time_format']!r} (datasets.<name>.time_series.time_format)",
                number,
            ) from None
        for index, name in zip(indices, chosen, strict=True):
            try:
                value = float(fields[index])
            except ValueError:
                raise InputDataError(path, f"column {name!r}: {fields[index]!r} is not a number", number) from None
            values.append(value)
        lines.append(number)
    if header is None:
        raise InputDataError(path, "empty file: no header line")
    reader.verify_sha256(expected_sha256)
    return Series(
        chosen,
        np.frombuffer(values, dtype=np.float32).reshape(len(minutes), len(chosen)),
        np.frombuffer(minutes, dtype=np.int64),
        np.frombuffer(lines, dtype=np.int64),
    )


def _column_indices(path, header: list[str], time_column: str, columns: list[str] | None):
    missing = [name for name in [time_column, *(columns or [])] if name not in header]
    if missing:
        raise InputDataError(
            path,
            f"no column {', '.join(map(repr, missing))} in the header (line 1); its columns are "
            f"{', '.join(map(repr, header))}",
            1,
        )
    chosen = list(columns) if columns else [name for name in header if name != time_column]
    return header.index(time_column), chosen, [header.index(name) for name in chosen]


def run_starts(minutes: np.ndarray, interval: int) -> tuple[np.ndarray, dict]:
    """Indices where a run begins (0 first) and the count of each kind of step that ends one."""
    if len(minutes) == 0:
        return np.zeros(0, dtype=np.int64), {**dict.fromkeys(STEP_KINDS, 0), "missing_rows": 0}
    steps = np.diff(minutes)
    kinds = {
        "gap": (steps > interval) & (steps % interval == 0),
        "repeated": steps == 0,
        "backwards": steps < 0,
        "irregular": (steps > 0) & (steps % interval != 0),
    }
    broken = steps != interval
    counts = {kind: int(mask.sum()) for kind, mask in kinds.items()}
    counts["missing_rows"] = int((steps[kinds["gap"]] // interval - 1).sum())
    return np.concatenate([[0], np.flatnonzero(broken) + 1]).astype(np.int64), counts


def split_bounds(rows: int, validation_fraction: float, test_fraction: float) -> dict[str, tuple[int, int]]:
    """Chronological blocks [start, stop) of train | validation | test, as the material cuts them:
    int(fraction * rows) rows for training and for validation, the rest for test."""
    train = int((1 - validation_fraction - test_fraction) * rows)
    validation = train + int(validation_fraction * rows)
    return {"train": (0, train), "validation": (train, validation), "test": (validation, rows)}


def window_span(sequence_length: int, sampling_step: int, horizon: int) -> int:
    """Rows from a window's first sample to its target, both included."""
    return (sequence_length - 1 + horizon) * sampling_step + 1


def window_starts(starts_of_runs: np.ndarray, rows: int, span: int) -> np.ndarray:
    """The first row of every window that lies inside one run (an index, not the windows)."""
    ends = np.append(starts_of_runs[1:], rows)
    pieces = [np.arange(start, end - span + 1, dtype=np.int64) for start, end in zip(starts_of_runs, ends, strict=True)]
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)


def windows_without_gaps(rows: int, span: int) -> int:
    """Windows a split of `rows` rows would hold if its time index had no gaps."""
    return max(0, rows - span + 1)


def _target_column(preprocess: dict, columns: list[str], name: str) -> str:
    target = preprocess["target_column"]
    if target is None:
        if len(columns) != 1:
            raise ConfigError(
                f"experiments.{name}.preprocess.target_column",
                f"the series has {len(columns)} columns ({', '.join(columns)}): name the one to forecast",
            )
        return columns[0]
    if target not in columns:
        raise ConfigError(
            f"experiments.{name}.preprocess.target_column",
            f"{target!r} is not one of the chosen columns ({', '.join(columns)})",
        )
    return target


def prepare_series(settings: dict, prepared_dir: str | Path) -> dict:
    """preprocess: read, find runs, split chronologically; prepared/<split>.npz and the split report."""
    dataset, preprocess = settings["dataset"], settings["preprocess"]
    layout = dataset.get("time_series")
    if not layout:
        raise ConfigError(f"datasets.{dataset['name']}.time_series", "a time_series dataset needs it")
    series = read_series(dataset["path"], layout, preprocess["columns"], dataset.get("sha256"))
    target = _target_column(preprocess, series.columns, settings["name"])
    rows = len(series.minutes)
    if preprocess["max_rows"] is not None and rows > preprocess["max_rows"]:
        rows = preprocess["max_rows"]
    bounds = split_bounds(rows, preprocess["validation_fraction"], preprocess["test_fraction"])
    prepared_dir = Path(prepared_dir)
    report = {
        "kind": FORMAT,
        "source": {"path": str(dataset["path"]), "rows": len(series.minutes), "rows_used": rows},
        "columns": series.columns,
        "target_column": target,
        "units": {name: (layout.get("units") or {}).get(name) for name in series.columns},
        "interval_minutes": layout["interval_minutes"],
        "gap_rule": "windows are cut only from runs of rows each interval_minutes after the previous one; "
        "gaps, repeated, backward and irregular steps end a run, nothing is filled in",
        "sizes": {},
        "splits": {},
    }
    _, everything = run_starts(series.minutes[:rows], layout["interval_minutes"])
    report["steps_ending_runs"] = {**everything, "first": _listed_steps(series, rows, layout["interval_minutes"])}
    written = {}
    for split in SPLITS:
        start, stop = bounds[split]
        minutes = series.minutes[start:stop]
        starts, counts = run_starts(minutes, layout["interval_minutes"])
        report["sizes"][split] = stop - start
        report["splits"][split] = {
            "rows": stop - start,
            "first_time": time_text(minutes[0]) if stop > start else None,
            "last_time": time_text(minutes[-1]) if stop > start else None,
            "runs": len(starts),
            **counts,
        }
        written[split] = (series.values[start:stop], minutes, np.asarray(starts, dtype=np.int64))
    for split, (values, minutes, starts) in written.items():  # after every check: all or nothing
        save_arrays(prepared_split_file(prepared_dir, split, FORMAT), values=values, minutes=minutes, run_starts=starts)
    write_json(prepared_dir / SPLIT_REPORT, report)
    return report


def _listed_steps(series: Series, rows: int, interval: int) -> list[str]:
    steps = np.diff(series.minutes[:rows])
    listed = []
    for index in np.flatnonzero(steps != interval)[:LISTED_STEPS]:
        listed.append(
            f"line {series.lines[index + 1]}: {time_text(series.minutes[index])} -> "
            f"{time_text(series.minutes[index + 1])}"
        )
    return listed


def time_text(minutes: int) -> str:
    return (EPOCH + timedelta(minutes=int(minutes))).strftime("%Y-%m-%d %H:%M")


# Days before each month's first in a leap year: a row's calendar day (month, day) as 0..365, so
# that 1 March is the same day in every year and 29 February one of its own.
_LEAP_MONTH_STARTS = np.cumsum([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30])
CALENDAR_DAYS = 366
SEASONAL_RULE = (
    "the training rows' mean of the target on the calendar day (month and day) of the forecast time, "
    "all times of day together; a calendar day with no training row (29 February when no training "
    "year is a leap year, a day missing from the file) takes the mean of the nearest calendar days "
    "before and after it that have one (for 29 February: 28 February and 1 March)"
)


def calendar_days(minutes: np.ndarray) -> np.ndarray:
    """Each time's calendar day, 0 (1 January) to 365 (31 December), 29 February being 59 in
    every year (so 1 March is 60 in leap and common years alike)."""
    days = np.asarray(minutes, dtype=np.int64) // (24 * 60)
    dates = np.datetime64("1970-01-01", "D") + days
    month_starts = dates.astype("datetime64[M]")
    months = (month_starts - dates.astype("datetime64[Y]")).astype(np.int64)  # 0..11
    return _LEAP_MONTH_STARTS[months] + (dates - month_starts).astype(np.int64)


def seasonal_means(minutes: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The mean of `target` for each of the 366 calendar days over the rows at `minutes` (the
    training split), a day without rows filled by SEASONAL_RULE: the mean of its nearest days with
    rows before and after it, the year wrapping round (31 December's next day is 1 January)."""
    if len(minutes) == 0:
        raise ValueError("no rows to take a seasonal mean from")
    day = calendar_days(minutes)
    counts = np.bincount(day, minlength=CALENDAR_DAYS)
    sums = np.bincount(day, weights=np.asarray(target, dtype=np.float64), minlength=CALENDAR_DAYS)
    present = np.flatnonzero(counts)
    means = np.full(CALENDAR_DAYS, np.nan)
    means[present] = sums[present] / counts[present]
    for missing in np.flatnonzero(counts == 0):
        ahead = (present - missing) % CALENDAR_DAYS  # days from the missing one forward to each present one
        means[missing] = (means[present[ahead.argmax()]] + means[present[ahead.argmin()]]) / 2
    return means


def save_arrays(path: Path, **arrays) -> None:
    """An .npz written whole or not at all."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)


def load_arrays(path: str | Path) -> dict[str, np.ndarray]:
    if not Path(path).is_file():
        raise InputDataError(path, "missing: run the stage that writes it first")
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


@dataclass
class Normalisation:
    """What a forecasting model's inputs are made of: each column's training mean and std."""

    columns: list[str]
    mean: list[float]
    std: list[float]
    target_column: str
    unit: str | None

    @property
    def size(self) -> int:
        """Features per time step (the input width; the `vocabulary size` of the other tasks)."""
        return len(self.columns)

    @property
    def target_index(self) -> int:
        return self.columns.index(self.target_column)

    def to_json(self) -> dict:
        return {
            "kind": KIND,
            "size": self.size,
            "columns": self.columns,
            "mean": self.mean,
            "std": self.std,
            "target_column": self.target_column,
            "target_index": self.target_index,
            "unit": self.unit,
        }

    @classmethod
    def from_json(cls, document: dict) -> Normalisation:
        return cls(document["columns"], document["mean"], document["std"], document["target_column"], document["unit"])

    def target_to_data_unit(self, normalised: np.ndarray) -> np.ndarray:
        return np.asarray(normalised, np.float64) * self.std[self.target_index] + self.mean[self.target_index]


def build_normalisation_and_encode(settings: dict, prepared_dir, vocab_path, encoded_dir) -> dict:
    """vocabulary stage: mean and std of every column over the training split only; every split
    normalised with them (encoded/<split>.npz, with its runs)."""
    prepared_dir, encoded_dir = Path(prepared_dir), Path(encoded_dir)
    report_path = prepared_dir / SPLIT_REPORT
    report = load_json(report_path)
    train = load_arrays(prepared_split_file(prepared_dir, "train", FORMAT))
    values = train["values"].astype(np.float64)
    if len(values) < 2:
        raise InputDataError(prepared_split_file(prepared_dir, "train", FORMAT), "fewer than 2 training rows")
    mean = values.mean(axis=0)
    std = values.std(axis=0)
    constant = [name for name, spread in zip(report["columns"], std, strict=True) if spread == 0]
    std = np.where(std > 0, std, 1.0)  # a constant column stays constant (0) after normalising
    target = report["target_column"]
    normalisation = Normalisation(report["columns"], mean.tolist(), std.tolist(), target, report["units"].get(target))
    index = {"format": FORMAT, "target_index": normalisation.target_index, "splits": {}}
    encoded = {}
    for split in SPLITS:
        arrays = load_arrays(prepared_split_file(prepared_dir, split, FORMAT))
        normalised = ((arrays["values"] - mean) / std).astype(np.float32)
        encoded[split] = (normalised, arrays["run_starts"])
        index["splits"][split] = {"rows": len(normalised), "runs": len(arrays["run_starts"])}
    for split, (normalised, starts) in encoded.items():
        save_arrays(encoded_split_file(encoded_dir, split, FORMAT), values=normalised, run_starts=starts)
    write_json(encoded_dir / ENCODED_INDEX, index)
    document = {
        "experiment": settings["name"],
        "settings": settings.get("vocabulary", {}),
        "built_from": str(prepared_split_file(prepared_dir, "train", FORMAT)),
        **normalisation.to_json(),
        "constant_in_training": constant,
        "encoded": index,
    }
    write_json(vocab_path, document)
    return document


def load_json(path: str | Path) -> dict:
    import json

    if not Path(path).is_file():
        raise InputDataError(path, "missing: run the stage that writes it first")
    return json.loads(Path(path).read_text(encoding="utf-8"))


def load_split(encoded_dir: str | Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(normalised values, run starts) of one encoded split."""
    arrays = load_arrays(encoded_split_file(encoded_dir, split, FORMAT))
    return arrays["values"], arrays["run_starts"]
