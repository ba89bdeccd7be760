"""Metrics and baselines that need only NumPy (shared by evaluation, reports and tests)."""

from __future__ import annotations

import math

import numpy as np


def language_model_metrics(mean_cross_entropy_nats: float, unit: str = "character") -> dict:
    """Loss in nats per character (or word: `unit`), its perplexity and bits per character (word)."""
    return {
        "loss": mean_cross_entropy_nats,
        "perplexity": math.exp(mean_cross_entropy_nats),
        f"bits_per_{unit}": mean_cross_entropy_nats / math.log(2),
    }


def unigram_cross_entropy(train_counts, targets: np.ndarray, never=()) -> float:
    """Mean cross-entropy (nats) of `targets` under the training split's character frequencies.

    Every id but the unknown one occurs in training (the vocabulary is built from it), so only a
    zero count needs smoothing: it is counted once (Laplace's add-one, for the ids that need it),
    p = n / (N + z) with z zero-count ids, so an unseen test character costs log(N + 1), finite,
    about what a character seen once in training costs. Adding one to every count instead would
    change the baseline of a vocabulary without an unknown id (Shakespeare's), which needs none.
    `never`: ids that are no token and never a target (a word model's padding): no probability.
    """
    counts = np.asarray(train_counts, dtype=np.float64)
    counts = np.where(counts > 0, counts, 1.0)
    counts[list(never)] = 0.0
    probabilities = counts / counts.sum()
    return float(-np.log(probabilities[np.asarray(targets, dtype=np.int64)]).mean())


def classification_metrics(y_true, y_pred) -> dict:
    """Binary metrics with 1 = positive; confusion matrix rows = true class (0, 1), columns = predicted."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    tp = int(((y_true == 1) & (y_pred == 1)).sum())
    tn = int(((y_true == 0) & (y_pred == 0)).sum())
    fp = int(((y_true == 0) & (y_pred == 1)).sum())
    fn = int(((y_true == 1) & (y_pred == 0)).sum())
    n = len(y_true)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "examples": n,
        "accuracy": (tp + tn) / n if n else None,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "confusion_matrix": [[tn, fp], [fn, tp]],
    }


def majority_class(train_labels) -> int:
    labels = np.asarray(train_labels, dtype=np.int64)
    positives = int(labels.sum())
    return 1 if positives * 2 >= len(labels) else 0


def regression_metrics(truth, predicted) -> dict:
    """Mean absolute error (the material's metric) and root mean squared error, in the data's unit."""
    error = np.asarray(predicted, dtype=np.float64) - np.asarray(truth, dtype=np.float64)
    return {
        "examples": len(error),
        "mae": float(np.abs(error).mean()) if len(error) else None,
        "rmse": float(np.sqrt((error**2).mean())) if len(error) else None,
    }
