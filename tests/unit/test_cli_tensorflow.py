"""The commands that need TensorFlow, run from the workflow environment (which has none), say so and
how to run them, instead of ending in a ModuleNotFoundError from deep inside (issue 25)."""

from __future__ import annotations

import importlib.util

import pytest

from hpcseq import cli

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is not None, reason="this environment has TensorFlow"
)


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--experiment", "shakespeare_char_rnn"],
        ["evaluate", "--experiment", "shakespeare_char_rnn"],
    ],
)
def test_train_and_evaluate_name_the_environment_to_use(argv, capsys):
    assert cli.main(argv) == 2
    error = capsys.readouterr().err
    assert f"`hpcseq {argv[0]}` needs TensorFlow" in error
    assert f"`.venv/train/bin/python -m hpcseq {argv[0]} ...`" in error
    assert "Traceback" not in error
