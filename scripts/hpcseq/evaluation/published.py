"""The course material's published figures (config/published.yaml), beside which hpcseq shows its
own results: in a run's summary, the sweep tables and the docs' table of experiments.

The file is reference data, not a setting: it is read whole and checked strictly (an unknown key,
a missing field or a metric hpcseq does not report is an error naming the entry), so that a figure
cannot silently drop out of every table that shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hpcseq.errors import ConfigError
from hpcseq.io import load_yaml
from hpcseq.paths import PUBLISHED_PATH

# metric -> what hpcseq's result holds for it, in words (the figures compare with these)
METRICS = {
    "training_loss": "the last epoch's training loss",
    "accuracy": "test accuracy",
    "mae": "test mean absolute error",
}
ENTRY_KEYS = {"source", "figures", "note"}
FIGURE_KEYS = {"model", "metric", "value", "what", "unit"}


@dataclass(frozen=True)
class Figure:
    """One published number: of `model` (a named model or a baseline), comparable with `metric`."""

    model: str
    metric: str
    value: float
    what: str
    unit: str | None = None


@dataclass(frozen=True)
class Publication:
    """What the material publishes on one experiment's data."""

    experiment: str
    source: str
    figures: tuple[Figure, ...]
    note: str | None = None

    def figure(self, model: str, metric: str) -> Figure | None:
        """The published figure of `model` for `metric`, or None."""
        return next((f for f in self.figures if (f.model, f.metric) == (model, metric)), None)


def load_published(path: str | Path = PUBLISHED_PATH) -> dict[str, Publication]:
    """Every entry of the published-figures file, by experiment name."""
    data = load_yaml(path)
    return {name: _publication(path, name, entry) for name, entry in data.items()}


def _publication(path, name: str, entry) -> Publication:
    where = f"{path}: {name}"
    if not isinstance(entry, dict) or not {"source", "figures"} <= set(entry) or set(entry) - ENTRY_KEYS:
        raise ConfigError(where, f"needs `source` and `figures` (and optionally `note`), got {entry!r}")
    if not isinstance(entry["figures"], list) or not entry["figures"]:
        raise ConfigError(f"{where}.figures", "must be a non-empty list")
    figures = tuple(_figure(f"{where}.figures[{index}]", raw) for index, raw in enumerate(entry["figures"]))
    return Publication(name, str(entry["source"]), figures, entry.get("note"))


def _figure(where: str, raw) -> Figure:
    if not isinstance(raw, dict) or not {"model", "metric", "value", "what"} <= set(raw) or set(raw) - FIGURE_KEYS:
        raise ConfigError(where, f"needs model, metric, value and what (and optionally unit), got {raw!r}")
    if raw["metric"] not in METRICS:
        raise ConfigError(f"{where}.metric", f"{raw['metric']!r} is none of {', '.join(METRICS)}")
    if isinstance(raw["value"], bool) or not isinstance(raw["value"], int | float):
        raise ConfigError(f"{where}.value", f"{raw['value']!r} is no number")
    return Figure(str(raw["model"]), raw["metric"], float(raw["value"]), str(raw["what"]), raw.get("unit"))
