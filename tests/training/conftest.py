"""Fixtures for tests that need TensorFlow and Horovod (run with .venv/train/bin/python)."""

from __future__ import annotations

import copy
import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from hpcseq import config as config_module
from hpcseq.data.labelled_sentences import prepare_sentences
from hpcseq.data.text_corpus import prepare_text_corpus
from hpcseq.data.text_lines import prepare_text_lines
from hpcseq.data.vocabulary import build_vocabulary
from hpcseq.paths import ExperimentPaths
from tests.conftest import MACBETH, SHAKESPEARE, SONNETS, TINY_LECTURE_MODELS, UMICH

TINY_CONFIG = {
    "preset": None,
    "models": {
        **TINY_LECTURE_MODELS,
        # the course's poetry model made small: the same layers, fewer units
        "poetry_bilstm": {
            "embedding": 16,
            "layers": [
                {"cell": "lstm", "units": 16, "bidirectional": True, "dropout_after": 0.2},
                {"cell": "lstm", "units": 16},
            ],
            "dense": [{"units": "vocabulary/8", "activation": "relu", "l2": 0.01}],
        },
        # the text-generation tutorial's GRU made small
        "tutorial_char_gru": {"embedding": 8, "layers": [{"cell": "gru", "units": 16}]},
    },
    "datasets": {
        "shakespeare": {"format": "text", "path": str(SHAKESPEARE)},
        "umich": {"format": "labelled_sentences", "path": str(UMICH)},
        "macbeth": {"format": "text", "path": str(MACBETH)},
        "sonnets": {"format": "text", "path": str(SONNETS)},
    },
    "experiments": {
        "char": {
            "model": "char_rnn",
            "dataset": "shakespeare",
            "ranks": 1,
            "preprocess": {"max_characters": 20000},
            "training": {"epochs": 2, "batch_size": 32, "max_steps_per_epoch": 40, "steps_per_execution": 8},
            "evaluation": {"sample_length": 20, "temperatures": [0.7]},
        },
        "senti": {
            "model": "sentiment_lstm",
            "dataset": "umich",
            "ranks": 1,
            "preprocess": {"max_lines": 2000},
            "hyperparameters": {"sentence_length": 20},
            "training": {"epochs": 2, "batch_size": 32, "max_steps_per_epoch": 10},
        },
        "words": {
            "model": "poetry_bilstm",
            "dataset": "sonnets",
            "ranks": 1,
            "preprocess": {"skip_header_lines": 2, "drop_lines_matching": "[ivxlc]+", "max_lines": 800},
            "training": {"epochs": 2, "batch_size": 32, "max_steps_per_epoch": 8, "steps_per_execution": 4},
            "evaluation": {"sample_length": 12, "temperatures": [0.8]},
        },
        "stepwise": {
            "model": "tutorial_char_gru",
            "dataset": "macbeth",
            "ranks": 1,
            "preprocess": {"max_characters": 20000},
            "hyperparameters": {"sequence_length": 20, "step": 21},
            "training": {"epochs": 2, "batch_size": 16, "max_steps_per_epoch": 6, "steps_per_execution": 3},
            "evaluation": {"sample_length": 15, "temperatures": [1.0]},
        },
    },
}


def tiny_settings(name: str, **overrides) -> dict:
    raw = copy.deepcopy(TINY_CONFIG)
    experiment = raw["experiments"][name]
    for stage, values in overrides.items():
        if isinstance(values, dict):
            experiment.setdefault(stage, {}).update(values)
        else:
            experiment[stage] = values
    config = config_module.validate_config(raw)
    return config_module.experiment_settings(config, name)


def prepare(settings: dict, results_dir) -> ExperimentPaths:
    paths = ExperimentPaths.of(results_dir, settings["name"])
    if settings["task"] in config_module.CHARACTER_TASKS:
        prepare_text_corpus(settings, paths.prepared)
    elif settings["task"] == "next_word":
        prepare_text_lines(settings, paths.prepared)
    else:
        prepare_sentences(settings, paths.prepared)
    build_vocabulary(settings, paths.prepared, paths.vocab, paths.encoded)
    return paths


@pytest.fixture
def char_experiment(tmp_path):
    settings = tiny_settings("char")
    return settings, prepare(settings, tmp_path / "results")


@pytest.fixture
def sentiment_experiment(tmp_path):
    settings = tiny_settings("senti")
    return settings, prepare(settings, tmp_path / "results")
