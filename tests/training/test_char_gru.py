"""The text-generation tutorial's per-step GRU (task next_character_sequence) made small, trained
on 2 real Horovod ranks on shipped data: a prediction at every step, evaluated per character next
to the unigram baseline, text from the evaluation and from `hpcseq generate`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hpcseq import cli
from hpcseq.training.models import load_model
from tests.training.conftest import train_on_two_ranks_and_evaluate
from tests.training.test_train import summary_of

RANKS = 2


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_on_two_ranks_and_evaluate("stepwise", tmp_path_factory.mktemp("stepwise"))


def test_the_per_step_gru_predicts_every_step_and_is_evaluated_next_to_the_unigram_baseline(trained):
    _, paths, _ = trained
    summary = summary_of(paths)
    assert (summary["task"], summary["ranks"]) == ("next_character_sequence", RANKS)
    model = load_model(paths.final_model)
    assert model.output_shape == (None, 20, summary["vocabulary_size"])  # a distribution at every step
    metrics = json.loads(paths.eval_metrics.read_text())
    assert metrics["targets"] == metrics["windows"] * 20
    model_numbers, unigram = metrics["model_metrics"], metrics["unigram_baseline"]
    assert model_numbers["bits_per_character"] == pytest.approx(model_numbers["loss"] / np.log(2))
    assert 0 < unigram["loss"] < np.log(summary["vocabulary_size"])
    assert 0 < model_numbers["loss"] < 2 * np.log(summary["vocabulary_size"])
    assert [sample["mode"] for sample in metrics["samples"]] == ["greedy", "temperature 1"]
    assert all(len(sample["text"]) == 15 for sample in metrics["samples"])


def test_generate_reruns_the_window_of_the_per_step_model(trained, capsys):
    _, paths, configfile = trained
    command = ["generate", str(paths.root), "--seed", "Macbeth:", "--length", "30", "--temperature", "0"]
    assert cli.main([*command, "--show-window", "--configfile", str(configfile)]) == 0
    window, text = capsys.readouterr().out.rstrip("\n").rsplit("|", 1)
    assert window.endswith("Macbeth:") and len(window) == 20  # case kept, left-padded to the window
    assert len(text) == 30
