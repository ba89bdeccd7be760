"""hpcseq.config: the datasets, and which of them an experiment's model reads."""

from __future__ import annotations

import pytest

from hpcseq import config as C
from hpcseq.errors import ConfigErrors
from tests.unit.config.conftest import base_raw, config_errors, forecast_raw, single_error


def test_undefined_dataset():
    raw = base_raw()
    raw["experiments"]["chars"]["dataset"] = "shakespeare"
    error = single_error(raw)
    assert error.key == "experiments.chars.dataset"
    assert "'shakespeare' is not defined under `datasets`" in str(error)
    assert "defined: sentences, text" in str(error)


def test_dataset_format_must_match_the_model():
    raw = base_raw()
    raw["experiments"]["chars"]["dataset"] = "sentences"
    raw["experiments"]["words"]["dataset"] = "text"
    errors = config_errors(raw)
    by_key = {e.key: str(e) for e in errors}
    assert set(by_key) == {"experiments.chars.dataset", "experiments.words.dataset"}
    assert "needs a dataset of format 'text'" in by_key["experiments.chars.dataset"]
    assert "'labelled_sentences'" in by_key["experiments.chars.dataset"]
    assert "needs a dataset of format 'labelled_sentences'" in by_key["experiments.words.dataset"]


def test_a_time_series_dataset_without_its_layout_is_refused_by_key():
    raw = forecast_raw()
    del raw["datasets"]["series"]["time_series"]
    with pytest.raises(ConfigErrors, match=r"datasets\.series\.time_series: format time_series needs its layout"):
        C.validate_config(raw)
