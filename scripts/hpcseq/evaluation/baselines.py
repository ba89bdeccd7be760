"""Bag-of-words baselines of sequence classification: logistic regression on word counts.

A recurrent classifier is worth its cost only where it beats a model that ignores word order.
The baselines read what the model reads: the encoded splits of the vocabulary stage (the same
split, the same word ids, UNK included, PAD never), whole sentences (not cut to sentence_length).

- `unigram_binary`: one feature per vocabulary id, 1 where the sentence holds the word (multi-hot);
- `bigram_tfidf`: the unigrams and the training split's `max_bigrams` most frequent bigrams of
  ids, as TF-IDF (sublinear term frequency 1 + log tf, smoothed idf log((1 + n) / (1 + df)) + 1,
  each row scaled to unit length).

These are logistic regressions, a fair baseline but not the models of the figures they stand
beside: the course material's IMDB figures for unigram binary and bigram TF-IDF features
(config/published.yaml: "IMDB review example", after Chollet, Deep Learning with Python, 2nd ed.,
ch. 11) are of a Dense 16 relu, Dropout 0.5, sigmoid network on Keras' TextVectorization features,
whose bigram vocabulary is 20,000 unigrams and bigrams together and whose TF-IDF is the raw count
times log(1 + n / (1 + df)), unnormalised. (Maas et al. 2011 is the paper of the dataset.)

Logistic regression in NumPy alone (no scikit-learn in the training environment): full-batch Adam
on the mean log-loss plus `l2` / 2 * |w|^2, the features held sparse (row, column, value triples),
so memory is proportional to the words of the data, not to sentences x vocabulary. Deterministic
(no random start, no sampling); the number of iterations is chosen on the validation split (the
best of every `VALIDATE_EVERY`), the test split is used once, for the reported figures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hpcseq.evaluation.metrics import classification_metrics

UNIGRAM_BINARY, BIGRAM_TFIDF = "unigram_binary", "bigram_tfidf"  # config evaluation.bag_of_words.features
FEATURES = (UNIGRAM_BINARY, BIGRAM_TFIDF)
PAD = 0  # vocabulary.PAD: never a feature
VALIDATE_EVERY = 10
ADAM = {"beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}


@dataclass(frozen=True)
class SparseRows:
    """A sentences x features matrix as (row, column, value) triples, one per non-zero entry."""

    rows: np.ndarray
    columns: np.ndarray
    values: np.ndarray
    shape: tuple[int, int]

    def dot(self, weights: np.ndarray) -> np.ndarray:
        """X @ weights."""
        return np.bincount(self.rows, weights=self.values * weights[self.columns], minlength=self.shape[0])

    def transpose_dot(self, vector: np.ndarray) -> np.ndarray:
        """X.T @ vector."""
        return np.bincount(self.columns, weights=self.values * vector[self.rows], minlength=self.shape[1])


def _row_of_each_id(offsets: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(len(offsets) - 1, dtype=np.int64), np.diff(offsets))


def _counted(rows: np.ndarray, columns: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (row, column) pairs and how often each occurs."""
    keys, counts = np.unique(rows * width + columns, return_counts=True)
    return keys // width, keys % width, counts.astype(np.float64)


def unigram_binary(flat: np.ndarray, offsets: np.ndarray, vocabulary_size: int) -> SparseRows:
    """1 where a sentence holds a word id (PAD left out)."""
    ids = flat.astype(np.int64)
    rows = _row_of_each_id(offsets)
    keep = ids != PAD
    rows, columns, _ = _counted(rows[keep], ids[keep], vocabulary_size)
    return SparseRows(rows, columns, np.ones(len(rows)), (len(offsets) - 1, vocabulary_size))


def _bigram_keys(flat: np.ndarray, offsets: np.ndarray, vocabulary_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, first id * V + second id) of every pair of neighbouring ids inside one sentence."""
    ids = flat.astype(np.int64)
    rows = _row_of_each_id(offsets)
    inside = rows[:-1] == rows[1:] if len(ids) > 1 else np.zeros(0, dtype=bool)
    return rows[:-1][inside], ids[:-1][inside] * vocabulary_size + ids[1:][inside]


@dataclass(frozen=True)
class BigramTfidf:
    """The unigram + bigram TF-IDF features, fitted on the training split: which bigrams are
    features (the most frequent, ties by id) and each feature's idf."""

    vocabulary_size: int
    bigrams: np.ndarray  # sorted bigram keys (first * V + second) that are features
    idf: np.ndarray

    @classmethod
    def fit(cls, flat: np.ndarray, offsets: np.ndarray, vocabulary_size: int, max_bigrams: int) -> BigramTfidf:
        _, keys = _bigram_keys(flat, offsets, vocabulary_size)
        distinct, counts = np.unique(keys, return_counts=True)
        chosen = np.lexsort((distinct, -counts))[:max_bigrams]  # most frequent first, ties by id
        unfitted = cls(vocabulary_size, np.sort(distinct[chosen]), np.ones(vocabulary_size + len(chosen)))
        counts_matrix = unfitted._term_counts(flat, offsets)
        sentences = len(offsets) - 1
        document_frequency = np.bincount(counts_matrix.columns, minlength=counts_matrix.shape[1])
        idf = np.log((1.0 + sentences) / (1.0 + document_frequency)) + 1.0
        return cls(vocabulary_size, unfitted.bigrams, idf)

    @property
    def width(self) -> int:
        return self.vocabulary_size + len(self.bigrams)

    def _term_counts(self, flat: np.ndarray, offsets: np.ndarray) -> SparseRows:
        ids = flat.astype(np.int64)
        unigram_rows = _row_of_each_id(offsets)
        keep = ids != PAD
        bigram_rows, keys = _bigram_keys(flat, offsets, self.vocabulary_size)
        position = np.searchsorted(self.bigrams, keys)
        known = position < len(self.bigrams)
        known[known] = self.bigrams[position[known]] == keys[known]
        rows = np.concatenate([unigram_rows[keep], bigram_rows[known]])
        columns = np.concatenate([ids[keep], self.vocabulary_size + position[known]])
        rows, columns, counts = _counted(rows, columns, self.width)
        return SparseRows(rows, columns, counts, (len(offsets) - 1, self.width))

    def transform(self, flat: np.ndarray, offsets: np.ndarray) -> SparseRows:
        counts = self._term_counts(flat, offsets)
        values = (1.0 + np.log(counts.values)) * self.idf[counts.columns]
        norms = np.sqrt(np.bincount(counts.rows, weights=values**2, minlength=counts.shape[0]))
        values = values / norms[counts.rows]
        return SparseRows(counts.rows, counts.columns, values, counts.shape)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow warnings for large |z|


@dataclass
class LogisticRegression:
    weights: np.ndarray
    bias: float = 0.0

    def probabilities(self, features: SparseRows) -> np.ndarray:
        return _sigmoid(features.dot(self.weights) + self.bias)

    def predict(self, features: SparseRows) -> np.ndarray:
        return (self.probabilities(features) >= 0.5).astype(np.int64)


def train_logistic_regression(
    train: SparseRows,
    train_labels: np.ndarray,
    validation: SparseRows,
    validation_labels: np.ndarray,
    iterations: int,
    learning_rate: float,
    l2: float,
) -> tuple[LogisticRegression, int, float]:
    """Full-batch Adam on the mean log-loss + l2/2 |w|^2 (the bias unregularised); returns the
    model of the iteration with the best validation accuracy (checked every VALIDATE_EVERY, the
    the later on ties: the more converged), that iteration and its validation accuracy."""
    labels = np.asarray(train_labels, dtype=np.float64)
    wanted = np.asarray(validation_labels, dtype=np.int64)
    parameters = np.zeros(train.shape[1] + 1)  # weights, then the bias
    first_moment, second_moment = np.zeros_like(parameters), np.zeros_like(parameters)
    model = LogisticRegression(parameters[:-1].copy(), 0.0)
    best = (model, 0, float((model.predict(validation) == wanted).mean()))
    for step in range(1, iterations + 1):
        error = _sigmoid(train.dot(parameters[:-1]) + parameters[-1]) - labels
        gradient = np.empty_like(parameters)
        gradient[:-1] = train.transpose_dot(error) / len(labels) + l2 * parameters[:-1]
        gradient[-1] = error.mean()
        first_moment = ADAM["beta1"] * first_moment + (1 - ADAM["beta1"]) * gradient
        second_moment = ADAM["beta2"] * second_moment + (1 - ADAM["beta2"]) * gradient**2
        corrected_first = first_moment / (1 - ADAM["beta1"] ** step)
        corrected_second = second_moment / (1 - ADAM["beta2"] ** step)
        parameters -= learning_rate * corrected_first / (np.sqrt(corrected_second) + ADAM["epsilon"])
        if step % VALIDATE_EVERY == 0 or step == iterations:
            candidate = LogisticRegression(parameters[:-1].copy(), float(parameters[-1]))
            accuracy = float((candidate.predict(validation) == wanted).mean())
            if accuracy >= best[2]:
                best = (candidate, step, accuracy)
    return best


def bag_of_words_baseline(kind: str, splits: dict, vocabulary_size: int, options: dict) -> tuple[dict, np.ndarray]:
    """Train the `kind` baseline (FEATURES) on splits["train"], choose its iterations on
    splits["validation"], and return its metrics on splits["evaluated"] and its predictions there
    (each split: flat ids, offsets, labels as the vocabulary stage encodes them)."""
    if kind == UNIGRAM_BINARY:

        def transform(flat, offsets):
            return unigram_binary(flat, offsets, vocabulary_size)

        width = vocabulary_size
        described = f"logistic regression on unigram binary features: {vocabulary_size} word ids present or not"
    else:
        flat, offsets, _ = splits["train"]
        fitted = BigramTfidf.fit(flat, offsets, vocabulary_size, options["max_bigrams"])
        transform, width = fitted.transform, fitted.width
        described = (
            f"logistic regression on bigram TF-IDF features: {vocabulary_size} word ids and "
            f"{len(fitted.bigrams)} bigrams"
        )
    features = {name: (transform(flat, offsets), labels) for name, (flat, offsets, labels) in splits.items()}
    model, iterations, validation_accuracy = train_logistic_regression(
        *features["train"], *features["validation"], options["iterations"], options["learning_rate"], options["l2"]
    )
    evaluated, labels = features["evaluated"]
    predicted = model.predict(evaluated)
    return {
        "features": kind,
        "feature_count": width,
        "described": described,
        "classifier": f"logistic regression (l2 {options['l2']:g}), {iterations} full-batch Adam iterations "
        f"chosen on the validation split",
        "iterations": iterations,
        "validation_accuracy": validation_accuracy,
        **classification_metrics(labels, predicted),
    }, predicted
