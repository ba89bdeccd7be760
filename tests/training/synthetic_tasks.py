"""Small synthetic tasks, one per task type, on which a model that learns clearly beats the
baseline hpcseq's evaluation reports for that task (scripts/hpcseq/evaluation/), and a model that
learns nothing does not: the inputs of test_models' learning test.

- next_character, next_word, next_character_sequence: each id after the first two is a fixed
  random permutation of the id two steps before it (two interleaved chains from random starts),
  so the next id is certain given the context (conditional entropy 0; a recurrent state must
  carry one id) while every id is about equally frequent: the unigram model's loss is about
  ln(vocabulary).
- sequence_classification: a sentence is positive when it holds the marker word (about 40% of
  sentences do), wherever it stands: the majority class (negative) is right about 60% of the time.
- sequence_regression: the next value of a sine of period 6 steps (random amplitude 0.5 to 1.5
  and phase per window, noisy inputs) in feature 0, beside features of pure noise: the next value
  is a linear function of the last two (2 cos(pi/3) x[t] - x[t-1]), but persistence (x[t]) and
  the training mean are both off by about 0.63 on average.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hpcseq.data.vocabularies import UNK
from hpcseq.training.inputs import pad_sentences

VOCABULARY_SIZE = 30  # ids of characters, words
FEATURES = 3  # numbers per step of sequence_regression (build_model's vocabulary_size there)
# the models' input length per task (build_model's hyperparameters); 72 steps of
# sequence_regression: the smallest the forecasting convnet's kernels and poolings (24, 2, 12, 2,
# 6) leave an output for is 69
INPUT_LENGTH = {
    "next_character": {"sequence_length": 10},
    "sequence_classification": {"sentence_length": 40},
    "next_word": {"sequence_length": 10},
    "next_character_sequence": {"sequence_length": 10},
    "sequence_regression": {"sequence_length": 72},
}
FIRST_WORD_ID = UNK + 1  # a word vocabulary reserves PAD (0) and UNK (data/vocabularies.py)
MARKER = FIRST_WORD_ID  # the word that makes a sentence positive
MARKER_RATE = 0.4
SHORTEST_SENTENCE = 6
PERIOD = 6  # steps of the sine of sequence_regression
INPUT_NOISE = 0.05
RECURRENT_WINDOW = 24  # steps a forecaster without convolutions reads: a third of the time


def input_length(task: str, architecture: dict) -> dict:
    """build_model's hyperparameters for a model of `task` and `architecture` (config.ARCHITECTURE_KEYS)."""
    convolutional = any(layer["cell"] == "conv1d" for layer in architecture.get("layers", []))
    if task == "sequence_regression" and not convolutional:
        return {"sequence_length": RECURRENT_WINDOW}
    return INPUT_LENGTH[task]


@dataclass(frozen=True)
class Split:
    inputs: np.ndarray
    targets: np.ndarray


@dataclass(frozen=True)
class SyntheticTask:
    train: Split
    test: Split


def synthetic_task(task: str, length: int, seed: int, train_items: int, test_items: int) -> SyntheticTask:
    """`train_items` and `test_items` examples of `task` with inputs of `length` steps, drawn
    independently (seeded)."""
    make = {
        "next_character": lambda generator, n: _chains(generator, n, length, per_step=False, first_id=0),
        "next_word": lambda generator, n: _chains(generator, n, length, per_step=False, first_id=FIRST_WORD_ID),
        "next_character_sequence": lambda generator, n: _chains(generator, n, length, per_step=True, first_id=0),
        "sequence_classification": lambda generator, n: _marked_sentences(generator, n, length),
        "sequence_regression": lambda generator, n: _sine_windows(generator, n, length),
    }[task]
    rng = np.random.default_rng(seed)
    generator = {"rng": rng, "permutation": rng.permutation(VOCABULARY_SIZE)}  # one rule for both splits
    return SyntheticTask(train=make(generator, train_items), test=make(generator, test_items))


def _chains(generator: dict, count: int, length: int, per_step: bool, first_id: int) -> Split:
    """Windows of x[t+1] = rule(x[t-1]) from random starts; the next id, or each step's next id."""
    rng, permutation = generator["rng"], generator["permutation"]
    ids = np.arange(first_id, VOCABULARY_SIZE)
    rule = np.zeros(VOCABULARY_SIZE, dtype=np.int64)
    rule[ids] = ids[permutation[permutation < len(ids)]]  # a permutation of the usable ids
    sequences = np.empty((count, length + 1), dtype=np.int64)
    sequences[:, :2] = rng.choice(ids, size=(count, 2))
    for step in range(2, length + 1):
        sequences[:, step] = rule[sequences[:, step - 2]]
    inputs = sequences[:, :-1].astype(np.int32)
    return Split(inputs, sequences[:, 1:] if per_step else sequences[:, -1])


def _marked_sentences(generator: dict, count: int, length: int) -> Split:
    """Pre-padded sentences (as hpcseq pads them) of other words, the marker in some."""
    rng = generator["rng"]
    lengths = rng.integers(SHORTEST_SENTENCE, length + 1, size=count)
    words = rng.integers(MARKER + 1, VOCABULARY_SIZE, size=int(lengths.sum()))
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    labels = rng.random(count) < MARKER_RATE
    where = offsets[:-1] + (rng.random(count) * lengths).astype(np.int64)
    words[where[labels]] = MARKER
    return Split(pad_sentences(words, offsets, length), labels.astype(np.float32))


def _sine_windows(generator: dict, count: int, length: int) -> Split:
    """(count, length, features) windows: a noisy sine in feature 0, noise in the others; the
    sine's next value (without noise) is the target."""
    rng = generator["rng"]
    amplitude = rng.uniform(0.5, 1.5, size=(count, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(count, 1))
    angle = 2 * np.pi / PERIOD * np.arange(length + 1) + phase
    sine = amplitude * np.sin(angle)
    windows = rng.normal(size=(count, length, FEATURES))
    windows[:, :, 0] = sine[:, :-1] + INPUT_NOISE * rng.normal(size=(count, length))
    return Split(windows.astype(np.float32), sine[:, -1].astype(np.float32))
