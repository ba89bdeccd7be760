"""hpcseq.config: what an experiment must hold beyond the schema, and the settings each stage reads."""

from __future__ import annotations

import pytest

from hpcseq import config as C
from hpcseq.errors import ConfigError
from hpcseq.io import stable_hash
from tests.unit.config.conftest import SHIPPED, base_raw, config_errors, single_error


def test_invalid_experiment_name():
    raw = base_raw()
    raw["experiments"]["1st run"] = raw["experiments"].pop("chars")
    error = single_error(raw)
    assert error.key == "experiments.1st run"
    assert "must start with a letter" in str(error)


@pytest.mark.parametrize("validation, test", [(0.5, 0.5), (0.7, 0.4)])
def test_held_out_fractions_must_leave_training_data(validation, test):
    raw = base_raw()
    raw["experiments"]["words"]["preprocess"] = {"validation_fraction": validation, "test_fraction": test}
    error = single_error(raw)
    assert error.key == "experiments.words.preprocess"
    assert f"= {validation + test:g} leaves no training data" in str(error)


def test_fractions_below_one_are_accepted():
    raw = base_raw()
    raw["experiments"]["words"]["preprocess"] = {"validation_fraction": 0.45, "test_fraction": 0.45}
    config = C.validate_config(raw)
    assert config["experiments"]["words"]["preprocess"]["test_fraction"] == 0.45


def test_zero_validation_fraction_is_rejected():
    raw = base_raw()
    raw["experiments"]["chars"]["preprocess"] = {"validation_fraction": 0}
    error = single_error(raw)
    assert error.key == "experiments.chars.preprocess.validation_fraction"


def test_invalid_start_after_regex():
    raw = base_raw()
    raw["experiments"]["chars"]["preprocess"] = {"start_after": "^(=+$"}
    error = single_error(raw)
    assert error.key == "experiments.chars.preprocess.start_after"
    assert "not a valid regular expression" in str(error)


def test_semantic_problems_are_reported_together():
    raw = base_raw()
    raw["preset"] = "fast"
    raw["experiments"]["chars"]["dataset"] = "missing"
    raw["experiments"]["words"]["preprocess"] = {"validation_fraction": 0.6, "test_fraction": 0.6}
    assert {e.key for e in config_errors(raw)} == {
        "preset",
        "experiments.chars.dataset",
        "experiments.words.preprocess",
    }


def test_experiment_settings_unknown_experiment():
    config = C.validate_config(base_raw())
    with pytest.raises(ConfigError) as caught:
        C.experiment_settings(config, "charz")
    assert caught.value.key == "experiments"
    assert "'charz'" in str(caught.value) and "defined: chars, words" in str(caught.value)


def test_experiment_settings_are_self_contained():
    config = C.validate_config(base_raw())
    settings = C.experiment_settings(config, "chars")
    assert settings["name"] == "chars"
    assert settings["model"] == "char_rnn"
    assert settings["dataset"] == {
        "name": "text",
        "format": "text",
        "path": "corpus.txt",
        "sha256": None,
        "encoding": "utf-8",
        "description": "",
    }
    assert settings["training"]["epochs"] == 3
    assert settings["preset"] == "short"


def _settings(**training) -> dict:
    raw = base_raw()
    raw["experiments"]["chars"]["training"] = training
    raw["experiments"]["words"]["training"] = training
    return C.validate_config(raw)


def test_preprocess_and_vocabulary_settings_do_not_depend_on_training():
    short, long = _settings(epochs=3), _settings(epochs=30)
    for name in ("chars", "words"):
        a, b = C.experiment_settings(short, name), C.experiment_settings(long, name)
        for stage in ("preprocess", "vocabulary", "evaluate"):
            assert C.stage_settings(a, stage) == C.stage_settings(b, stage), stage
            assert stable_hash(C.stage_settings(a, stage)) == stable_hash(C.stage_settings(b, stage))
        assert C.stage_settings(a, "train") != C.stage_settings(b, "train")
        assert C.stage_settings(b, "train")["training"]["epochs"] == 30


def test_stage_settings_contain_what_each_stage_reads():
    settings = C.experiment_settings(C.validate_config(base_raw()), "chars")
    preprocess = C.stage_settings(settings, "preprocess")
    assert preprocess["dataset"]["path"] == "corpus.txt"
    assert preprocess["preprocess"] == settings["preprocess"]
    assert "training" not in preprocess and "hyperparameters" not in preprocess

    vocabulary = C.stage_settings(settings, "vocabulary")
    assert vocabulary["vocabulary"] == settings["vocabulary"]
    assert vocabulary["vocabulary"]["unseen"] == "unknown"
    assert set(vocabulary) == {"name", "task", "vocabulary"}  # not the model: the data are the task's

    train = C.stage_settings(settings, "train")
    assert train["hyperparameters"]["sequence_length"] == 10 and train["ranks"] == 2
    assert train["model"] == "char_rnn" and train["architecture"] == settings["architecture"]
    assert "evaluation" not in train

    evaluate = C.stage_settings(settings, "evaluate")
    assert evaluate["evaluation"]["sample_length"] == 200
    assert "training" not in evaluate

    with pytest.raises(ValueError):
        C.stage_settings(settings, "deploy")


def test_preprocess_settings_change_when_cleaning_changes():
    raw = base_raw()
    a = C.experiment_settings(C.validate_config(raw), "chars")
    raw["experiments"]["chars"]["preprocess"] = {"lowercase": False}
    b = C.experiment_settings(C.validate_config(raw), "chars")
    assert stable_hash(C.stage_settings(a, "preprocess")) != stable_hash(C.stage_settings(b, "preprocess"))


def test_preprocess_settings_do_not_change_with_a_preset_that_only_changes_epochs():
    # presets quick and lecture differ for sentiment_lstm only in training.epochs (5 vs 10), so the
    # sentiment preprocessing reads exactly the same settings under both and must not rerun
    quick = C.experiment_settings(C.load_config(SHIPPED, {"preset": "quick"}), "umich_sentiment_lstm")
    lecture = C.experiment_settings(C.load_config(SHIPPED, {"preset": "lecture"}), "umich_sentiment_lstm")
    assert quick["preprocess"] == lecture["preprocess"]
    assert quick["dataset"] == lecture["dataset"]
    assert C.stage_settings(quick, "vocabulary") == C.stage_settings(lecture, "vocabulary")
    assert C.stage_settings(quick, "preprocess") == C.stage_settings(lecture, "preprocess")
