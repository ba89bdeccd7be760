"""Evaluation of the language models (next_character, next_word), next to a unigram model; samples.

Test loss, perplexity and bits per character (word) next to a unigram model of the training
split, and text generated from the config's seed texts, greedy and at each temperature.
"""

from __future__ import annotations

import time

import numpy as np

from hpcseq.config import PER_STEP_TASKS
from hpcseq.data.vocabularies import PAD, UNK, CharVocabulary, WordVocabulary
from hpcseq.data.vocabulary import char_split_length, encoded_index, load_char_ids, load_lines
from hpcseq.errors import InputDataError
from hpcseq.evaluation import generation, metrics
from hpcseq.evaluation.held_out import held_out_split, result_header
from hpcseq.io import write_text
from hpcseq.paths import ExperimentPaths
from hpcseq.training import inputs

CHARACTER, WORD = ("character", ""), ("word", " ")  # what a sample is made of, and what separates two


def sample_texts(model, codec, settings: dict) -> list[dict]:
    """Generate from every seed text of the config, greedy and at each temperature (generation.sample)."""
    evaluation = settings["evaluation"]
    modes = [("greedy", None)] + [(f"temperature {t:g}", float(t)) for t in evaluation["temperatures"]]
    return generation.sample(
        model, codec, evaluation["seed_texts"], modes, evaluation["sample_length"], evaluation["sample_seed"]
    )


def write_samples(settings: dict, paths: ExperimentPaths, samples: list[dict], unit: str, separator: str) -> None:
    lines = [f"# Samples from {settings['name']} ({settings['evaluation']['sample_length']} {unit}s each)", ""]
    read_as = "fed" if settings["task"] in PER_STEP_TASKS else "window"  # the per-step GRU carries its state
    for sample in samples:
        lines += [
            f"## seed {sample['seed']!r} ({read_as} {sample['window']!r}), {sample['mode']}",
            "",
            f"{sample['window']}{separator}|{separator}{sample['text']}",
            "",
        ]
    write_text(paths.samples, "\n".join(lines))


def _generated_samples(model, settings: dict, paths: ExperimentPaths, vocabulary, length: int, log, unit: tuple):
    """The samples of sample_texts, written to the samples file; unit: (its name, the separator of
    two of them)."""
    codec = generation.text_codec(settings, vocabulary, length, log)
    samples = sample_texts(model, codec, settings)
    write_samples(settings, paths, samples, *unit)
    return samples


# ------------------------------------------------------------------------------ next_character


def evaluate_next_character(settings: dict, paths: ExperimentPaths, model, vocabulary: CharVocabulary, log) -> dict:
    """Loss, perplexity and bits per character of every window of the held-out split, next to a
    unigram model of the training split; generated text, greedy and sampled."""
    hp = settings["hyperparameters"]
    split, ids, windows = _held_out_characters(settings, paths)
    per_step = settings["task"] in PER_STEP_TASKS  # a target at every step of each window
    dataset = inputs.char_eval_dataset(
        ids, hp["sequence_length"], hp["step"], settings["evaluation"]["batch_size"], per_step
    )
    model.compile(loss="sparse_categorical_crossentropy", metrics=["sparse_categorical_accuracy"])
    started = time.perf_counter()
    loss, accuracy = model.evaluate(dataset, verbose=0)
    seconds = time.perf_counter() - started
    targets = _window_targets(ids, windows, hp, per_step)
    baseline = metrics.unigram_cross_entropy(vocabulary.id_counts, targets)
    unseen = encoded_index(paths.encoded)["splits"][split]
    result = {
        **result_header(settings, split),
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
    result["samples"] = _generated_samples(model, settings, paths, vocabulary, hp["sequence_length"], log, CHARACTER)
    return result


def _held_out_characters(settings: dict, paths: ExperimentPaths) -> tuple[str, np.ndarray, int]:
    """(split, its ids, its windows): the held-out split, which must hold one window at least."""
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
    return split, ids, windows


def _window_targets(ids: np.ndarray, windows: int, hp: dict, per_step: bool) -> np.ndarray:
    """The ids the model predicts: the one after every window, or (per_step) every window shifted by one."""
    if per_step:  # every window shifted by one
        starts = np.arange(windows, dtype=np.int64) * hp["step"]
        return ids[(starts[:, None] + 1 + np.arange(hp["sequence_length"])).reshape(-1)]
    return ids[hp["sequence_length"] :: hp["step"]][:windows]  # the target of every window


# ------------------------------------------------------------------------------ next_word


def evaluate_next_word(settings: dict, paths: ExperimentPaths, model, vocabulary: WordVocabulary, log) -> dict:
    """Loss, perplexity and bits per word of every line prefix of the held-out split, next to a
    unigram word model of the training split; generated text, greedy and sampled."""
    length = int(model.input_shape[1])  # what training resolved (sequence_length null: the longest line)
    split, flat, offsets, count = _held_out_lines(settings, paths)
    dataset = inputs.prefix_eval_dataset(flat, offsets, length, settings["evaluation"]["batch_size"])
    started = time.perf_counter()
    losses, hits, targets = _per_sample_losses(model, dataset)
    seconds = time.perf_counter() - started
    words = encoded_index(paths.encoded)["splits"][split]
    result = {
        **result_header(settings, split),
        "samples_evaluated": count,
        "input_length": length,
        **_word_model_metrics(losses, hits, targets, vocabulary),
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
        result["model_metrics"]["loss"],
        result["model_metrics"]["perplexity"],
        result["model_metrics"]["bits_per_word"],
        result["unigram_baseline"]["loss"],
        result["unigram_baseline"]["perplexity"],
        result["unigram_baseline"]["bits_per_word"],
        result["unseen_in_training"]["unknown_targets"],
        count,
    )
    result["samples"] = _generated_samples(model, settings, paths, vocabulary, length, log, WORD)
    return result


def _held_out_lines(settings: dict, paths: ExperimentPaths) -> tuple[str, np.ndarray, np.ndarray, int]:
    """(split, its flat ids, its line offsets, its line prefixes): the held-out split, which must
    hold a line of two words at least."""
    lengths = {split: encoded_index(paths.encoded)["splits"][split]["lines"] for split in ("validation", "test")}
    split = held_out_split(settings, lengths)
    flat, offsets = load_lines(paths.encoded, split)
    count = inputs.prefix_count(offsets)
    if count < 1:
        raise InputDataError(
            paths.encoded_split(split, settings["task"]),
            f"the {split} split has no line of two or more words: nothing to predict",
        )
    return split, flat, offsets, count


def _word_model_metrics(losses: np.ndarray, hits: np.ndarray, targets: np.ndarray, vocabulary) -> dict:
    """The model's and the unigram word model's metrics, on every target and on the known ones."""
    loss, accuracy = float(losses.mean()), float(hits.mean())
    baseline = metrics.unigram_cross_entropy(vocabulary.counts, targets, never=(PAD,))
    # Words training never saw are all <unk>, a target training never had: its probability is tiny
    # for the model and 1/(N+1) for the unigram model; both again on the other targets alone.
    known = targets != UNK
    return {
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
    }


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
