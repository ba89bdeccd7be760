"""hpcseq.evaluation.metrics: binary classification metrics, baselines, language model figures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hpcseq.evaluation.metrics import (
    classification_metrics,
    language_model_metrics,
    majority_class,
    unigram_cross_entropy,
)


def test_classification_metrics_hand_example():
    y_true = [1, 1, 1, 0, 0, 0, 0, 1]
    y_pred = [1, 0, 1, 0, 1, 0, 0, 0]
    # tp: positions 0, 2; fn: 1, 7; fp: 4; tn: 3, 5, 6
    result = classification_metrics(y_true, y_pred)
    assert result["confusion_matrix"] == [[3, 1], [2, 2]]  # [[tn, fp], [fn, tp]]
    assert result["examples"] == 8
    assert result["accuracy"] == pytest.approx(5 / 8)
    assert result["precision"] == pytest.approx(2 / 3)
    assert result["recall"] == pytest.approx(1 / 2)
    assert result["f1"] == pytest.approx(4 / 7)  # 2 * (2/3 * 1/2) / (2/3 + 1/2)


def test_confusion_matrix_layout_is_not_symmetric():
    # one false positive only: it must sit in row 0 (true 0), column 1 (predicted 1)
    result = classification_metrics([0, 0, 1], [1, 0, 1])
    assert result["confusion_matrix"] == [[1, 1], [0, 1]]
    result = classification_metrics([1, 0, 1], [0, 0, 1])
    assert result["confusion_matrix"] == [[1, 0], [1, 1]]


def test_accepts_numpy_arrays_and_bools():
    result = classification_metrics(np.array([True, False, True]), np.array([1, 1, 1], dtype=np.int8))
    assert result["confusion_matrix"] == [[0, 1], [0, 2]]
    assert result["precision"] == pytest.approx(2 / 3) and result["recall"] == 1.0


def test_no_positive_predictions_give_zero_precision_and_f1():
    result = classification_metrics([1, 0, 1, 0], [0, 0, 0, 0])
    assert result["precision"] == 0.0
    assert result["recall"] == 0.0
    assert result["f1"] == 0.0
    assert result["accuracy"] == 0.5
    assert result["confusion_matrix"] == [[2, 0], [2, 0]]


def test_no_positive_examples_give_zero_recall():
    result = classification_metrics([0, 0, 0], [0, 1, 0])
    assert result["recall"] == 0.0 and result["precision"] == 0.0 and result["f1"] == 0.0
    assert result["accuracy"] == pytest.approx(2 / 3)


def test_perfect_and_empty():
    perfect = classification_metrics([0, 1, 1], [0, 1, 1])
    assert (perfect["accuracy"], perfect["precision"], perfect["recall"], perfect["f1"]) == (1.0, 1.0, 1.0, 1.0)
    empty = classification_metrics([], [])
    assert empty["examples"] == 0 and empty["accuracy"] is None
    assert empty["confusion_matrix"] == [[0, 0], [0, 0]]


@pytest.mark.parametrize(
    "labels, expected", [([0, 0, 1], 0), ([1, 1, 0], 1), ([0] * 10 + [1] * 11, 1), ([1], 1), ([0], 0), ([0, 1], 1)]
)
def test_majority_class(labels, expected):
    assert majority_class(labels) == expected
    assert majority_class(np.array(labels, dtype=np.int8)) == expected


def test_unigram_cross_entropy_by_hand():
    counts = [1, 3]  # p = 0.25, 0.75
    targets = np.array([0, 1, 1])
    expected = -(math.log(0.25) + 2 * math.log(0.75)) / 3
    assert unigram_cross_entropy(counts, targets) == pytest.approx(expected)
    assert unigram_cross_entropy(np.array([5, 5, 5, 5]), [0, 3, 2]) == pytest.approx(math.log(4))


def test_unigram_cross_entropy_counts_the_unknown_id_once_and_leaves_other_vocabularies_alone():
    # the unknown id (count 0) is counted once: p = n / (N + 1), finite for an unseen target
    counts, targets = [3, 1, 0], np.array([0, 2, 1])
    expected = -(math.log(3 / 5) + math.log(1 / 5) + math.log(1 / 5)) / 3
    assert unigram_cross_entropy(counts, targets) == pytest.approx(expected)
    # without a zero count nothing changes, bit for bit
    counts = np.array([7, 2, 5])
    plain = -np.log(counts / counts.sum())[[0, 1, 1, 2]].mean()
    assert unigram_cross_entropy(counts, [0, 1, 1, 2]) == plain


def test_unigram_cross_entropy_of_a_text_against_its_own_frequencies():
    text = "abracadabra"
    chars = sorted(set(text))
    counts = [text.count(c) for c in chars]
    targets = [chars.index(c) for c in text]
    entropy = -sum(n / len(text) * math.log(n / len(text)) for n in counts)
    assert unigram_cross_entropy(counts, targets) == pytest.approx(entropy)


@pytest.mark.parametrize("loss", [0.0, 1.0, math.log(2) * 3, 2.5])
def test_language_model_metrics(loss):
    result = language_model_metrics(loss)
    assert result["loss"] == loss
    assert result["perplexity"] == pytest.approx(math.exp(loss))
    assert result["bits_per_character"] == pytest.approx(loss / math.log(2))


def test_language_model_metrics_known_values():
    result = language_model_metrics(math.log(2) * 3)
    assert result["perplexity"] == pytest.approx(8.0)
    assert result["bits_per_character"] == pytest.approx(3.0)
