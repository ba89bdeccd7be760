"""`hpcseq generate`'s refusals (before TensorFlow loads) and the sampler's choice of the next id."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import yaml

from hpcseq import cli
from hpcseq.evaluation.generation import next_id
from tests.unit.config.conftest import base_raw


@pytest.fixture
def configfile(tmp_path):
    raw = base_raw()
    raw["datasets"]["poems"] = {"format": "text", "path": "poems.txt"}
    raw["experiments"]["poems"] = {"model": "poetry_bilstm", "dataset": "poems"}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def generate(configfile, folder, *options) -> int:
    return cli.main(["generate", str(folder), "--seed", "shall i", *options, "--configfile", str(configfile)])


@pytest.mark.parametrize(
    ("experiment", "options", "message"),
    [
        ("words", [], "words is a sequence_classification model (sentiment_lstm): only language models"),
        ("poems", [], "final.keras: no trained model of poems: run its training first"),
        ("poems", ["--length", "0"], "--length: 0: generate at least 1 token"),
        ("poems", ["--temperature", "-1"], "--temperature: -1.0: must be 0 (greedy) or above"),
        ("sonnets", [], "no experiment named 'sonnets'; defined: chars, poems, words"),
    ],
)
def test_generate_refuses_with_a_clear_message_before_loading_tensorflow(
    configfile, tmp_path, capsys, experiment, options, message
):
    assert generate(configfile, tmp_path / "results" / experiment, *options) != 0
    assert message in capsys.readouterr().err
    assert "tensorflow" not in sys.modules


def test_generate_needs_a_seed(configfile, tmp_path, capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["generate", str(tmp_path / "results" / "poems"), "--configfile", str(configfile)])
    assert done.value.code == 2 and "--seed" in capsys.readouterr().err


def test_greedy_takes_the_most_probable_id_and_never_a_banned_one():
    rng = np.random.default_rng(0)
    probabilities = np.array([0.5, 0.3, 0.15, 0.05])
    assert next_id(probabilities, None, rng) == 0
    assert next_id(probabilities, None, rng, banned=(0,)) == 1
    draws = [next_id(probabilities, 1.0, rng, banned=(0, 1)) for _ in range(400)]
    assert set(draws) == {2, 3} and 0.6 < draws.count(2) / 400 < 0.9  # 0.15 / 0.20 = 0.75
    cold = [next_id(probabilities, 0.1, rng) for _ in range(100)]
    assert cold.count(0) > 95  # a low temperature is nearly greedy
