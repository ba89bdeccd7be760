"""What one rank trains on: its shard of the encoded training and validation splits, as tf.data
pipelines (see inputs.py), and the batch and step counts that follow from the number of ranks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hpcseq.config import PER_STEP_TASKS, global_batch_problem
from hpcseq.data import time_series
from hpcseq.data.vocabulary import char_split_length, encoded_index, load_char_ids, load_lines, load_sentences
from hpcseq.errors import ConfigError, InputDataError
from hpcseq.paths import encoded_split_file
from hpcseq.training import inputs


@dataclass
class TrainingData:
    steps_per_epoch: int
    batch_size: int
    items_total: int
    items_this_rank: int
    shard: dict
    make_training: Callable[[int, int], object]
    validation: object
    validation_items_this_rank: int
    notes: list = field(default_factory=list)


def subset_notes(training: dict, steps: int, global_batch: int, total: int, items: str) -> list[str]:
    """The note of an epoch that uses fewer than all `total` items, and why: max_steps_per_epoch caps
    it, or only whole global batches are taken (the remainder, fewer than one batch, is left out)."""
    used = steps * global_batch
    if used >= total:
        return []
    cap = training["max_steps_per_epoch"]
    if cap is not None and steps >= cap:
        why = f"max_steps_per_epoch = {cap}"
    else:
        why = f"{steps} whole global batches of {global_batch}; the other {total - used} fill no batch"
    return [f"each epoch uses {used} of {total} {items} ({why}), a fresh random subset every epoch"]


def batch_per_rank(training: dict, size: int, experiment: str = "") -> int:
    """training.batch_size per rank, or global_batch_size split over the ranks."""
    total = training.get("global_batch_size")
    if total is None:
        return training["batch_size"]
    problem = global_batch_problem(total, size)
    if problem:
        raise ConfigError(f"experiments.{experiment}.training.global_batch_size", problem)
    return total // size


def _validation_batch_size(batch_size: int) -> int:
    return max(batch_size, 1024)


def char_data(settings: dict, encoded_dir: Path, rank: int, size: int) -> TrainingData:
    hp, training = settings["hyperparameters"], settings["training"]
    length, step = hp["sequence_length"], hp["step"]
    batch = batch_per_rank(training, size, settings["name"])
    total_chars = char_split_length(encoded_dir, "train")
    total_windows = inputs.window_count(total_chars, length, step)
    shard = inputs.WindowShard.for_rank(total_chars, length, step, rank, size)
    steps = inputs.steps_per_epoch(total_windows // size, batch, training["max_steps_per_epoch"])
    if steps < 1:
        raise InputDataError(
            encoded_split_file(encoded_dir, "train", "text"),
            f"the training split has {total_chars} characters = {total_windows} windows of "
            f"{length}+1; {size} ranks x batch {batch} need at least {size * batch} windows",
        )
    ids = load_char_ids(encoded_dir, "train", shard.char_start, shard.char_stop)
    per_step = settings["task"] in PER_STEP_TASKS  # a target at every step: the window shifted by one
    validation_chars = char_split_length(encoded_dir, "validation")
    vshard = inputs.WindowShard.for_rank(validation_chars, length, step, rank, size)
    if vshard.windows < 1:
        raise InputDataError(
            encoded_split_file(encoded_dir, "validation", "text"),
            f"the validation split has {validation_chars} characters: too few for one window of "
            f"{length}+1 per rank ({size} ranks)",
        )
    validation_ids = load_char_ids(encoded_dir, "validation", vshard.char_start, vshard.char_stop)
    seed = training["seed"]
    notes = subset_notes(training, steps, batch * size, total_windows, "training windows")
    return TrainingData(
        steps_per_epoch=steps,
        batch_size=batch,
        items_total=total_windows,
        items_this_rank=shard.windows,
        shard={
            "kind": "windows",
            "first": shard.first_window,
            "count": shard.windows,
            "char_start": shard.char_start,
            "char_stop": shard.char_stop,
            "bytes_loaded": int(ids.nbytes),
        },
        make_training=lambda first, last: inputs.char_training_dataset(
            ids, length, step, batch, steps, seed, rank, first, last, per_step
        ),
        validation=inputs.char_eval_dataset(validation_ids, length, step, _validation_batch_size(batch), per_step),
        validation_items_this_rank=vshard.windows,
        notes=notes,
    )


def sentence_data(settings: dict, encoded_dir: Path, rank: int, size: int) -> TrainingData:
    hp, training = settings["hyperparameters"], settings["training"]
    batch = batch_per_rank(training, size, settings["name"])
    flat, offsets, labels = load_sentences(encoded_dir, "train")
    total = len(labels)
    steps = inputs.steps_per_epoch(total // size, batch, training["max_steps_per_epoch"])
    if steps < 1:
        raise InputDataError(
            encoded_split_file(encoded_dir, "train", "labelled_sentences"),
            f"the training split has {total} sentences; {size} ranks x batch {batch} need at least {size * batch}",
        )
    mine = inputs.strided_shard(total, rank, size)
    matrix = inputs.pad_sentences(flat, offsets, hp["sentence_length"], hp["padding"])[mine]
    my_labels = labels[mine]
    vflat, voffsets, vlabels = load_sentences(encoded_dir, "validation")
    vmine = inputs.strided_shard(len(vlabels), rank, size)
    if len(vmine) < 1:
        raise InputDataError(
            encoded_split_file(encoded_dir, "validation", "labelled_sentences"),
            f"the validation split has {len(vlabels)} sentences, fewer than the {size} ranks",
        )
    vmatrix = inputs.pad_sentences(vflat, voffsets, hp["sentence_length"], hp["padding"])[vmine]
    seed = training["seed"]
    notes = subset_notes(training, steps, batch * size, total, "training sentences")
    return TrainingData(
        steps_per_epoch=steps,
        batch_size=batch,
        items_total=total,
        items_this_rank=len(mine),
        shard={
            "kind": "sentences",
            "stride": size,
            "offset": rank,
            "count": len(mine),
            "first_indices": mine[:5].tolist(),
        },
        make_training=lambda first, last: inputs.sentence_training_dataset(
            matrix, my_labels, batch, steps, seed, rank, first, last
        ),
        validation=inputs.sentence_eval_dataset(vmatrix, vlabels[vmine], _validation_batch_size(batch)),
        validation_items_this_rank=len(vmine),
        notes=notes,
    )


def series_windows(settings: dict, encoded_dir: Path, split: str) -> dict:
    """One split's normalised rows, the first row of each window inside a run (none spans a gap)
    and the count of windows the gaps cost; `windows` are what the window maker needs."""
    hp = settings["hyperparameters"]
    values, runs = time_series.load_split(encoded_dir, split)
    span = time_series.window_span(hp["sequence_length"], hp["sampling_step"], hp["horizon"])
    starts = time_series.window_starts(runs, len(values), span)
    target = encoded_index(encoded_dir)["target_index"]
    return {
        "values": values,
        "starts": starts,
        "span": span,
        "dropped_at_gaps": time_series.windows_without_gaps(len(values), span) - len(starts),
        "windows": {
            "sequence_length": hp["sequence_length"],
            "sampling_step": hp["sampling_step"],
            "horizon": hp["horizon"],
            "target": target,
        },
    }


def _rows_of(series: dict, lo: int, hi: int) -> tuple:
    """The rows windows lo..hi-1 read, and their first rows counted from there."""
    if hi <= lo:
        return series["values"][:0], series["starts"][:0], 0, 0
    first, stop = int(series["starts"][lo]), int(series["starts"][hi - 1]) + series["span"]
    return series["values"][first:stop], series["starts"][lo:hi] - first, first, stop


def series_data(settings: dict, encoded_dir: Path, rank: int, size: int) -> TrainingData:
    """Contiguous blocks of the training and validation windows per rank; each rank keeps only
    the rows its windows read."""
    training = settings["training"]
    batch = batch_per_rank(training, size, settings["name"])
    train = series_windows(settings, encoded_dir, "train")
    total = len(train["starts"])
    steps = inputs.steps_per_epoch(total // size, batch, training["max_steps_per_epoch"])
    if steps < 1:
        raise InputDataError(
            encoded_split_file(encoded_dir, "train", "time_series"),
            f"the training split has {len(train['values'])} rows = {total} windows of {train['span']} rows "
            f"inside runs; {size} ranks x batch {batch} need at least {size * batch}",
        )
    lo, hi = inputs.contiguous_shard(total, rank, size)
    values, starts, row_start, row_stop = _rows_of(train, lo, hi)
    validation = series_windows(settings, encoded_dir, "validation")
    vlo, vhi = inputs.contiguous_shard(len(validation["starts"]), rank, size)
    if vhi <= vlo:
        raise InputDataError(
            encoded_split_file(encoded_dir, "validation", "time_series"),
            f"the validation split has {len(validation['starts'])} windows of {validation['span']} rows, "
            f"fewer than the {size} ranks",
        )
    vvalues, vstarts, _, _ = _rows_of(validation, vlo, vhi)
    windows, seed = train["windows"], training["seed"]
    notes = []
    if train["dropped_at_gaps"]:
        notes.append(f"{train['dropped_at_gaps']} training windows would span a gap in the time index: not used")
    notes += subset_notes(training, steps, batch * size, total, "training windows")
    return TrainingData(
        steps_per_epoch=steps,
        batch_size=batch,
        items_total=total,
        items_this_rank=len(starts),
        shard={
            "kind": "series_windows",
            "first": lo,
            "count": hi - lo,
            "row_start": row_start,
            "row_stop": row_stop,
            "bytes_loaded": int(values.nbytes),
        },
        make_training=lambda first, last: inputs.series_training_dataset(
            values, starts, windows, batch, steps, seed, rank, first, last
        ),
        validation=inputs.series_eval_dataset(vvalues, vstarts, windows, _validation_batch_size(batch)),
        validation_items_this_rank=len(vstarts),
        notes=notes,
    )


def resolved_hyperparameters(settings: dict, encoded_dir: Path) -> dict:
    """The hyperparameters with a word model's input length filled in where the config leaves it
    to the data (sequence_length null: the longest training line's words minus one)."""
    hp = dict(settings["hyperparameters"])
    if settings["task"] == "next_word" and hp.get("sequence_length") is None:
        hp["sequence_length"] = max(1, encoded_index(encoded_dir)["splits"]["train"]["longest_line"] - 1)
    return hp


def word_line_data(settings: dict, encoded_dir: Path, rank: int, size: int) -> TrainingData:
    """Every prefix of every line a sample (inputs.prefix_training_dataset), contiguous blocks of
    samples per rank."""
    length, training = settings["hyperparameters"]["sequence_length"], settings["training"]
    batch = batch_per_rank(training, size, settings["name"])
    flat, offsets = load_lines(encoded_dir, "train")
    total = inputs.prefix_count(offsets)
    steps = inputs.steps_per_epoch(total // size, batch, training["max_steps_per_epoch"])
    if steps < 1:
        raise InputDataError(
            encoded_split_file(encoded_dir, "train", "text_lines"),
            f"the training split has {total} samples (line prefixes of 2 or more words); "
            f"{size} ranks x batch {batch} need at least {size * batch}",
        )
    lo, hi = inputs.contiguous_shard(total, rank, size)
    vflat, voffsets = load_lines(encoded_dir, "validation")
    vlo, vhi = inputs.contiguous_shard(inputs.prefix_count(voffsets), rank, size)
    if vhi <= vlo:
        raise InputDataError(
            encoded_split_file(encoded_dir, "validation", "text_lines"),
            f"the validation split has {inputs.prefix_count(voffsets)} samples, fewer than the {size} ranks",
        )
    seed = training["seed"]
    notes = subset_notes(training, steps, batch * size, total, "training samples (line prefixes)")
    return TrainingData(
        steps_per_epoch=steps,
        batch_size=batch,
        items_total=total,
        items_this_rank=hi - lo,
        shard={"kind": "line prefixes", "first": lo, "count": hi - lo, "bytes_loaded": int(flat.nbytes)},
        make_training=lambda first, last: inputs.prefix_training_dataset(
            flat, offsets, length, lo, hi - lo, batch, steps, seed, rank, first, last
        ),
        validation=inputs.prefix_eval_dataset(vflat, voffsets, length, _validation_batch_size(batch), vlo, vhi - vlo),
        validation_items_this_rank=vhi - vlo,
        notes=notes,
    )


def load_rank_data(settings: dict, encoded_dir: Path, rank: int, size: int) -> TrainingData:
    """This rank's data for the experiment's task."""
    loaders = {
        "next_character": char_data,
        "next_character_sequence": char_data,
        "sequence_classification": sentence_data,
        "next_word": word_line_data,
        "sequence_regression": series_data,
    }
    return loaders[settings["task"]](settings, encoded_dir, rank, size)
