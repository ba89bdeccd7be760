"""The word language model (task next_word, the course's poetry model made small) trained on 2
real Horovod ranks on the shipped Sonnets: evaluated next to a unigram word model, text generated
by the evaluation and by `hpcseq generate`, and rank 0's TensorBoard logs. One training serves
every test of this module."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
import urllib.request

import numpy as np
import pytest
import tensorflow as tf

from hpcseq import cli
from hpcseq.data.vocabulary import load_lines
from hpcseq.training import inputs
from hpcseq.training.models import load_model
from tests.conftest import REPO_ROOT
from tests.training.conftest import train_on_two_ranks_and_evaluate
from tests.training.test_train import summary_of

RANKS = 2


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """2 ranks, 2 epochs of 8 steps; evaluated in this process."""
    return train_on_two_ranks_and_evaluate("words", tmp_path_factory.mktemp("words"))


def test_the_word_model_trains_on_two_ranks_and_is_evaluated_next_to_a_unigram_word_model(trained):
    _, paths, _ = trained
    summary = summary_of(paths)
    assert (summary["model"], summary["task"], summary["ranks"]) == ("poetry_bilstm", "next_word", RANKS)
    longest = json.loads(paths.vocab.read_text())["encoded"]["splits"]["train"]["longest_line"]
    # the input length the data decided (sequence_length null): the longest training line minus one
    assert summary["settings"]["hyperparameters"]["sequence_length"] == longest - 1
    metrics = json.loads(paths.eval_metrics.read_text())
    model, unigram = metrics["model_metrics"], metrics["unigram_baseline"]
    assert metrics["input_length"] == longest - 1 and metrics["samples_evaluated"] > 100
    for numbers in (model, unigram):
        assert numbers["perplexity"] == pytest.approx(np.exp(numbers["loss"]))
        assert numbers["bits_per_word"] == pytest.approx(numbers["loss"] / np.log(2))
    # a vocabulary of a few thousand words: a uniform guess costs log(V); the unigram model less
    vocabulary_size = summary["vocabulary_size"]
    assert 0 < unigram["loss"] < np.log(vocabulary_size) and 0 < model["loss"] < 2 * np.log(vocabulary_size)
    # the same without the targets that are unknown words (1 - share of unknown targets of the whole)
    unknown = metrics["unseen_in_training"]["unknown_targets"]
    assert 0 < unknown < metrics["samples_evaluated"]
    known = metrics["model_metrics_known_targets"]["loss"]
    assert 0 < known < model["loss"]  # the model never had <unk> as a target: those cost it most
    assert 0 < metrics["unigram_baseline_known_targets"]["loss"] < unigram["loss"]
    # the mean over every prefix equals Keras' cross-entropy of the same batches (its loss would add the L2 term)
    keras_model = load_model(paths.final_model)
    keras_model.compile(loss="sparse_categorical_crossentropy", metrics=["sparse_categorical_crossentropy"])
    split = load_lines(paths.encoded, metrics["evaluated_split"])
    dataset = inputs.prefix_eval_dataset(*split, metrics["input_length"], 256)
    _, cross_entropy = keras_model.evaluate(dataset, verbose=0)
    assert cross_entropy == pytest.approx(model["loss"], rel=1e-4)


def test_the_evaluation_generates_words_greedy_and_sampled(trained):
    _, paths, _ = trained
    metrics = json.loads(paths.eval_metrics.read_text())
    modes = [sample["mode"] for sample in metrics["samples"]]
    assert modes == ["greedy", "temperature 0.8"] * 2
    words = {entry["token"] for entry in json.loads(paths.vocab.read_text())["entries"][2:]}
    for sample in metrics["samples"]:
        generated = sample["text"].split(" ")
        assert len(generated) == 12 and set(generated) <= words  # training words, never <pad> or <unk>
    assert metrics["samples"][0]["window"].startswith("help me <unk>")  # the course's seed: Obi Wan unseen
    assert "| " in paths.samples.read_text()


def test_generate_continues_a_seed_from_the_command_line(trained, capsys):
    _, paths, configfile = trained
    command = ["generate", str(paths.root), "--seed", "Shall I compare thee", "--length", "7", "--temperature"]
    assert cli.main([*command, "0.8", "--random-seed", "3", "--configfile", str(configfile)]) == 0
    sampled = capsys.readouterr().out.strip().splitlines()[-1]
    assert len(sampled.split(" ")) == 7
    assert cli.main([*command, "0", "--show-window", "--configfile", str(configfile)]) == 0
    greedy = capsys.readouterr().out.strip().splitlines()[-1]
    assert greedy.startswith("shall i compare thee | ") and len(greedy.split(" | ")[1].split(" ")) == 7


def test_rank_0_alone_writes_tensorboard_logs_with_the_epoch_losses(trained):
    _, paths, _ = trained
    rank_0_pid = json.loads((paths.rank_reports / "rank-0.json").read_text())["pid"]
    for kind in ("train", "validation"):
        [events] = (paths.tensorboard / kind).glob("events.out.tfevents.*")  # one writer: rank 0
        assert re.search(rf"\.{rank_0_pid}\.\d+\.v2$", events.name)
        losses = {}
        for event in tf.compat.v1.train.summary_iterator(str(events)):
            for value in event.summary.value:
                if value.tag == "epoch_loss":
                    losses[event.step] = float(tf.make_ndarray(value.tensor))
        recorded = [json.loads(line) for line in paths.metrics.read_text().splitlines()]
        key = "loss" if kind == "train" else "val_loss"
        assert losses == {i: pytest.approx(record[key], rel=1e-5) for i, record in enumerate(recorded)}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_make_tensorboard_serves_the_epoch_losses(trained):
    """The documented command, `make tensorboard` (the training environment's TensorBoard over
    results/), starts and serves the losses rank 0 wrote."""
    _, paths, _ = trained
    port = _free_port()
    results = paths.model_dir.parent.parent
    command = ["make", "--no-print-directory", "tensorboard", f"RESULTS={results}", f"TB_PORT={port}"]
    server = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, answer = time.monotonic() + 90, None
        while time.monotonic() < deadline and server.poll() is None and answer is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/plugin/scalars/tags", timeout=5) as reply:
                    tags = json.loads(reply.read())
                answer = tags if any("epoch_loss" in run_tags for run_tags in tags.values()) else None
            except OSError:
                pass
            time.sleep(1)
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert answer, f"TensorBoard served no epoch_loss within 90 s:\n{output[-3000:]}"
    runs = sorted(answer)
    assert any(run.endswith("tensorboard/train") for run in runs) and any(run.endswith("validation") for run in runs)
