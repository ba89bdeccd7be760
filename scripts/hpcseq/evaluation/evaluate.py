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
"""

from __future__ import annotations

import json
import time

import numpy as np

from hpcseq.config import CHARACTER_TASKS, PER_STEP_TASKS
from hpcseq.data.labelled_sentences import read_prepared
from hpcseq.data.vocabulary import (
    PAD,
    UNK,
    CharVocabulary,
    WordVocabulary,
    char_split_length,
    encoded_index,
    load_char_ids,
    load_lines,
    load_sentences,
    load_vocabulary,
)
from hpcseq.errors import InputDataError
from hpcseq.evaluation import generation, metrics
from hpcseq.evaluation.baselines import bag_of_words_baseline
from hpcseq.events import setup_logging
from hpcseq.io import write_json, write_text
from hpcseq.paths import ExperimentPaths
from hpcseq.training import inputs


def held_out_split(settings: dict, lengths: dict) -> str:
    """The test split, or the validation split when the config has no test part (test_fraction 0)."""
    return "test" if lengths.get("test", 0) > 0 else "validation"


def _result_header(settings: dict, split: str) -> dict:
    """What every evaluation's metrics.json begins with: the run, and which split was evaluated."""
    return {
        "experiment": settings["name"],
        "model": settings["model"],
        "task": settings["task"],
        "evaluated_split": split,
        "evaluated_split_note": None
        if split == "test"
        else "no test part configured (test_fraction 0): these are validation numbers",
    }


def sample_texts(model, codec, settings: dict) -> list[dict]:
    """Generate from every seed text of the config, greedy and at each temperature (generation.sample)."""
    evaluation = settings["evaluation"]
    modes = [("greedy", None)] + [(f"temperature {t:g}", float(t)) for t in evaluation["temperatures"]]
    return generation.sample(
        model, codec, evaluation["seed_texts"], modes, evaluation["sample_length"], evaluation["sample_seed"]
    )


def write_samples(settings: dict, paths: ExperimentPaths, samples: list[dict], unit: str, separator: str) -> None:
    lines = [f"# Samples from {settings['name']} ({settings['evaluation']['sample_length']} {unit}s each)", ""]
    for sample in samples:
        lines += [
            f"## seed {sample['seed']!r} (window {sample['window']!r}), {sample['mode']}",
            "",
            f"{sample['window']}{separator}|{separator}{sample['text']}",
            "",
        ]
    write_text(paths.samples, "\n".join(lines))


def evaluate_next_character(settings: dict, paths: ExperimentPaths, model, vocabulary: CharVocabulary, log) -> dict:
    hp = settings["hyperparameters"]
    lengths = {split: char_split_length(paths.encoded, split) for split in ("validation", "test")}
    split = held_out_split(settings, lengths)
    ids = load_char_ids(paths.encoded, split)
    windows = inputs.window_count(len(ids), hp["sequence_length"], hp["step"])
    if windows < 1:
        raise InputDataError(
            paths.encoded_split(split, settings["task"]),
            f"the {split} split has {len(ids)} characters, too few for one window of {hp['sequence_length']}+1",
        )
    per_step = settings["task"] in PER_STEP_TASKS  # a target at every step of each window
    dataset = inputs.char_eval_dataset(
        ids, hp["sequence_length"], hp["step"], settings["evaluation"]["batch_size"], per_step
    )
    model.compile(loss="sparse_categorical_crossentropy", metrics=["sparse_categorical_accuracy"])
    started = time.perf_counter()
    loss, accuracy = model.evaluate(dataset, verbose=0)
    seconds = time.perf_counter() - started
    if per_step:  # every window shifted by one
        starts = np.arange(windows, dtype=np.int64) * hp["step"]
        targets = ids[(starts[:, None] + 1 + np.arange(hp["sequence_length"])).reshape(-1)]
    else:
        targets = ids[hp["sequence_length"] :: hp["step"]][:windows]  # the target of every window
    baseline = metrics.unigram_cross_entropy(vocabulary.id_counts, targets)
    unseen = encoded_index(paths.encoded)["splits"][split]
    result = {
        **_result_header(settings, split),
        "windows": windows,
        "targets": len(targets),
        "model_metrics": {**metrics.language_model_metrics(float(loss)), "accuracy": float(accuracy)},
        "unigram_baseline": metrics.language_model_metrics(baseline),
        "unseen_in_training": {
            "characters": unseen["unseen"],  # of the evaluated split, as the vocabulary stage counted them
            "by_character": unseen["unseen_characters"],
            "unk_id": vocabulary.unk_id,
            "targets": 0 if vocabulary.unk_id is None else int((targets == vocabulary.unk_id).sum()),
        },
        "windows_per_second": windows / seconds,
    }
    log.info(
        "%s split: loss %.4f (perplexity %.2f, %.3f bits/char); unigram baseline %.4f (%.3f bits/char); "
        "%d characters unseen in training (%d of the %d targets)",
        split,
        loss,
        result["model_metrics"]["perplexity"],
        result["model_metrics"]["bits_per_character"],
        baseline,
        result["unigram_baseline"]["bits_per_character"],
        unseen["unseen"],
        result["unseen_in_training"]["targets"],
        windows,
    )
    codec = generation.text_codec(settings, vocabulary, hp["sequence_length"], log)
    result["samples"] = sample_texts(model, codec, settings)
    write_samples(settings, paths, result["samples"], "character", "")
    return result


def _per_sample_losses(model, dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cross-entropy (nats, probabilities clipped at 1e-7 as Keras' loss clips them), hit of the
    most probable id, and target of every sample, batch by batch (no matrix of all predictions)."""
    losses, hits, targets = [], [], []
    for inputs_batch, target_batch in dataset:
        probabilities = model(inputs_batch, training=False).numpy()
        target = target_batch.numpy().astype(np.int64)
        chosen = probabilities[np.arange(len(target)), target]
        losses.append(-np.log(np.clip(chosen, 1e-7, 1.0)))
        hits.append(probabilities.argmax(axis=1) == target)
        targets.append(target)
    return np.concatenate(losses), np.concatenate(hits), np.concatenate(targets)


def evaluate_next_word(settings: dict, paths: ExperimentPaths, model, vocabulary: WordVocabulary, log) -> dict:
    """Loss, perplexity and bits per word of every line prefix of the held-out split, next to a
    unigram word model of the training split; generated text, greedy and sampled."""
    length = int(model.input_shape[1])  # what training resolved (sequence_length null: the longest line)
    lengths = {split: encoded_index(paths.encoded)["splits"][split]["lines"] for split in ("validation", "test")}
    split = held_out_split(settings, lengths)
    flat, offsets = load_lines(paths.encoded, split)
    count = inputs.prefix_count(offsets)
    if count < 1:
        raise InputDataError(
            paths.encoded_split(split, settings["task"]),
            f"the {split} split has no line of two or more words: nothing to predict",
        )
    dataset = inputs.prefix_eval_dataset(flat, offsets, length, settings["evaluation"]["batch_size"])
    started = time.perf_counter()
    losses, hits, targets = _per_sample_losses(model, dataset)
    seconds = time.perf_counter() - started
    loss, accuracy = float(losses.mean()), float(hits.mean())
    baseline = metrics.unigram_cross_entropy(vocabulary.counts, targets, never=(PAD,))
    # Words training never saw are all <unk>, a target training never had: its probability is tiny
    # for the model and 1/(N+1) for the unigram model; both again on the other targets alone.
    known = targets != UNK
    words = encoded_index(paths.encoded)["splits"][split]
    result = {
        **_result_header(settings, split),
        "samples_evaluated": count,
        "input_length": length,
        "model_metrics": {**metrics.language_model_metrics(float(loss), "word"), "accuracy": float(accuracy)},
        "unigram_baseline": metrics.language_model_metrics(baseline, "word"),
        "model_metrics_known_targets": metrics.language_model_metrics(float(losses[known].mean()), "word")
        if known.any()
        else None,
        "unigram_baseline_known_targets": metrics.language_model_metrics(
            metrics.unigram_cross_entropy(vocabulary.counts, targets[known], never=(PAD,)), "word"
        )
        if known.any()
        else None,
        "unseen_in_training": {
            "words": words["unseen"],
            "tokens": words["tokens"],
            "unknown_tokens": words["unknown_tokens"],
            "unknown_targets": int((targets == UNK).sum()),
        },
        "samples_per_second": count / seconds,
    }
    log.info(
        "%s split: loss %.4f (perplexity %.1f, %.3f bits/word); unigram word model %.4f (perplexity %.1f, "
        "%.3f bits/word); %d of %d targets unknown words",
        split,
        loss,
        result["model_metrics"]["perplexity"],
        result["model_metrics"]["bits_per_word"],
        baseline,
        result["unigram_baseline"]["perplexity"],
        result["unigram_baseline"]["bits_per_word"],
        result["unseen_in_training"]["unknown_targets"],
        count,
    )
    codec = generation.text_codec(settings, vocabulary, length, log)
    result["samples"] = sample_texts(model, codec, settings)
    write_samples(settings, paths, result["samples"], "word", " ")
    return result


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


def bag_of_words_baselines(settings: dict, paths: ExperimentPaths, evaluated: tuple, seen: np.ndarray, log) -> dict:
    """Each configured bag-of-words baseline (evaluation.bag_of_words.features), trained on the
    encoded training split, its iterations chosen on the validation split, scored on `evaluated`,
    also on its sentences that training lacks (`seen` False), as the model is."""
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


def evaluate_classification(settings: dict, paths: ExperimentPaths, model, log) -> dict:
    hp, evaluation = settings["hyperparameters"], settings["evaluation"]
    flat, offsets, labels = load_sentences(paths.encoded, "test")
    split = "test"
    if len(labels) == 0:
        flat, offsets, labels = load_sentences(paths.encoded, "validation")
        split = "validation"
    matrix = inputs.pad_sentences(flat, offsets, hp["sentence_length"], hp["padding"])
    dataset = inputs.sentence_eval_dataset(matrix, labels, evaluation["batch_size"])
    probabilities = model.predict(dataset, verbose=0).reshape(-1)
    predicted = (probabilities >= evaluation["threshold"]).astype(np.int64)
    train_labels, train_tokens = read_prepared(paths.prepared_split("train", settings["task"]))
    test_labels, test_tokens = read_prepared(paths.prepared_split(split, settings["task"]))
    if list(test_labels) != labels.tolist():
        raise InputDataError(
            paths.encoded_split(split, settings["task"]),
            f"does not match {paths.prepared_split(split, settings['model'])}: rerun the vocabulary stage",
        )
    seen_keys = {" ".join(tokens) for tokens in train_tokens}
    words = encoded_index(paths.encoded)["splits"][split]
    seen = np.array([" ".join(tokens) in seen_keys for tokens in test_tokens], dtype=bool)
    baselines = bag_of_words_baselines(settings, paths, (flat, offsets, labels), seen, log)
    majority = metrics.majority_class(train_labels)
    result = {
        **_result_header(settings, split),
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
        "model_metrics_not_in_training": metrics.classification_metrics(labels[~seen], predicted[~seen])
        if (~seen).any()
        else None,
        "model_metrics_also_in_training": metrics.classification_metrics(labels[seen], predicted[seen])
        if seen.any()
        else None,
    }
    write_text(
        paths.samples,
        _prediction_examples(settings["name"], split, test_tokens, labels, probabilities, predicted, seen),
    )
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
        len(labels),
        f"{unseen['accuracy']:.4f}" if unseen else "n/a",
        words["unseen"],
        words["tokens"],
    )
    return result


def evaluate_regression(settings: dict, paths: ExperimentPaths, model, normalisation, log) -> dict:
    from hpcseq.data import time_series
    from hpcseq.training.rank_data import series_windows

    index = encoded_index(paths.encoded)
    split = "test" if index["splits"]["test"]["rows"] > 0 else "validation"
    series = series_windows(settings, paths.encoded, split)
    if len(series["starts"]) < 1:
        raise InputDataError(
            paths.encoded_split(split, settings["task"]),
            f"the {split} split has {len(series['values'])} rows: no window of {series['span']} rows inside a run",
        )
    dataset = inputs.series_eval_dataset(
        series["values"], series["starts"], series["windows"], settings["evaluation"]["batch_size"]
    )
    started = time.perf_counter()
    predicted = normalisation.target_to_data_unit(model.predict(dataset, verbose=0).reshape(-1))
    seconds = time.perf_counter() - started
    raw = time_series.load_arrays(paths.prepared_split(split, settings["task"]))  # in the data's unit
    target = normalisation.target_index
    windows = series["windows"]
    last_row = series["starts"] + (windows["sequence_length"] - 1) * windows["sampling_step"]
    target_row = last_row + windows["horizon"] * windows["sampling_step"]
    truth = raw["values"][target_row, target].astype(np.float64)
    persistence = raw["values"][last_row, target].astype(np.float64)
    training_mean = np.full(len(truth), normalisation.mean[target])
    report = json.loads(paths.split_report.read_text(encoding="utf-8"))
    unit = normalisation.unit
    result = {
        **_result_header(settings, split),
        "target_column": normalisation.target_column,
        "unit": unit,
        "windows": len(truth),
        "windows_dropped_at_gaps": series["dropped_at_gaps"],
        "time_index": {key: report["splits"][split][key] for key in ("runs", *time_series.STEP_KINDS, "missing_rows")},
        "horizon_minutes": windows["horizon"] * windows["sampling_step"] * report["interval_minutes"],
        "model_metrics": metrics.regression_metrics(truth, predicted),
        "persistence_baseline": metrics.regression_metrics(truth, persistence),
        "training_mean_baseline": metrics.regression_metrics(truth, training_mean),
        "windows_per_second": len(truth) / seconds,
    }
    examples = settings["evaluation"]["examples"]
    lines = [
        f"# Forecasts of {settings['name']} on its {split} split ({normalisation.target_column}, {unit})",
        "",
        "time of the last input | persistence | forecast | truth",
        "",
    ]
    for row in np.linspace(0, len(truth) - 1, num=min(examples, len(truth)), dtype=np.int64) if examples else []:
        when = time_series.time_text(raw["minutes"][last_row[row]])
        lines.append(f"{when} | {persistence[row]:.2f} | {predicted[row]:.2f} | {truth[row]:.2f}")
    write_text(paths.samples, "\n".join(lines) + "\n")
    log.info(
        "%s split, %d windows (%d dropped at gaps): MAE %.4f %s; persistence %.4f, training mean %.4f",
        split,
        len(truth),
        series["dropped_at_gaps"],
        result["model_metrics"]["mae"],
        unit or "",
        result["persistence_baseline"]["mae"],
        result["training_mean_baseline"]["mae"],
    )
    return result


def evaluate(settings: dict, paths: ExperimentPaths) -> dict:
    import tensorflow as tf

    from hpcseq.training.models import load_model

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
        result["training"] = {
            key: training.get(key)
            for key in (
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
        }
    write_json(paths.eval_metrics, result)
    log.info("wrote %s", paths.eval_metrics)
    return result
