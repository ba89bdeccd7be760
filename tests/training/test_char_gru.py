"""The text-generation tutorial's per-step GRU (task next_character_sequence) made small, trained
on 2 real Horovod ranks on shipped data: a prediction at every step, evaluated per character next
to the unigram baseline, text from the evaluation and from `hpcseq generate` generated as the
tutorial generates it (its state carried), checked against a NumPy GRU of the saved weights."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest

from hpcseq import cli
from hpcseq.data.vocabulary import load_vocabulary
from hpcseq.evaluation import generation
from hpcseq.paths import ExperimentPaths
from hpcseq.training.models import load_model
from tests.training.conftest import train_on_two_ranks_and_evaluate
from tests.training.test_train import summary_of

RANKS = 2
SEQUENCE_LENGTH = 20  # the tiny experiment's (conftest TINY_CONFIG "stepwise")
GENERATED = 160  # characters: far past the 20 a sliding window would hold
TIE = 1e-5  # float32 Keras against float64 NumPy: two probabilities this close are a tie


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return train_on_two_ranks_and_evaluate("stepwise", tmp_path_factory.mktemp("stepwise"))


def test_the_per_step_gru_predicts_every_step_and_is_evaluated_next_to_the_unigram_baseline(trained):
    _, paths, _ = trained
    summary = summary_of(paths)
    assert (summary["task"], summary["ranks"]) == ("next_character_sequence", RANKS)
    model = load_model(paths.final_model)
    assert model.output_shape == (None, SEQUENCE_LENGTH, summary["vocabulary_size"])  # a distribution at every step
    metrics = json.loads(paths.eval_metrics.read_text())
    assert metrics["targets"] == metrics["windows"] * SEQUENCE_LENGTH
    model_numbers, unigram = metrics["model_metrics"], metrics["unigram_baseline"]
    assert model_numbers["bits_per_character"] == pytest.approx(model_numbers["loss"] / np.log(2))
    assert 0 < unigram["loss"] < np.log(summary["vocabulary_size"])
    assert 0 < model_numbers["loss"] < 2 * np.log(summary["vocabulary_size"])
    assert [sample["mode"] for sample in metrics["samples"]] == ["greedy", "temperature 1"]
    assert all(len(sample["text"]) == 15 for sample in metrics["samples"])
    assert {sample["window"] for sample in metrics["samples"]} == {"ROMEO:"}  # the seed as fed: not padded


class NumpyGru:
    """The saved model as NumPy: embedding lookup, Keras' GRU (reset_after=True, its default: an
    input and a recurrent bias row, the reset gate applied after the recurrent product; gates in
    the order update, reset, candidate), the dense layer and softmax; its state never reset."""

    def __init__(self, model):
        [self.embedding] = model.get_layer("embedding").get_weights()
        gru = model.get_layer("gru")
        assert gru.reset_after and gru.activation.__name__ == "tanh"
        self.kernel, self.recurrent, self.bias = gru.get_weights()
        self.dense, self.dense_bias = model.get_layer("next_chars").get_weights()
        self.state = np.zeros(gru.units)

    def step(self, char_id: int) -> np.ndarray:
        """The probabilities of the next character after reading `char_id`."""
        inputs = self.embedding[char_id] @ self.kernel + self.bias[0]
        recurrent = self.state @ self.recurrent + self.bias[1]
        (x_z, x_r, x_h), (h_z, h_r, h_h) = np.split(inputs, 3), np.split(recurrent, 3)
        update, reset = 1 / (1 + np.exp(-(x_z + h_z))), 1 / (1 + np.exp(-(x_r + h_r)))
        self.state = update * self.state + (1 - update) * np.tanh(x_h + reset * h_h)
        logits = self.state @ self.dense + self.dense_bias
        return np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()


def assert_numpy_gru_chooses(model, vocabulary, fed: str, text: str) -> str:
    """`text` after `fed` is the NumPy GRU's greedy text: at every step the character hpcseq chose is
    the most probable one (the unknown id aside, as hpcseq bans it), up to a float tie; returns the
    NumPy GRU's own choices along `text` (equal to it where no two probabilities tie)."""
    gru, choices = NumpyGru(model), []
    for char_id in vocabulary.encode_text(fed)[:-1]:
        gru.step(char_id)
    previous = vocabulary.encode_text(fed)[-1]
    for position, char_id in enumerate(vocabulary.encode_text(text)):
        probabilities = gru.step(previous)
        if vocabulary.unk_id is not None:
            probabilities[vocabulary.unk_id] = 0
        assert probabilities[char_id] >= probabilities.max() - TIE, (position, text[: position + 1])
        choices.append(int(np.argmax(probabilities)))
        previous = char_id
    return vocabulary.decode(choices)


def generate(paths, configfile, capsys, seed: str) -> tuple[str, str]:
    """`hpcseq generate --show-window`, greedy: (the seed as fed, the text)."""
    command = ["generate", str(paths.root), "--seed", seed, "--length", str(GENERATED), "--temperature", "0"]
    assert cli.main([*command, "--show-window", "--configfile", str(configfile)]) == 0
    fed, text = capsys.readouterr().out.rstrip("\n").split("|", 1)
    assert len(text) == GENERATED
    return fed, text


def test_generate_writes_the_numpy_grus_greedy_text(trained, capsys):
    _, paths, configfile = trained
    fed, text = generate(paths, configfile, capsys, "Macbeth:")
    assert fed == "Macbeth:"  # case kept (the tutorial's), neither cut nor padded
    assert_numpy_gru_chooses(load_model(paths.final_model), load_vocabulary(paths.vocab), fed, text)


def with_a_memory(model):
    """The trained weights changed to remember: a model trained 12 steps forgets a character within
    a few (its update gate about 0.5) and predicts nearly uniformly, so 160 characters from it could
    not tell a carried state from a window. Update gate biased to about 0.95 (a character's trace
    halves in about 14 steps), embedding and output weights scaled for distinct, sharp predictions."""
    embedding, gru, dense = (model.get_layer(name) for name in ("embedding", "gru", "next_chars"))
    embedding.set_weights([weights * 10 for weights in embedding.get_weights()])
    kernel, recurrent, bias = gru.get_weights()
    bias[0, : gru.units] += 3.0  # the input bias of the update gate
    gru.set_weights([kernel, recurrent, bias])
    dense_kernel, dense_bias = dense.get_weights()
    dense.set_weights([dense_kernel * 30, dense_bias])
    return model


def sliding_window_text(settings, model, vocabulary, fed: str) -> str:
    """The old generation: the seed left-padded to the 20-character window, the window rerun at
    every step and slid, the prediction after its last step taken."""
    codec = dataclasses.replace(generation.text_codec(settings, vocabulary, SEQUENCE_LENGTH), stateful=False)
    last_step = lambda ids, training: model(ids, training=training)[:, -1, :]  # noqa: E731
    [ids] = generation.generate_ids(last_step, codec.window(fed)[None, :], [None], GENERATED, None, codec.banned)
    return codec.decode(ids)


@pytest.fixture(scope="module")
def remembering(trained, tmp_path_factory):
    """A copy of the trained experiment whose model has a memory (with_a_memory)."""
    settings, trained_paths, configfile = trained
    results_dir = tmp_path_factory.mktemp("remembering") / "results"
    shutil.copytree(trained_paths.results_dir, results_dir)
    paths = ExperimentPaths.of(results_dir, settings["name"])
    with_a_memory(load_model(paths.final_model)).save(paths.final_model)
    return settings, paths, configfile


def test_generate_carries_the_grus_state_past_the_window(remembering, capsys):
    settings, paths, configfile = remembering
    fed, text = generate(paths, configfile, capsys, "Macbeth:")
    model, vocabulary = load_model(paths.final_model), load_vocabulary(paths.vocab)
    assert assert_numpy_gru_chooses(model, vocabulary, fed, text) == text  # the same 160 characters
    assert sliding_window_text(settings, model, vocabulary, fed) != text
    # after all 168 characters the carried state predicts otherwise than a window of the last 20
    everything = vocabulary.encode_text(fed + text)
    gru = NumpyGru(model)
    carried = [gru.step(char_id) for char_id in everything[:-1]][-1]
    rerun = model(everything[None, -SEQUENCE_LENGTH - 1 : -1], training=False).numpy()[0, -1]
    assert np.abs(carried - rerun).max() > 100 * TIE


def test_seeds_of_different_lengths_and_an_empty_one_are_generated_together_as_each_alone(remembering):
    """The evaluation's batch: rows fed right-aligned, a shorter seed's state zero until it starts;
    an empty seed is fed as one space."""
    settings, paths, _ = remembering
    model, vocabulary = load_model(paths.final_model), load_vocabulary(paths.vocab)
    codec = generation.text_codec(settings, vocabulary, SEQUENCE_LENGTH)
    samples = generation.sample(model, codec, ["Macbeth:", "", "o"], [("greedy", None)], 30, seed=1)
    assert [sample["window"] for sample in samples] == ["Macbeth:", " ", "o"]
    for sample in samples:
        assert len(sample["text"]) == 30
        assert assert_numpy_gru_chooses(model, vocabulary, sample["window"], sample["text"]) == sample["text"]
