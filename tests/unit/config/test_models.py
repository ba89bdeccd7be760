"""hpcseq.config: the named models, their tasks, and what a task allows a model to be built from."""

from __future__ import annotations

import pytest

from hpcseq import config as C
from hpcseq.errors import ConfigErrors
from tests.unit.config.conftest import GRU, SHIPPED, base_raw, config_errors, forecast_raw, single_error, with_model


def test_the_shipped_experiments_name_the_course_models_and_get_their_tasks_presets():
    config = C.load_config(SHIPPED)
    models = {name: experiment["model"] for name, experiment in config["experiments"].items()}
    assert models["macbeth_char_rnn"] == models["shakespeare_char_rnn"] == "char_rnn"
    assert models["umich_sentiment_bilstm"] == "sentiment_bilstm"
    assert models["umich_sentiment_stacked"] == "sentiment_stacked_bilstm"
    macbeth = config["experiments"]["macbeth_char_rnn"]
    assert macbeth["training"]["epochs"] == 5 and macbeth["training"]["max_steps_per_epoch"] == 1500  # quick
    assert macbeth["training"]["batch_size"] == 128 and macbeth["training"]["optimizer"] == "rmsprop"
    defaults = {name for name, experiment in config["experiments"].items() if experiment["default_target"]}
    assert defaults == {
        "shakespeare_char_rnn",
        "umich_sentiment_lstm",
        "umich_sentiment_lstm_random_split",
        "macbeth_char_rnn",
        "seattle_weather_forecast",
    }  # make run stays well under 10 minutes on 2 cores
    for name in ("umich_sentiment_bilstm", "umich_sentiment_stacked"):
        assert config["experiments"][name]["preprocess"]["split"] == "grouped"
        assert config["experiments"][name]["training"]["epochs"] == 5
    lecture = C.load_config(SHIPPED, overrides={"preset": "lecture"})["experiments"]
    assert lecture["macbeth_char_rnn"]["training"]["global_batch_size"] == 128
    assert lecture["umich_sentiment_stacked"]["training"]["epochs"] == 10


def test_the_course_models_hold_the_course_layers():
    models = C.validate_config(base_raw())["models"]
    assert set(models) == {
        "char_rnn",
        "char_gru",
        "sentiment_lstm",
        "sentiment_bilstm",
        "sentiment_stacked_bilstm",
        "headline_pooling",
        "headline_bilstm",
        "review_bilstm",
        "poetry_bilstm",
        "tutorial_char_gru",
    } | {f"forecast_{name}" for name in ("dense", "conv1d", "lstm", "lstm_dropout", "stacked_gru", "bilstm")}
    pooling = models["headline_pooling"]  # TensorFlow in Practice's sarcasm classifier
    assert (pooling["embedding"], pooling["pooling"], pooling["layers"]) == (16, "average", [])
    assert pooling["dense"] == [{"units": 24, "activation": "relu", "l2": 0}]
    headline_bilstm = models["headline_bilstm"]
    assert [(layer["cell"], layer["units"], layer["bidirectional"]) for layer in headline_bilstm["layers"]] == [
        ("lstm", 32, True)
    ]
    assert headline_bilstm["embedding"] == 16 and headline_bilstm["dense"] == pooling["dense"]
    review = models["review_bilstm"]
    assert (review["layers"][0]["units"], review["layers"][0]["bidirectional"], review["output_dropout"]) == (
        32,
        True,
        0.5,
    )
    tutorial = models["tutorial_char_gru"]
    assert (tutorial["task"], tutorial["embedding"], tutorial["layers"][0]["units"]) == (
        "next_character_sequence",
        256,
        1024,
    )
    bilstm = models["sentiment_bilstm"]
    assert (bilstm["embedding"], bilstm["spatial_dropout"]) == (128, 0.2)  # the lecture's embedding
    assert [(layer["cell"], layer["units"], layer["bidirectional"]) for layer in bilstm["layers"]] == [
        ("lstm", 64, True)
    ]
    stacked = models["sentiment_stacked_bilstm"]["layers"]
    assert [(layer["units"], layer["bidirectional"]) for layer in stacked] == [(64, True), (32, True)]
    assert all(layer["recurrent_dropout"] == 0 for layer in bilstm["layers"] + stacked)  # cuDNN's fused kernel


def test_settings_carry_the_task_and_architecture_of_the_named_model():
    settings = C.experiment_settings(C.validate_config(base_raw()), "words")
    assert settings["task"] == "sequence_classification"
    assert set(settings["architecture"]) == set(C.ARCHITECTURE_KEYS)
    assert settings["architecture"]["layers"][0]["recurrent_dropout"] == 0.2


def test_forecasting_models_get_the_materials_layers_and_hyperparameters():
    config = C.validate_config(forecast_raw())
    settings = C.experiment_settings(config, "forecast")
    assert settings["task"] == "sequence_regression"
    assert settings["architecture"] == {
        "embedding": None,
        "spatial_dropout": 0,
        "layers": [
            {
                "cell": "lstm",
                "units": 32,
                "bidirectional": False,
                "dropout": 0,
                "recurrent_dropout": 0.25,
                "unroll": False,
                "dropout_after": 0,
            }
        ],
        "pooling": None,
        "dense": [],
        "output_dropout": 0.5,  # the one model-level dropout before the output (the IMDB BiLSTM's too)
    }
    assert settings["hyperparameters"] == {"sequence_length": 120, "sampling_step": 6, "horizon": 24}
    training = settings["training"]
    assert (training["optimizer"], training["global_batch_size"], training["epochs"]) == ("rmsprop", 256, 10)
    assert settings["preprocess"]["validation_fraction"] == settings["preprocess"]["test_fraction"] == 0.25
    conv = config["models"]["forecast_conv1d"]["layers"]
    assert [layer["cell"] for layer in conv][:2] == ["conv1d", "max_pooling1d"]
    assert conv[0] == {"cell": "conv1d", "units": 8, "kernel_size": 24, "activation": "relu"}  # no recurrent keys
    assert config["models"]["forecast_conv1d"]["pooling"] == "average"  # the headline classifier's head
    dense = config["models"]["forecast_dense"]  # the window flattened, then the one dense-layer definition
    assert (dense["pooling"], dense["layers"], dense["dense"]) == (
        "flatten",
        [],
        [{"units": 16, "activation": "relu", "l2": 0}],
    )
    lecture = C.load_config(SHIPPED, overrides={"preset": "lecture"})
    assert lecture["presets"]["lecture"]["models"]["forecast_stacked_gru"]["training"]["epochs"] == 50


@pytest.mark.parametrize(
    ("model", "key", "words"),
    [
        (
            {"task": "sequence_regression", "embedding": 8, "layers": [{"cell": "lstm", "units": 4}]},
            "models.bad.embedding",
            "reads numbers",
        ),
        (
            {"task": "sequence_classification", "layers": [{"cell": "lstm", "units": 4}]},
            "models.bad.embedding",
            "reads ids",
        ),
        (
            {
                "task": "sequence_classification",
                "embedding": 8,
                "layers": [{"cell": "conv1d", "units": 4, "kernel_size": 3}],
                "pooling": "average",
            },
            "models.bad.layers.0.cell",
            "for sequence_regression models",
        ),
        (
            {
                "task": "sequence_regression",
                "layers": [{"cell": "conv1d", "units": 4, "kernel_size": 3, "bidirectional": True}],
                "pooling": "flatten",
            },
            "models.bad.layers.0.bidirectional",
            "a conv1d layer has no bidirectional",
        ),
        (
            {"task": "sequence_regression", "layers": [{"cell": "conv1d", "units": 4, "kernel_size": 3}]},
            "models.bad.pooling",
            "returns a sequence: give `pooling: average` or `pooling: flatten`",
        ),
        (
            {"task": "sequence_regression", "layers": [{"cell": "dense", "units": 4}]},
            "models.bad.layers.0.cell",
            "'dense' is not one of",  # dense layers are the model's `dense` ($defs/dense_layer), not a cell
        ),
        (
            {"task": "sequence_regression", "layers": [{"cell": "conv1d", "units": 4}]},
            "models.bad.layers.0",
            "'kernel_size' is required",
        ),
        (
            {"task": "sequence_regression", "layers": [{"cell": "max_pooling1d"}]},
            "models.bad.layers.0",
            "'pool_size' is required",
        ),
    ],
)
def test_a_model_that_its_task_cannot_build_is_refused_by_key(model, key, words):
    with pytest.raises(ConfigErrors) as caught:
        C.validate_config(with_model(base_raw(), "bad", **model))
    assert any(error.key == key and words in str(error) for error in caught.value.errors), caught.value


def test_a_config_adds_a_model_and_changes_a_named_one_key_by_key():
    raw = with_model(base_raw(), "sentiment_gru", **GRU)
    raw["models"]["char_rnn"] = {"layers": [{"cell": "gru", "units": 16}]}
    raw["experiments"]["gru"] = {"model": "sentiment_gru", "dataset": "sentences"}
    config = C.validate_config(raw)
    assert config["models"]["char_rnn"]["embedding"] == "one_hot"  # kept
    assert config["models"]["char_rnn"]["layers"][0]["cell"] == "gru"  # the list replaced whole
    gru = config["experiments"]["gru"]
    assert gru["training"]["epochs"] == 10  # the default: preset short names sentiment_lstm, not this model
    assert gru["vocabulary"]["max_words"] == 2000
    assert C.experiment_task(config, "gru") == "sequence_classification"


@pytest.mark.parametrize(
    ("layer", "key", "words"),
    [
        ({"cell": "transformer", "units": 4}, "models.bad.layers.0.cell", "'transformer' is not one of"),
        ({"cell": "gru", "units": 0}, "models.bad.layers.0.units", "less than the minimum of 1"),
        ({"cell": "gru", "units": 4, "dropout": 1.0}, "models.bad.layers.0.dropout", "maximum of 1"),
        ({"cell": "gru", "units": 4, "recurrent_dropout": -0.1}, "models.bad.layers.0.recurrent_dropout", "minimum"),
        ({"cell": "gru", "units": 4, "return_sequences": True}, "models.bad.layers.0.return_sequences", "unknown key"),
    ],
)
def test_a_recurrent_layer_that_makes_no_sense_is_refused_by_key(layer, key, words):
    error = single_error(with_model(base_raw(), "bad", **{**GRU, "layers": [layer]}))
    assert error.key == key
    assert words in str(error)


@pytest.mark.parametrize(
    ("model", "key", "words"),
    [
        ({**GRU, "pooling": "average"}, "models.bad.pooling", "give one or the other"),
        ({**GRU, "layers": []}, "models.bad.layers", "no recurrent layer and no pooling"),
        ({**GRU, "layers": [], "pooling": "max"}, "models.bad.pooling", "'max' is not one of None, 'average'"),
        ({**GRU, "dense": [{"units": 0}]}, "models.bad.dense.0.units", "less than the minimum of 1"),
        ({**GRU, "dense": [{"units": 4, "activation": "gelu"}]}, "models.bad.dense.0.activation", "not one of"),
        ({**GRU, "output_dropout": 1}, "models.bad.output_dropout", "maximum of 1"),
    ],
)
def test_a_model_head_that_makes_no_sense_is_refused_by_key(model, key, words):
    error = single_error(with_model(base_raw(), "bad", **model))
    assert error.key == key
    assert words in str(error)


def test_an_average_pooling_model_needs_no_recurrent_layer():
    raw = with_model(base_raw(), "pooled", task="sequence_classification", embedding=16, pooling="average")
    config = C.validate_config(raw)
    assert config["models"]["pooled"]["layers"] == [] and config["models"]["pooled"]["dense"] == []


def test_a_model_needs_a_known_task_and_an_embedding_that_is_one_hot_or_a_size():
    errors = config_errors(with_model(base_raw(), "bad", task="translation", embedding="onehot", layers=[]))
    messages = {error.key: str(error) for error in errors}
    assert "'translation' is not one of 'next_character', 'sequence_classification'" in messages["models.bad.task"]
    assert "does not match the pattern ^one_hot$" in messages["models.bad.embedding"]
    # empty layers are a model without recurrent layers: refused unless it pools (model_head_errors, checked
    # once the schema's own errors are fixed: test_a_model_head_that_makes_no_sense_is_refused_by_key)
    error = single_error(with_model(base_raw(), "bad", **{**GRU, "embedding": 0}))
    assert error.key == "models.bad.embedding"


def test_models_must_be_a_mapping_of_named_models():
    raw = base_raw()
    raw["models"] = ["char_rnn"]
    assert single_error(raw).key == "models"
    raw["models"] = {"odd": 3}
    assert single_error(raw).key == "models.odd"


def test_an_experiment_names_a_defined_model_and_takes_the_keys_of_its_task():
    raw = base_raw()
    raw["experiments"]["words"]["model"] = "sentiment_transformer"
    error = single_error(raw)
    assert error.key == "experiments.words.model"
    assert "'sentiment_bilstm'" in str(error) and "'char_rnn'" in str(error)

    raw = base_raw()
    raw["experiments"]["words"]["model"] = "sentiment_bilstm"
    raw["experiments"]["words"]["vocabulary"] = {"unknown_characters": "skip"}  # a next_character key
    assert single_error(raw).key == "experiments.words.vocabulary.unknown_characters"

    raw = base_raw()
    raw["experiments"]["words"]["model"] = "char_gru"  # a next-character model on labelled sentences
    error = single_error(raw)
    assert error.key == "experiments.words.dataset"
    assert "model char_gru (task next_character) needs a dataset of format 'text'" in str(error)


def test_a_bidirectional_layer_is_refused_where_a_task_predicts_at_every_step():
    raw = base_raw()
    raw["models"] = {"tutorial_char_gru": {"layers": [{"cell": "gru", "units": 8, "bidirectional": True}]}}
    raw["experiments"]["stepwise"] = {"model": "tutorial_char_gru", "dataset": "text"}
    error = single_error(raw)
    assert error.key == "models.tutorial_char_gru.layers.0.bidirectional"
    assert "task next_character_sequence predicts at every step: a bidirectional layer would read the characters" in (
        str(error)
    )
    # reading a whole window both ways before one prediction after it is fine
    for model in ("sentiment_bilstm", "poetry_bilstm"):
        assert C.named_models()[model]["task"] not in C.PER_STEP_TASKS
    raw["models"]["tutorial_char_gru"]["layers"][0]["bidirectional"] = False
    config = C.validate_config(raw)
    assert config["experiments"]["stepwise"]["hyperparameters"] == {"sequence_length": 100, "step": 101}
    assert config["experiments"]["stepwise"]["preprocess"]["lowercase"] is False  # the tutorial keeps case
