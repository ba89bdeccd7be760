"""Shared test helpers. The suite runs in two interpreters (see Makefile): tests/training in the
training environment (TensorFlow + Horovod), everything else in the workflow environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
VENV_WORKFLOW = Path(os.environ.get("HPCSEQ_VENVS", REPO_ROOT / ".venv")) / "workflow"
VENV_TRAIN = Path(os.environ.get("HPCSEQ_VENVS", REPO_ROOT / ".venv")) / "train"
SHAKESPEARE = REPO_ROOT / "data" / "tinyshakespeare.txt"
UMICH = REPO_ROOT / "data" / "umich-sentiment-train.txt"

sys.path.insert(0, str(REPO_ROOT / "scripts"))


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT
