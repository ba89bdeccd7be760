"""Shared values of the hpcseq.config tests: a small valid raw config, the schema's key lists, and
the errors that validating a config raises."""

from __future__ import annotations

import copy

import pytest
import yaml

from hpcseq import config as C
from hpcseq.errors import ConfigError, ConfigErrors
from tests.conftest import REPO_ROOT

SHIPPED = REPO_ROOT / "config" / "config.yaml"

SCHEMA = yaml.safe_load((REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())
# the schema is still growing, so the key lists come from the file itself (read here with plain YAML)
CHAR_TRAINING_KEYS = sorted(SCHEMA["$defs"]["next_character_training"]["properties"])
CHAR_PREPROCESS_KEYS = sorted(SCHEMA["$defs"]["next_character_preprocess"]["properties"])
EXPERIMENT_SECTIONS = {"preprocess", "vocabulary", "hyperparameters", "training", "evaluation", "slurm"}


def base_raw(tmp_path=None) -> dict:
    """A small valid raw config with one experiment per model and one preset."""
    return {
        "preset": "short",
        "presets": {
            "short": {
                "models": {
                    "char_rnn": {"training": {"epochs": 3, "batch_size": 64}},
                    "sentiment_lstm": {"training": {"epochs": 2}, "vocabulary": {"max_words": 50}},
                }
            },
        },
        "datasets": {
            "text": {"format": "text", "path": "corpus.txt"},
            "sentences": {"format": "labelled_sentences", "path": "sentences.tsv"},
        },
        "experiments": {
            "chars": {"model": "char_rnn", "dataset": "text"},
            "words": {"model": "sentiment_lstm", "dataset": "sentences"},
        },
    }


def config_errors(raw) -> list[ConfigError]:
    with pytest.raises(ConfigErrors) as caught:
        C.validate_config(raw)
    for error in caught.value.errors:
        assert isinstance(error, ConfigError)
        assert error.key in str(caught.value)  # the combined message names every key
    return caught.value.errors


def single_error(raw) -> ConfigError:
    errors = config_errors(raw)
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


def with_model(raw: dict, name: str, **model) -> dict:
    raw = copy.deepcopy(raw)
    raw.setdefault("models", {})[name] = model
    return raw


GRU = {"task": "sequence_classification", "embedding": 8, "layers": [{"cell": "gru", "units": 4}]}


def forecast_raw() -> dict:
    raw = base_raw()
    raw["datasets"]["series"] = {
        "format": "time_series",
        "path": "series.csv",
        "time_series": {"time_column": "date", "time_format": "%Y/%m/%d %H:%M", "units": {"temp": "degF"}},
    }
    raw["experiments"]["forecast"] = {"model": "forecast_lstm_dropout", "dataset": "series"}
    return raw
