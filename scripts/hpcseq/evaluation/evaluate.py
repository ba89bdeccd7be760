"""Evaluation of a trained model on the held-out split, next to a baseline.

next_character models: test loss, perplexity and bits per character next to a unigram model
of the training split, and text sampled from fixed seed strings (greedy and with temperatures).
next_word models: the same per word (every line prefix of the test split), next to a unigram
word model of the training split, and 100 generated words per seed, greedy and sampled.
Generated text never holds the unknown id (characters or words unseen in training) nor padding
(generation.py), so a sample is made of training characters or words only; a seed window that
holds it shows it as U+FFFD (vocabulary.UNKNOWN_MARKER) or <unk>.
sequence_classification models: accuracy, precision, recall, F1 and the confusion matrix next to the majority
class and bag-of-words classifiers trained on the same split and vocabulary (evaluation/baselines.py),
on the whole test split and separately on test sentences that do / do not also occur in training
(the number that tells whether the model generalises).
sequence_regression models: mean absolute error in the data's unit (predictions un-normalised with
the training split's mean and std) next to persistence (the target column's last value in the
window, the material's "naive" forecast) and the training mean, on the same test windows.

Each task's evaluation is a module of its own: language_models (next_character, next_word),
classification (sequence_classification) and forecast (sequence_regression).
"""

from __future__ import annotations

import json

import tensorflow as tf

from hpcseq.config import CHARACTER_TASKS
from hpcseq.data.vocabulary import load_vocabulary
from hpcseq.errors import InputDataError
from hpcseq.evaluation.classification import evaluate_classification
from hpcseq.evaluation.forecast import evaluate_regression
from hpcseq.evaluation.language_models import evaluate_next_character, evaluate_next_word
from hpcseq.events import setup_logging
from hpcseq.io import write_json
from hpcseq.paths import ExperimentPaths
from hpcseq.training.models import load_model

# What metrics.json repeats of the training summary (model/training_summary.json), where there is one.
TRAINING_SUMMARY_KEYS = (
    "ranks",
    "epochs",
    "steps_per_epoch",
    "global_batch_size",
    "mean_samples_per_second",
    "final",
    "best_val_loss",
    "training_data_notes",
    "preset",
    "launcher",
    "provenance",
)


def evaluate(settings: dict, paths: ExperimentPaths) -> dict:
    """The experiment's trained model evaluated as its task asks; writes metrics.json (with what
    training reported, where its summary exists) and the samples file."""
    log = setup_logging("evaluate")
    tf.keras.utils.set_random_seed(settings["evaluation"].get("sample_seed", 0))
    if not paths.final_model.is_file():
        raise InputDataError(paths.final_model, "no trained model: run the train stage first")
    model = load_model(paths.final_model)
    vocabulary = load_vocabulary(paths.vocab)
    if settings["task"] in CHARACTER_TASKS:
        result = evaluate_next_character(settings, paths, model, vocabulary, log)
    elif settings["task"] == "next_word":
        result = evaluate_next_word(settings, paths, model, vocabulary, log)
    elif settings["task"] == "sequence_regression":
        result = evaluate_regression(settings, paths, model, vocabulary, log)
    else:
        result = evaluate_classification(settings, paths, model, log)
    summary_path = paths.training_summary
    if summary_path.is_file():
        training = json.loads(summary_path.read_text(encoding="utf-8"))
        result["training"] = {key: training.get(key) for key in TRAINING_SUMMARY_KEYS}
    write_json(paths.eval_metrics, result)
    log.info("wrote %s", paths.eval_metrics)
    return result
