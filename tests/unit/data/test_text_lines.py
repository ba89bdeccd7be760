"""Word language models' data: Keras' word tokenizer, lines kept apart and split in blocks, the
line vocabulary (training words only; unseen words unknown, refused or skipped), the config keys."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hpcseq import config as config_module
from hpcseq.data.text_lines import prepare_text_lines, tokenize_words
from hpcseq.data.vocabulary import PAD, UNK, build_vocabulary, load_lines, load_vocabulary
from hpcseq.errors import ConfigErrors, InputDataError
from hpcseq.paths import ExperimentPaths
from tests.unit.config.conftest import base_raw

SONNET = """THE SONNETS
by William Shakespeare

I

From fairest creatures we desire increase,
That thereby beauty's rose might never die,
  Pity the world, or else this glutton be,

II

When forty winters shall besiege thy brow,
Feed'st thy light's flame with self-substantial fuel,
--
the world's fresh ornament
thy brow the world
"""


def line_settings(path, **preprocess):
    return {
        "name": "poems",
        "task": "next_word",
        "dataset": {"name": "poems", "path": str(path), "format": "text"},
        "preprocess": {
            "skip_header_lines": 2,
            "drop_lines_matching": "[ivxlc]+",
            "validation_fraction": 0.25,
            "test_fraction": 0.25,
            **preprocess,
        },
        "vocabulary": {"max_words": None, "min_count": 1, "unseen": "unknown"},
    }


def test_words_are_what_keras_tokenizer_makes_of_a_line():
    # Keras' Tokenizer (TensorFlow 2.15) with its default filters: punctuation becomes a space,
    # apostrophes stay inside words, "self-substantial" becomes two words
    assert tokenize_words("feed'st thy light's flame with self-substantial fuel,") == [
        "feed'st",
        "thy",
        "light's",
        "flame",
        "with",
        "self",
        "substantial",
        "fuel",
    ]
    assert tokenize_words('  "pity"\tthe world; or else!  ') == ["pity", "the", "world", "or", "else"]
    assert tokenize_words("-- !!") == []


def test_lines_are_cleaned_filtered_and_split_in_contiguous_blocks(tmp_path):
    source = tmp_path / "sonnets.txt"
    source.write_text(SONNET, encoding="utf-8")
    report = prepare_text_lines(line_settings(source), tmp_path / "prepared")
    train = (tmp_path / "prepared" / "train.txt").read_text(encoding="utf-8").splitlines()
    validation = (tmp_path / "prepared" / "validation.txt").read_text(encoding="utf-8").splitlines()
    test = (tmp_path / "prepared" / "test.txt").read_text(encoding="utf-8").splitlines()
    # title skipped, numerals and the line without words dropped, the rest lowercased and stripped, in order
    assert train == [
        "from fairest creatures we desire increase,",
        "that thereby beauty's rose might never die,",
        "pity the world, or else this glutton be,",
    ]
    assert validation == [
        "when forty winters shall besiege thy brow,",
        "feed'st thy light's flame with self-substantial fuel,",
    ]
    assert test == ["the world's fresh ornament", "thy brow the world"]
    assert report["lines"] == {"train": 3, "validation": 2, "test": 2}
    assert report["stats"]["lines_dropped"] == 3  # "i", "ii", "--"


def test_the_line_vocabulary_holds_training_words_and_unseen_words_follow_the_setting(tmp_path):
    source = tmp_path / "sonnets.txt"
    source.write_text(SONNET, encoding="utf-8")
    settings = line_settings(source)
    paths = ExperimentPaths.of(tmp_path / "results", "poems")
    prepare_text_lines(settings, paths.prepared)
    document = build_vocabulary(settings, paths.prepared, paths.vocab, paths.encoded)
    vocabulary = load_vocabulary(paths.vocab)
    assert vocabulary.words[:2] == ["<pad>", "<unk>"] and "the" in vocabulary.words
    assert "forty" not in vocabulary.words  # only in validation
    flat, offsets = load_lines(paths.encoded, "test")
    assert np.diff(offsets).tolist() == [4, 4]
    words = [vocabulary.words[i] for i in flat]
    assert words == ["the", "<unk>", "<unk>", "<unk>", "<unk>", "<unk>", "the", "world"]  # world's, fresh, ...
    assert document["encoded"]["splits"]["train"]["longest_line"] == 8
    assert document["encoded"]["splits"]["test"]["unseen"] == 5 and PAD not in flat

    skipped = {**settings, "vocabulary": {**settings["vocabulary"], "unseen": "skip"}}
    build_vocabulary(skipped, paths.prepared, paths.vocab, paths.encoded)
    flat, offsets = load_lines(paths.encoded, "test")
    assert np.diff(offsets).tolist() == [1, 2] and UNK not in flat  # unseen words left out of their line

    refused = {**settings, "vocabulary": {**settings["vocabulary"], "unseen": "refuse"}}
    with pytest.raises(InputDataError, match=r"in the validation split but never in the training split") as caught:
        build_vocabulary(refused, paths.prepared, paths.vocab, paths.encoded)
    assert "vocabulary.unseen: unknown" in str(caught.value)
    assert json.loads(paths.vocab.read_text())["settings"]["unseen"] == "skip"  # the refused run wrote nothing


def word_raw(**model):
    raw = base_raw()
    raw["datasets"]["poems"] = {"format": "text", "path": "poems.txt"}
    raw["experiments"] = {"poems": {"model": "poetry_bilstm", "dataset": "poems", **model}}
    return raw


def test_the_poetry_model_is_the_course_notebook_and_its_keys_are_checked():
    config = config_module.validate_config(word_raw())
    settings = config_module.experiment_settings(config, "poems")
    assert settings["task"] == "next_word"
    architecture = settings["architecture"]
    assert architecture["embedding"] == 100
    assert [(layer["units"], layer["bidirectional"], layer["dropout_after"]) for layer in architecture["layers"]] == [
        (150, True, 0.2),
        (100, False, 0),
    ]
    assert architecture["dense"] == [{"units": "vocabulary/2", "activation": "relu", "l2": 0.01}]
    assert (settings["training"]["optimizer"], settings["training"]["learning_rate"]) == ("adam", 0.001)
    assert settings["hyperparameters"]["sequence_length"] is None  # the longest training line decides

    bad = word_raw()
    bad["models"] = {"poetry_bilstm": {"dense": [{"units": "vocabulary/0"}]}}
    with pytest.raises(ConfigErrors) as caught:
        config_module.validate_config(bad)
    assert [error.key for error in caught.value.errors] == ["models.poetry_bilstm.dense.0.units"]
    with pytest.raises(ConfigErrors) as caught:
        config_module.validate_config(word_raw(preprocess={"drop_lines_matching": "[ivx"}))
    [error] = caught.value.errors
    assert error.key == "experiments.poems.preprocess.drop_lines_matching" and "regular expression" in str(error)


def test_a_text_dataset_serves_character_and_word_models():
    raw = word_raw()
    raw["experiments"]["chars"] = {"model": "char_rnn", "dataset": "poems"}
    config = config_module.validate_config(raw)
    assert config_module.experiment_task(config, "chars") == "next_character"
    assert ExperimentPaths.of("r", "poems").encoded_split("train", "next_word").name == "train.npz"
    assert ExperimentPaths.of("r", "chars").encoded_split("train", "next_character").name == "train.ids"
