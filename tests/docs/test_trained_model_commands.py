"""The documentation's files whose commands use the training environment (`.venv/train/bin/...`,
e.g. `hpcseq generate` on a trained model), run as written like test_commands.py, after the
experiments they name (results/<name>) were trained by the workflow, tiny (conftest.py:
train_tiny_models). In the training stream (the Makefile's suite-train)."""

from __future__ import annotations

import pytest

from tests.docs.conftest import TRAINING_FILES, experiments_named, run_files, train_tiny_models

pytestmark = pytest.mark.training


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    root = tmp_path_factory.mktemp("docs_trained")
    blocks = [block for blocks in TRAINING_FILES.values() for block in blocks]
    results = train_tiny_models(root / "trained", experiments_named(blocks))
    return run_files(TRAINING_FILES, root, results=results)


@pytest.mark.parametrize(
    "block", [pytest.param(block, id=block.id) for blocks in TRAINING_FILES.values() for block in blocks]
)
def test_the_documented_block_runs_as_shown_with_a_trained_model(block, outcomes):
    outcome = outcomes[block.id]
    assert not outcome.problems, outcome.report()
