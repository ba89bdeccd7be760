"""hpcseq.evaluation.baselines: the bag-of-words baselines' features and logistic regression on
small examples whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hpcseq.evaluation.baselines import (
    BIGRAM_TFIDF,
    UNIGRAM_BINARY,
    BigramTfidf,
    bag_of_words_baseline,
    unigram_binary,
)

OPTIONS = {"iterations": 200, "learning_rate": 0.1, "l2": 0.001, "max_bigrams": 100}


def encoded(sentences: list[list[int]], labels: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(flat ids, offsets, labels) as the vocabulary stage writes a split."""
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sentences])]).astype(np.int64)
    flat = np.array([i for s in sentences for i in s], dtype=np.uint16)
    return flat, offsets, np.array(labels, dtype=np.int8)


def dense(matrix) -> np.ndarray:
    result = np.zeros(matrix.shape)
    result[matrix.rows, matrix.columns] = matrix.values
    return result


def test_unigram_binary_marks_each_word_once_and_never_padding():
    flat, offsets, _ = encoded([[2, 2, 3], [0, 0, 4], [1]], [0, 0, 0])
    assert dense(unigram_binary(flat, offsets, 5)).tolist() == [
        [0, 0, 1, 1, 0],
        [0, 0, 0, 0, 1],  # PAD (0) is no feature
        [0, 1, 0, 0, 0],  # UNK (1) is one
    ]


def test_bigram_tfidf_by_hand():
    # two sentences; the bigram (2, 3) occurs twice in the first; no bigram crosses sentences
    flat, offsets, _ = encoded([[2, 3, 2, 3], [3]], [0, 1])
    features = BigramTfidf.fit(flat, offsets, 4, max_bigrams=1)
    assert features.bigrams.tolist() == [2 * 4 + 3]  # the most frequent: (2, 3) twice, (3, 2) once
    idf = features.idf
    assert idf[2] == pytest.approx(math.log(3 / 2) + 1) and idf[3] == pytest.approx(1.0)  # in 1 and 2 sentences
    matrix = dense(features.transform(flat, offsets))
    first = np.array([0, 0, (1 + math.log(2)) * idf[2], 1 + math.log(2), (1 + math.log(2)) * idf[4]])
    assert matrix[0] == pytest.approx(first / np.linalg.norm(first))
    assert matrix[1] == pytest.approx([0, 0, 0, 1, 0])  # unit length
    # a sentence of unseen bigrams only: its words are its features
    unseen, unseen_offsets, _ = encoded([[3, 2]], [0])
    assert dense(features.transform(unseen, unseen_offsets))[0, 4] == 0


def separable(rng, count: int):
    """Word 2 in every positive sentence, word 3 in every negative one, among noise words 4..19."""
    sentences, labels = [], []
    for _ in range(count):
        label = int(rng.integers(2))
        words = list(rng.integers(4, 20, size=rng.integers(2, 8)))
        words.insert(int(rng.integers(len(words) + 1)), 2 if label else 3)
        sentences.append(words)
        labels.append(label)
    return encoded(sentences, labels)


@pytest.mark.parametrize("kind", [UNIGRAM_BINARY, BIGRAM_TFIDF])
def test_a_separable_set_is_learned_perfectly(kind):
    rng = np.random.default_rng(0)
    splits = {"train": separable(rng, 200), "validation": separable(rng, 50), "evaluated": separable(rng, 100)}
    result, predicted = bag_of_words_baseline(kind, splits, 20, OPTIONS)
    assert predicted.tolist() == splits["evaluated"][2].tolist()
    assert result["accuracy"] == 1.0 and result["f1"] == 1.0 and result["validation_accuracy"] == 1.0
    positives = int(splits["evaluated"][2].sum())
    assert result["confusion_matrix"] == [[100 - positives, 0], [0, positives]]
    assert result["features"] == kind and 0 < result["iterations"] <= OPTIONS["iterations"]
    # named for what it is: a logistic regression on those features, not a neural network
    words = {UNIGRAM_BINARY: "unigram binary", BIGRAM_TFIDF: "bigram TF-IDF"}[kind]
    assert result["described"].startswith(f"logistic regression on {words} features: 20 word ids")


def test_word_order_needs_bigrams():
    """'2 3' is positive, '3 2' negative: the same words, so unigrams cannot tell them apart."""
    rng = np.random.default_rng(1)

    def ordered(count):
        labels = rng.integers(2, size=count)
        return encoded([[2, 3] if label else [3, 2] for label in labels], labels.tolist())

    splits = {"train": ordered(100), "validation": ordered(40), "evaluated": ordered(100)}
    unigrams, _ = bag_of_words_baseline(UNIGRAM_BINARY, splits, 4, OPTIONS)
    bigrams, _ = bag_of_words_baseline(BIGRAM_TFIDF, splits, 4, OPTIONS)
    assert bigrams["accuracy"] == 1.0
    # every sentence has the same unigram features: one class for all, the test's share of it
    predicted_positive = unigrams["confusion_matrix"][0][1] + unigrams["confusion_matrix"][1][1]
    assert predicted_positive in (0, 100)
    assert unigrams["accuracy"] in (splits["evaluated"][2].mean(), 1 - splits["evaluated"][2].mean())
