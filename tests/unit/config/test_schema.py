"""hpcseq.config: what the schema refuses, each problem named by its dotted key."""

from __future__ import annotations

import pytest

from hpcseq import config as C
from hpcseq.paths import TASK_STAGE_FORMAT
from tests.unit.config.conftest import CHAR_TRAINING_KEYS, base_raw, config_errors, single_error


def test_unknown_key_names_dotted_key_suggests_and_lists_valid_keys():
    raw = base_raw()
    raw["experiments"]["chars"]["training"] = {"lerning_rate": 0.01}
    error = single_error(raw)
    assert error.key == "experiments.chars.training.lerning_rate"
    message = str(error)
    assert "experiments.chars.training.lerning_rate" in message
    assert "did you mean 'learning_rate'" in message
    assert "valid keys here are: " + ", ".join(CHAR_TRAINING_KEYS) in message


def test_unknown_top_level_key():
    raw = base_raw()
    raw["experimnts"] = {}
    error = single_error(raw)
    assert error.key == "experimnts"
    assert "did you mean 'experiments'" in str(error)


def test_unknown_key_in_a_preset_is_reported_with_its_path():
    raw = base_raw()
    raw["presets"]["short"]["models"]["char_rnn"]["training"]["epoch"] = 3
    error = single_error(raw)
    assert error.key == "presets.short.models.char_rnn.training.epoch"
    assert "did you mean 'epochs'" in str(error)


@pytest.mark.parametrize(
    "path, value, key, fragment",
    [
        (
            ("experiments", "chars", "training", "epochs"),
            "ten",
            "experiments.chars.training.epochs",
            "is not of type 'integer'",
        ),
        (("experiments", "chars", "training", "epochs"), 0, "experiments.chars.training.epochs", "minimum"),
        (
            ("experiments", "chars", "training", "optimizer"),
            "adamw",
            "experiments.chars.training.optimizer",
            "'adamw' is not one of 'rmsprop', 'adam', 'sgd'",
        ),
        (
            ("experiments", "words", "preprocess", "split"),
            "stratified",
            "experiments.words.preprocess.split",
            "'stratified' is not one of",
        ),
        (
            ("experiments", "chars", "preprocess", "validation_fraction"),
            1.0,
            "experiments.chars.preprocess.validation_fraction",
            "1.0",
        ),
        (("experiments", "chars", "model"), "gpt", "experiments.chars.model", "'gpt' is not one of"),
        (("datasets", "text", "sha256"), "ABC", "datasets.text.sha256", "does not match the pattern"),
        (("datasets", "text", "format"), "csv", "datasets.text.format", "'csv' is not one of"),
        (("local_launcher",), "srun", "local_launcher", "'srun' is not one of 'horovodrun', 'mpirun'"),
        (
            ("presets", "short", "models", "char_rnn", "training", "epochs"),
            "x",
            "presets.short.models.char_rnn.training.epochs",
            "is not of type 'integer'",
        ),
    ],
)
def test_invalid_values_name_their_key(path, value, key, fragment):
    raw = base_raw()
    target = raw
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value
    error = single_error(raw)
    assert error.key == key
    assert str(error).startswith(f"config key {key}: ")
    assert fragment in str(error)


def test_missing_required_keys():
    raw = base_raw()
    del raw["experiments"]["chars"]["dataset"]
    error = single_error(raw)
    assert error.key == "experiments.chars"
    assert "'dataset' is required" in str(error)

    errors = config_errors({"preset": None})
    assert {e.key for e in errors} == {""}
    assert "'datasets' is required" in str(errors[0]) or "'datasets' is required" in str(errors[1])


def test_several_problems_are_reported_together():
    raw = base_raw()
    raw["experiments"]["chars"]["training"] = {"lerning_rate": 0.01, "epochs": -1}
    raw["experiments"]["words"]["hyperparameters"] = {"sentence_length": "many"}
    raw["local_launcher"] = "pbs"
    errors = config_errors(raw)
    assert {e.key for e in errors} == {
        "experiments.chars.training.lerning_rate",
        "experiments.chars.training.epochs",
        "experiments.words.hyperparameters.sentence_length",
        "local_launcher",
    }


def test_sentiment_keys_are_not_accepted_for_a_char_model():
    raw = base_raw()
    raw["experiments"]["chars"]["vocabulary"] = {"max_words": 100}
    error = single_error(raw)
    assert error.key == "experiments.chars.vocabulary.max_words"
    assert "valid keys here are: unseen" in str(error)


def test_the_schema_tasks_are_those_with_a_data_format():
    assert set(C.load_schema()["$defs"]["task"]["enum"]) == set(TASK_STAGE_FORMAT)
    for task in TASK_STAGE_FORMAT:
        assert f"{task}_experiment" in C.load_schema()["$defs"] and f"{task}_overrides" in C.load_schema()["$defs"]
