"""Evaluation of sequence_classification models, next to majority-class and bag-of-words baselines.

Accuracy, precision, recall, F1 and the confusion matrix next to the majority class and
logistic regressions on bag-of-words features trained on the same split and vocabulary
(evaluation/baselines.py: not the course material's Dense 16 network of its IMDB figures), on
the whole test split and separately on test sentences that do / do not also occur in training
(the number that tells whether the model generalises).
"""

from __future__ import annotations

import time

import numpy as np

from hpcseq.data.labelled_sentences import read_prepared
from hpcseq.data.vocabulary import encoded_index, load_sentences, load_vocabulary
from hpcseq.errors import InputDataError
from hpcseq.evaluation import metrics
from hpcseq.evaluation.baselines import bag_of_words_baseline
from hpcseq.evaluation.held_out import result_header
from hpcseq.io import write_text
from hpcseq.paths import ExperimentPaths
from hpcseq.training import inputs


def evaluate_classification(settings: dict, paths: ExperimentPaths, model, log) -> dict:
    """The model's predictions on the held-out split, scored on all of its sentences and apart on
    those training has and lacks, next to the baselines; readable examples in the samples file."""
    hp, evaluation = settings["hyperparameters"], settings["evaluation"]
    split, (flat, offsets, labels) = _held_out_sentences(paths)
    matrix = inputs.pad_sentences(flat, offsets, hp["sentence_length"], hp["padding"])
    dataset = inputs.sentence_eval_dataset(matrix, labels, evaluation["batch_size"])
    probabilities = model.predict(dataset, verbose=0).reshape(-1)
    predicted = (probabilities >= evaluation["threshold"]).astype(np.int64)
    train_labels, test_tokens, seen = _seen_in_training(settings, paths, split, labels)
    words = encoded_index(paths.encoded)["splits"][split]
    baselines = bag_of_words_baselines(settings, paths, (flat, offsets, labels), seen, log)
    majority = metrics.majority_class(train_labels)
    result = {
        **result_header(settings, split),
        "split_method": settings["preprocess"]["split"],
        "model_metrics": metrics.classification_metrics(labels, predicted),
        "majority_baseline": {
            "class": majority,
            **metrics.classification_metrics(labels, np.full(len(labels), majority)),
        },
        "bag_of_words_baselines": baselines,
        "overlap": {
            "test_sentences": len(labels),
            "also_in_training": int(seen.sum()),
            "not_in_training": int((~seen).sum()),
        },
        "unseen_in_training": {
            "words": words["unseen"],  # of the evaluated split, as the vocabulary stage counted them
            "tokens": words["tokens"],
            "unknown_tokens": words["unknown_tokens"],  # encoded UNK: unseen, or beyond max_words/min_count
        },
        **_metrics_by_overlap(labels, predicted, seen),
    }
    write_text(
        paths.samples,
        _prediction_examples(settings["name"], split, test_tokens, labels, probabilities, predicted, seen),
    )
    _log_classification(log, split, result, seen, words)
    return result


def _held_out_sentences(paths: ExperimentPaths) -> tuple[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The test split, or the validation split when the test split has no sentence: its name and
    (flat ids, offsets, labels)."""
    flat, offsets, labels = load_sentences(paths.encoded, "test")
    split = "test"
    if len(labels) == 0:
        flat, offsets, labels = load_sentences(paths.encoded, "validation")
        split = "validation"
    return split, (flat, offsets, labels)


def _seen_in_training(settings: dict, paths: ExperimentPaths, split: str, labels: np.ndarray):
    """(training labels, the evaluated split's sentences, whether each of them occurs in training),
    read from the prepared splits; an error when those do not match the encoded split."""
    train_labels, train_tokens = read_prepared(paths.prepared_split("train", settings["task"]))
    test_labels, test_tokens = read_prepared(paths.prepared_split(split, settings["task"]))
    if list(test_labels) != labels.tolist():
        raise InputDataError(
            paths.encoded_split(split, settings["task"]),
            f"does not match {paths.prepared_split(split, settings['model'])}: rerun the vocabulary stage",
        )
    seen_keys = {" ".join(tokens) for tokens in train_tokens}
    seen = np.array([" ".join(tokens) in seen_keys for tokens in test_tokens], dtype=bool)
    return train_labels, test_tokens, seen


def _metrics_by_overlap(labels: np.ndarray, predicted: np.ndarray, seen: np.ndarray) -> dict:
    """The model's metrics on the sentences training lacks and on those it has (None: there are none)."""
    return {
        "model_metrics_not_in_training": metrics.classification_metrics(labels[~seen], predicted[~seen])
        if (~seen).any()
        else None,
        "model_metrics_also_in_training": metrics.classification_metrics(labels[seen], predicted[seen])
        if seen.any()
        else None,
    }


def _log_classification(log, split: str, result: dict, seen: np.ndarray, words: dict) -> None:
    unseen = result["model_metrics_not_in_training"]
    log.info(
        "%s split (%s): accuracy %.4f, F1 %.4f; majority class %.4f; %d of %d test sentences also in "
        "training; accuracy on the others %s; %d of %d words unseen in training",
        split,
        result["split_method"],
        result["model_metrics"]["accuracy"],
        result["model_metrics"]["f1"],
        result["majority_baseline"]["accuracy"],
        seen.sum(),
        result["overlap"]["test_sentences"],
        f"{unseen['accuracy']:.4f}" if unseen else "n/a",
        words["unseen"],
        words["tokens"],
    )


def bag_of_words_baselines(settings: dict, paths: ExperimentPaths, evaluated: tuple, seen: np.ndarray, log) -> dict:
    """Each configured bag-of-words baseline (evaluation.bag_of_words.features: a logistic
    regression), trained on the encoded training split, its iterations chosen on the validation
    split, scored on `evaluated`, also on its sentences that training lacks (`seen` False), as the
    model is."""
    options = settings["evaluation"]["bag_of_words"]
    if not options["features"]:
        return {}
    splits = {split: load_sentences(paths.encoded, split) for split in ("train", "validation")}
    size = load_vocabulary(paths.vocab).size
    results = {}
    for kind in options["features"]:
        started = time.perf_counter()
        results[kind], predicted = bag_of_words_baseline(kind, {**splits, "evaluated": evaluated}, size, options)
        labels = evaluated[2]
        results[kind]["not_in_training"] = (
            metrics.classification_metrics(labels[~seen], predicted[~seen]) if (~seen).any() else None
        )
        log.info(
            "bag-of-words baseline %s (%s): accuracy %.4f, F1 %.4f (validation %.4f, %d iterations, %.1f s)",
            kind,
            results[kind]["described"],
            results[kind]["accuracy"],
            results[kind]["f1"],
            results[kind]["validation_accuracy"],
            results[kind]["iterations"],
            time.perf_counter() - started,
        )
    return results


def _prediction_examples(name, split, token_lists, labels, probabilities, predicted, seen, per_group: int = 10) -> str:
    """Readable examples: misclassified test sentences first, then correct ones; unseen before seen."""
    lines = [f"# Predictions of {name} on its {split} split", "", "label  p(positive)  in training  sentence", ""]
    wrong = [i for i in np.argsort(seen, kind="stable") if predicted[i] != labels[i]]
    right = [i for i in np.argsort(seen, kind="stable") if predicted[i] == labels[i]]
    for title, chosen in (("misclassified", wrong[:per_group]), ("correct", right[:per_group])):
        lines += [f"## {title} ({len(wrong) if title == 'misclassified' else len(right)} in all)", ""]
        for i in chosen:
            lines.append(
                f"{int(labels[i])}      {probabilities[i]:.3f}        {'yes' if seen[i] else 'no ':3}"
                f"          {' '.join(token_lists[i])}"
            )
        lines.append("")
    return "\n".join(lines)
