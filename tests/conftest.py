"""Shared test helpers. The suite runs in two interpreters (see Makefile): tests/training in the
training environment (TensorFlow + Horovod), everything else in the workflow environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
VENV_WORKFLOW = Path(os.environ.get("HPCSEQ_VENVS", REPO_ROOT / ".venv")) / "workflow"
VENV_TRAIN = Path(os.environ.get("HPCSEQ_VENVS", REPO_ROOT / ".venv")) / "train"
SHAKESPEARE = REPO_ROOT / "data" / "tinyshakespeare.txt"
UMICH = REPO_ROOT / "data" / "umich-sentiment-train.txt"

sys.path.insert(0, str(REPO_ROOT / "scripts"))


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


def tiny_workflow_config(tmp_path: Path) -> dict:
    """A whole-pipeline config that runs in about a minute: both models, small data, 2 ranks,
    2 short epochs; every output under tmp_path."""
    return {
        "preset": None,
        "results_dir": str(tmp_path / "results"),
        "logs_dir": str(tmp_path / "logs"),
        "benchmarks_dir": str(tmp_path / "benchmarks"),
        "jobs_dir": str(tmp_path / "jobs"),
        "training_python": str(VENV_TRAIN / "bin" / "python"),
        "datasets": {
            "shakespeare": {
                "format": "text",
                "path": str(SHAKESPEARE),
                "sha256": "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
            },
            "umich": {"format": "labelled_sentences", "path": str(UMICH)},
        },
        "experiments": {
            "tiny_char": {
                "model": "char_rnn",
                "dataset": "shakespeare",
                "ranks": 2,
                "preprocess": {"max_characters": 30000},
                "hyperparameters": {"hidden_units": 32},
                "training": {"epochs": 2, "batch_size": 32, "max_steps_per_epoch": 30, "steps_per_execution": 5},
                "evaluation": {"sample_length": 30},
            },
            "tiny_sentiment": {
                "model": "sentiment_lstm",
                "dataset": "umich",
                "ranks": 2,
                "hyperparameters": {"embedding_dim": 16, "lstm_units": 8},
                "training": {"epochs": 2, "max_steps_per_epoch": 20},
            },
        },
    }


def write_config(tmp_path: Path, config: dict) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path
