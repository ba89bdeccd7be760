"""hpcseq.config: config files read and merged, and the shipped config resolved with its defaults."""

from __future__ import annotations

import copy

import pytest
import yaml

from hpcseq import config as C
from hpcseq.errors import ConfigError, ConfigErrors
from tests.conftest import REPO_ROOT
from tests.unit.config.conftest import CHAR_PREPROCESS_KEYS, CHAR_TRAINING_KEYS, EXPERIMENT_SECTIONS, SHIPPED, base_raw

# The lecture's recurrent layers, as the built-in named models hold them with defaults filled.
LECTURE_SIMPLE_RNN = {
    "cell": "simple_rnn",
    "units": 128,
    "bidirectional": False,
    "dropout": 0,
    "recurrent_dropout": 0,
    "unroll": True,
    "dropout_after": 0,
}
LECTURE_SENTIMENT_LSTM = {
    "task": "sequence_classification",
    "description": C.named_models()["sentiment_lstm"]["description"],
    "embedding": 128,
    "spatial_dropout": 0.2,
    "layers": [
        {
            "cell": "lstm",
            "units": 64,
            "bidirectional": False,
            "dropout": 0.2,
            "recurrent_dropout": 0.2,
            "unroll": True,  # hpcseq's one departure from the lecture (the model's description says why)
            "dropout_after": 0,
        }
    ],
    # no head besides the output layer (the schema's defaults)
    "pooling": None,
    "dense": [],
    "output_dropout": 0,
}


def test_shipped_config_resolves_every_experiment_with_defaults_filled():
    config = C.load_config(SHIPPED)
    assert config["preset"] == "quick"
    assert set(config["experiments"]) == {
        "shakespeare_char_rnn",
        "umich_sentiment_lstm",
        "umich_sentiment_lstm_random_split",
        "macbeth_char_rnn",
        "umich_sentiment_bilstm",
        "umich_sentiment_stacked",
        "sarcasm_headlines",
        "sarcasm_headlines_bilstm",
        "imdb_bilstm",
        "sonnets_word_lstm",
        "shakespeare_char_gru",
        "seattle_weather_forecast",
        "jena_temperature_forecast",
    }
    assert config["results_dir"] == "results" and config["logs_dir"] == "logs"
    assert config["local_launcher"] == "horovodrun"

    char = config["experiments"]["shakespeare_char_rnn"]
    assert set(char) >= EXPERIMENT_SECTIONS
    assert sorted(char["training"]) == CHAR_TRAINING_KEYS
    # preset quick
    assert char["training"]["epochs"] == 5
    assert char["training"]["max_steps_per_epoch"] == 1500
    # schema defaults (the lecture's values)
    assert char["training"]["batch_size"] == 128
    assert char["training"]["optimizer"] == "rmsprop"
    assert char["training"]["learning_rate"] == 0.001
    assert {"learning_rate", "epochs", "batch_size", "optimizer"} <= set(CHAR_TRAINING_KEYS)
    assert config["models"]["char_rnn"]["layers"] == [LECTURE_SIMPLE_RNN]
    assert char["hyperparameters"] == {"sequence_length": 10, "step": 1}
    assert sorted(char["preprocess"]) == CHAR_PREPROCESS_KEYS
    assert {
        key: char["preprocess"][key]
        for key in (
            "strip_lines",
            "lowercase",
            "ascii_only",
            "drop_empty_lines",
            "join_with",
            "skip_header_lines",
            "start_after",
            "max_characters",
            "validation_fraction",
            "test_fraction",
        )
    } == {
        "strip_lines": True,
        "lowercase": True,
        "ascii_only": True,
        "drop_empty_lines": True,
        "join_with": " ",
        "skip_header_lines": 0,
        "start_after": None,
        "max_characters": None,
        "validation_fraction": 0.1,
        "test_fraction": 0.1,
    }
    assert char["vocabulary"]["unseen"] == "unknown"
    assert char["ranks"] == 2

    for name, split in (("umich_sentiment_lstm", "grouped"), ("umich_sentiment_lstm_random_split", "random")):
        words = config["experiments"][name]
        assert words["preprocess"]["split"] == split
        assert words["training"]["epochs"] == 5
        assert words["training"]["batch_size"] == 32
        assert words["training"]["optimizer"] == "adam"
        assert words["training"]["max_steps_per_epoch"] is None
        assert words["hyperparameters"] == {"sentence_length": 40, "padding": "pre"}
        assert words["vocabulary"]["max_words"] == 2000
        assert words["vocabulary"]["min_count"] == 1
    assert config["models"]["sentiment_lstm"] == LECTURE_SENTIMENT_LSTM


def test_overrides_in_load_config_win_over_the_file(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(base_raw()))
    config = C.load_config(path, overrides={"experiments": {"chars": {"ranks": 4}}})
    assert config["experiments"]["chars"]["ranks"] == 4
    assert config["experiments"]["chars"]["dataset"] == "text"  # merged, not replaced


def test_validate_config_does_not_modify_its_input():
    raw = base_raw()
    before = copy.deepcopy(raw)
    C.validate_config(raw)
    assert raw == before


def test_load_yaml_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        C.load_config(missing)
    assert str(missing) in str(caught.value)

    broken = tmp_path / "broken.yaml"
    broken.write_text("experiments: [unclosed\n")
    with pytest.raises(ConfigError) as caught:
        C.load_config(broken)
    assert str(broken) in str(caught.value) and "not valid YAML" in str(caught.value)

    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(ConfigError) as caught:
        C.load_config(listing)
    assert str(listing) in str(caught.value) and "mapping" in str(caught.value)


def test_deep_merge_merges_mappings_and_replaces_the_rest():
    base = {"a": {"x": 1, "y": [1, 2]}, "b": 1}
    merged = C.deep_merge(base, {"a": {"y": [3]}, "c": 2})
    assert merged == {"a": {"x": 1, "y": [3]}, "b": 1, "c": 2}
    assert base == {"a": {"x": 1, "y": [1, 2]}, "b": 1}


def test_whole_nodes_sizes_every_shipped_experiment_for_the_jsc_clusters():
    """config/whole-nodes.yaml, read after the shipped config (README, JURECA-DC), makes every
    experiment fill whole nodes; without it the JSC clusters refuse the shipped 2 ranks."""
    shipped = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())
    sizes = yaml.safe_load((REPO_ROOT / "config" / "whole-nodes.yaml").read_text())
    assert set(sizes["experiments"]) == set(shipped["experiments"])
    for cluster in ("jureca-dc", "juwels-booster"):
        raw = copy.deepcopy(shipped)
        raw.update(cluster=cluster, slurm={"account": "training2543"})
        with pytest.raises(ConfigErrors):
            C.validate_config(copy.deepcopy(raw))
        for name, size in sizes["experiments"].items():
            raw["experiments"][name].update(size)
        config = C.validate_config(raw)
        assert all(experiment["ranks"] % 4 == 0 for experiment in config["experiments"].values())
