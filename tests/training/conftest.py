"""Fixtures for tests that need TensorFlow and Horovod (run with .venv/train/bin/python)."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

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


PYTHON = sys.executable  # the training environment's interpreter
HOROVODRUN = str(Path(PYTHON).parent / "horovodrun")


def run_stage(
    stage: str,
    settings: dict,
    results_dir: Path,
    launcher: list[str] | None = None,
    extra: list[str] | None = None,
    check: bool = True,
    env: dict | None = None,
) -> subprocess.CompletedProcess:
    """`hpcseq <stage>` as the rules run it; `env`: variables added (SLURM_JOB_ID: as in a Slurm job)."""
    command = (
        (launcher or [])
        + [PYTHON, "-m", "hpcseq", stage, "--settings", json.dumps(settings), "--results-dir", str(results_dir)]
        + (extra or [])
    )
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})},
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{stage} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def summary_of(paths):
    return json.loads(paths.training_summary.read_text())


def metrics_of(paths):
    return [json.loads(line) for line in paths.metrics.read_text().splitlines()]


@pytest.fixture(scope="session")
def _plain_trainings(tmp_path_factory) -> dict:
    """The tiny `char` and `senti` experiments trained once each in a plain process (1 rank),
    with that training's console: a TensorFlow start, tracing and training fewer for every test
    that only needs a finished training."""
    trained = {}
    for name in ("char", "senti"):
        settings = tiny_settings(name)
        results_dir = tmp_path_factory.mktemp(f"plain-{name}") / "results"
        prepare(settings, results_dir)
        trained[name] = (settings, results_dir, run_stage("train", settings, results_dir))
    return trained


@pytest.fixture
def plain_training(_plain_trainings, tmp_path):
    """A copy of the trained tiny experiments in this test's tmp_path, which the test may change:
    plain_training(name) -> SimpleNamespace(settings, paths, console, console_paths), where
    console_paths are the shared original's, which the console names (read them, never change them)."""

    def copy_of(name: str) -> SimpleNamespace:
        settings, results_dir, console = _plain_trainings[name]
        copied = tmp_path / f"trained-{name}" / "results"
        shutil.copytree(results_dir, copied)
        return SimpleNamespace(
            settings=settings,
            paths=ExperimentPaths.of(copied, name),
            console=console,
            console_paths=ExperimentPaths.of(results_dir, name),
        )

    return copy_of


def train_on_two_ranks_and_evaluate(name: str, tmp_path: Path) -> tuple[dict, ExperimentPaths, Path]:
    """The tiny experiment `name` trained by 2 Horovod ranks (horovodrun) and evaluated in this
    process; with a config file of TINY_CONFIG for the commands that read one (hpcseq generate)."""
    from hpcseq.evaluation.evaluate import evaluate

    settings = tiny_settings(name, ranks=2)
    paths = prepare(settings, tmp_path / "results")
    run_stage("train", settings, paths.results_dir, launcher=[HOROVODRUN, "-np", "2", "-H", "localhost:2", "--gloo"])
    evaluate(settings, paths)
    raw = copy.deepcopy(TINY_CONFIG)
    raw["experiments"][name]["ranks"] = 2
    configfile = tmp_path / "config.yaml"
    configfile.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return settings, paths, configfile
