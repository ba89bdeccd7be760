"""hpcseq.config: presets, between the schema's defaults and an experiment's own keys."""

from __future__ import annotations

import yaml

from hpcseq import config as C
from tests.unit.config.conftest import GRU, SHIPPED, base_raw, single_error, with_model


def test_preset_null_gives_the_lecture_defaults():
    config = C.load_config(SHIPPED, overrides={"preset": None})
    char = config["experiments"]["shakespeare_char_rnn"]
    assert char["training"]["epochs"] == 25
    assert char["training"]["batch_size"] == 128
    assert char["training"]["optimizer"] == "rmsprop"
    assert char["training"]["learning_rate"] == 0.001
    assert char["training"]["max_steps_per_epoch"] is None
    assert char["hyperparameters"]["sequence_length"] == 10

    words = config["experiments"]["umich_sentiment_lstm"]
    assert words["training"]["epochs"] == 10
    assert words["training"]["batch_size"] == 32
    assert words["training"]["optimizer"] == "adam"
    assert words["hyperparameters"]["sentence_length"] == 40
    assert words["vocabulary"]["max_words"] == 2000


def test_preset_lecture_applies_its_split_and_epochs():
    config = C.load_config(SHIPPED, overrides={"preset": "lecture"})
    char = config["experiments"]["shakespeare_char_rnn"]
    assert char["training"]["epochs"] == 25
    assert char["preprocess"]["validation_fraction"] == 0.1
    assert char["preprocess"]["test_fraction"] == 0.0
    assert char["preprocess"]["lowercase"] is True  # the rest of the section keeps its defaults
    assert config["experiments"]["umich_sentiment_lstm"]["training"]["epochs"] == 10


def test_shipped_experiment_epochs_beat_the_quick_preset():
    overrides = {"experiments": {"shakespeare_char_rnn": {"training": {"epochs": 7}}}}
    config = C.load_config(SHIPPED, overrides=overrides)
    training = config["experiments"]["shakespeare_char_rnn"]["training"]
    assert training["epochs"] == 7  # the experiment's own key
    assert training["max_steps_per_epoch"] == 1500  # still from preset quick
    assert training["batch_size"] == 128  # schema default
    assert config["experiments"]["umich_sentiment_lstm"]["training"]["epochs"] == 5


def test_precedence_defaults_then_preset_then_experiment(tmp_path):
    raw = base_raw()
    raw["experiments"]["own_epochs"] = {
        "model": "char_rnn",
        "dataset": "text",
        "training": {"epochs": 9, "learning_rate": 0.01},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    config = C.load_config(path)

    plain = config["experiments"]["chars"]["training"]
    assert plain["epochs"] == 3  # preset
    assert plain["batch_size"] == 64  # preset
    assert plain["learning_rate"] == 0.001  # schema default
    assert plain["optimizer"] == "rmsprop"  # schema default

    own = config["experiments"]["own_epochs"]["training"]
    assert own["epochs"] == 9  # experiment beats preset
    assert own["learning_rate"] == 0.01  # experiment beats default
    assert own["batch_size"] == 64  # the preset still fills the rest of the same section

    words = config["experiments"]["words"]
    assert words["training"]["epochs"] == 2
    assert words["vocabulary"]["max_words"] == 50  # preset
    assert words["vocabulary"]["min_count"] == 1  # schema default
    # the preset for one model does not leak into the other
    assert words["training"]["batch_size"] == 32


def test_preset_null_ignores_defined_presets():
    raw = base_raw()
    raw["preset"] = None
    config = C.validate_config(raw)
    assert config["experiments"]["chars"]["training"]["epochs"] == 25
    assert config["experiments"]["chars"]["training"]["batch_size"] == 128
    assert config["experiments"]["words"]["vocabulary"]["max_words"] == 2000


def test_undefined_preset():
    raw = base_raw()
    raw["preset"] = "fast"
    error = single_error(raw)
    assert error.key == "preset"
    assert "'fast' is not defined under `presets`; defined: short" in str(error)


def test_presets_by_task_apply_to_every_model_of_the_task_and_by_model_win():
    raw = base_raw()
    raw["presets"]["short"]["tasks"] = {"sequence_classification": {"training": {"epochs": 4, "batch_size": 8}}}
    raw = with_model(raw, "sentiment_gru", **GRU)
    raw["experiments"]["gru"] = {"model": "sentiment_gru", "dataset": "sentences"}
    experiments = C.validate_config(raw)["experiments"]
    assert experiments["gru"]["training"]["epochs"] == 4  # the task's
    assert experiments["words"]["training"]["epochs"] == 2  # the named model's beats the task's
    assert experiments["words"]["training"]["batch_size"] == 8  # the task's where the model's says nothing


def test_preset_overrides_name_defined_models_and_follow_their_task():
    raw = base_raw()
    raw["presets"]["short"]["models"]["nope"] = {"training": {"epochs": 1}}
    assert single_error(raw).key == "presets.short.models.nope"
    raw = base_raw()
    raw["presets"]["short"]["models"]["sentiment_bilstm"] = {"vocabulary": {"unknown_characters": "skip"}}
    assert single_error(raw).key == "presets.short.models.sentiment_bilstm.vocabulary.unknown_characters"
