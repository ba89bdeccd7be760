"""Every bash and console block of the documentation that needs no TensorFlow, run as written
(blocks.py states the convention): per Markdown file one scratch copy of the repository, its
blocks in order, three files at a time. The files whose commands use the training environment run
in the training stream (test_trained_model_commands.py)."""

from __future__ import annotations

import pytest

from tests.docs.conftest import WORKFLOW_FILES, run_files


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    return run_files(WORKFLOW_FILES, tmp_path_factory.mktemp("docs"))


@pytest.mark.parametrize(
    "block", [pytest.param(block, id=block.id) for blocks in WORKFLOW_FILES.values() for block in blocks]
)
def test_the_documented_block_runs_as_shown(block, outcomes):
    outcome = outcomes[block.id]
    assert not outcome.problems, outcome.report()
