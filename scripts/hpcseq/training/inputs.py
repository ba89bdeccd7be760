"""tf.data input pipelines: windows, padded sentences and time-series windows, sharded by rank,
shuffled statelessly.

Memory stays proportional to the data: the character pipeline holds only this rank's slice of
the encoded corpus (1 byte per character for <= 256 symbols) and cuts each batch's windows with
one gather, so neither one-hot arrays nor the list of windows ever exist. A batch is a pure
function of (epoch, step): the pipeline over all remaining steps of a run maps chunks of steps
(`chunk_bounds`) to their batches and hands them out one by one; it needs no shuffle buffer,
feeds the model faster than it trains (see `make benchmark`), and restarts exactly at any step.

Time-series windows are cut the same way, with one gather from the rows by each window's first
row (a list of ints, one per window: the windows themselves are never stored).

Windows follow the lecture's definition: for a text of N characters, window i (i = 0, step,
2*step, ... while i + L < N) is text[i:i+L] and its target is text[i+L].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from hpcseq.errors import InputDataError
from hpcseq.training.shuffle import permute_tf, round_keys_tf

# ------------------------------------------------------------------------------------- sharding


def contiguous_shard(count: int, rank: int, size: int) -> tuple[int, int]:
    """[lo, hi) of `count` items for `rank`: contiguous blocks whose sizes differ by at most one."""
    return count * rank // size, count * (rank + 1) // size


def window_count(length: int, sequence_length: int, step: int) -> int:
    """Number of windows (with a target) in a text of `length` characters."""
    if length <= sequence_length:
        return 0
    return (length - sequence_length - 1) // step + 1


@dataclass(frozen=True)
class WindowShard:
    """The windows one rank owns, and the characters it must load for them."""

    first_window: int
    windows: int
    char_start: int
    char_stop: int

    @classmethod
    def for_rank(cls, length: int, sequence_length: int, step: int, rank: int, size: int) -> WindowShard:
        total = window_count(length, sequence_length, step)
        lo, hi = contiguous_shard(total, rank, size)
        if hi <= lo:
            return cls(lo, 0, 0, 0)
        return cls(lo, hi - lo, lo * step, (hi - 1) * step + sequence_length + 1)


def steps_per_epoch(items_per_rank_min: int, batch_size: int, max_steps: int | None) -> int:
    steps = items_per_rank_min // batch_size
    if max_steps is not None:
        steps = min(steps, max_steps)
    return steps


# -------------------------------------------------------------------------------- batching core


# Steps of one chunk: the pipeline makes this many batches with one call of its function, which
# costs about a third of the CPU of making them one by one (tf.data runs the function's ~80 small
# ops once per call); `make benchmark` measures what it buys in training. Capped so that a chunk
# stays under CHUNK_BYTES.
CHUNK_STEPS = 32
CHUNK_BYTES = 8 * 2**20


def chunk_bounds(steps: int, first_step: int, last_step: int, chunk_steps: int) -> np.ndarray:
    """[start, stop) of each chunk of global steps [first_step, last_step): at most `chunk_steps`
    steps each, never across an epoch's end (one chunk, one epoch's permutation)."""
    bounds = []
    start = first_step
    while start < last_step:
        stop = min(last_step, (start // steps + 1) * steps, start + chunk_steps)
        bounds.append((start, stop))
        start = stop
    return np.array(bounds, dtype=np.int64).reshape(-1, 2)


def _chunk_steps(make_batch, batch_size: int, chunk_steps: int = CHUNK_STEPS) -> int:
    """`chunk_steps`, fewer where one batch is large (a long window of many features)."""
    example = make_batch(tf.range(batch_size, dtype=tf.int64))
    batch_bytes = sum(t.shape.num_elements() * t.dtype.size for t in tf.nest.flatten(example))
    return max(1, min(chunk_steps, CHUNK_BYTES // max(1, batch_bytes)))


def _per_step(tensor, batch_size: int):
    """(chunk * B, ...) -> (chunk, B, ...), keeping the static shape of the items (an unrolled
    recurrent layer needs its number of time steps known when the model is traced)."""
    shaped = tf.reshape(tensor, tf.concat([[-1, batch_size], tf.shape(tensor)[1:]], 0))
    shaped.set_shape([None, batch_size, *tensor.shape[1:]])
    return shaped


def _training_batches(
    count: int,
    batch_size: int,
    steps: int,
    seed: int,
    rank: int,
    first_step: int,
    last_step: int,
    make_batch,
    chunk_steps: int = CHUNK_STEPS,
) -> tf.data.Dataset:
    """Global steps [first_step, last_step) -> batches; epoch = step // steps.

    Step s of epoch e takes positions [s*B, (s+1)*B) of epoch e's permutation of this rank's
    `count` items, so every epoch visits a fresh random subset of steps*B distinct items. The
    batches are made a chunk of steps at a time (one permutation and one gather for all of them)
    and then handed out one by one: the same batches as one at a time, for less CPU per step.
    """
    if count < batch_size or steps < 1:
        raise InputDataError("training split", f"{count} items on this rank, fewer than one batch of {batch_size}")
    offsets = tf.range(batch_size, dtype=tf.int64)

    def chunk_at(bounds):
        start, stop = bounds[0], bounds[1]
        keys = round_keys_tf(seed, rank, start // steps)  # a chunk lies inside one epoch
        positions = (tf.range(start, stop) % steps)[:, None] * batch_size + offsets[None, :]
        batches = make_batch(permute_tf(tf.reshape(positions, [-1]), count, keys))
        return tf.nest.map_structure(lambda t: _per_step(t, batch_size), batches)

    bounds = chunk_bounds(steps, first_step, last_step, _chunk_steps(make_batch, batch_size, chunk_steps))
    dataset = tf.data.Dataset.from_tensor_slices(bounds)
    # One chunk made while the model trains on the last (a sequential map, a fixed prefetch), and
    # tf.data's autotuner off: on 2 cores its threads competed with the model's, and a char-RNN
    # step ran at 0.7 of the speed (docs/developing/benchmark.md).
    dataset = dataset.map(chunk_at).prefetch(1)
    dataset = dataset.unbatch().apply(tf.data.experimental.assert_cardinality(max(0, last_step - first_step)))
    return _without_autotune(dataset.prefetch(2))


def _without_autotune(dataset: tf.data.Dataset) -> tf.data.Dataset:
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def _sequential_batches(count: int, batch_size: int, make_batch) -> tf.data.Dataset:
    """All `count` items in order, the last batch possibly smaller (for validation and test)."""
    batches = -(-count // batch_size)

    def batch_at(index):
        start = index * batch_size
        stop = tf.minimum(start + batch_size, count)
        return make_batch(tf.range(start, stop, dtype=tf.int64))

    # sequential, autotuner off, as the training batches (validation runs between training epochs)
    return _without_autotune(tf.data.Dataset.range(batches).map(batch_at).prefetch(2))


# ------------------------------------------------------------------------------------ characters


def _window_maker(ids: np.ndarray, sequence_length: int, step: int, per_step: bool = False):
    """Window i: text[i*step : i*step+L], its target text[i*step+L]; per step (a per-step task),
    the window shifted by one, text[i*step+1 : i*step+L+1] (the same characters are needed)."""
    ids_tensor = tf.constant(ids)  # this rank's slice only; uint8 for small vocabularies
    window_offsets = tf.range(sequence_length, dtype=tf.int64)

    def make_batch(window_indices):
        starts = window_indices * step
        inputs = tf.gather(ids_tensor, starts[:, None] + window_offsets[None, :])
        if per_step:
            targets = tf.gather(ids_tensor, starts[:, None] + 1 + window_offsets[None, :])
        else:
            targets = tf.gather(ids_tensor, starts + sequence_length)
        return tf.cast(inputs, tf.int32), tf.cast(targets, tf.int32)

    return make_batch


def char_training_dataset(
    ids: np.ndarray,
    sequence_length: int,
    step: int,
    batch_size: int,
    steps: int,
    seed: int,
    rank: int,
    first_step: int,
    last_step: int,
    per_step: bool = False,
    chunk_steps: int = CHUNK_STEPS,
) -> tf.data.Dataset:
    """Shuffled training batches of (windows, next characters) from this rank's ids; made
    `chunk_steps` batches per call (the benchmark compares 1 with the default)."""
    count = window_count(len(ids), sequence_length, step)
    make_batch = _window_maker(ids, sequence_length, step, per_step)
    return _training_batches(count, batch_size, steps, seed, rank, first_step, last_step, make_batch, chunk_steps)


def char_eval_dataset(
    ids: np.ndarray, sequence_length: int, step: int, batch_size: int, per_step: bool = False
) -> tf.data.Dataset:
    count = window_count(len(ids), sequence_length, step)
    return _sequential_batches(count, batch_size, _window_maker(ids, sequence_length, step, per_step))


# ------------------------------------------------------------------------------------- sentences


def pad_sentences(flat_ids: np.ndarray, offsets: np.ndarray, length: int, padding: str = "pre") -> np.ndarray:
    """(n, length) int32 matrix like Keras' pad_sequences(maxlen=length, padding=p, truncating=p).

    The lecture used pad_sequences' defaults: pad and truncate at the front ("pre"), which keeps
    the end of long sentences.
    """
    n = len(offsets) - 1
    keep = np.minimum(np.diff(offsets), length)  # tokens kept per sentence
    rows = np.repeat(np.arange(n), keep)
    within = np.arange(int(keep.sum())) - np.repeat(np.cumsum(keep) - keep, keep)
    if padding == "pre":
        source = np.repeat(offsets[1:] - keep, keep) + within  # the last `keep` tokens
        column = np.repeat(length - keep, keep) + within  # right-aligned
    else:
        source = np.repeat(offsets[:-1], keep) + within  # the first `keep` tokens
        column = within  # left-aligned
    matrix = np.zeros((n, length), dtype=np.int32)
    matrix[rows, column] = flat_ids[source]
    return matrix


def strided_shard(count: int, rank: int, size: int) -> np.ndarray:
    """Indices rank, rank+size, ...: sentence files are often sorted by label, so contiguous
    blocks would give each rank one class."""
    return np.arange(rank, count, size, dtype=np.int64)


def _sentence_maker(matrix: np.ndarray, labels: np.ndarray):
    inputs_tensor = tf.constant(matrix)
    labels_tensor = tf.constant(labels.astype(np.float32))

    def make_batch(indices):
        return tf.gather(inputs_tensor, indices), tf.gather(labels_tensor, indices)

    return make_batch


def sentence_training_dataset(
    matrix: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    steps: int,
    seed: int,
    rank: int,
    first_step: int,
    last_step: int,
) -> tf.data.Dataset:
    return _training_batches(
        len(labels), batch_size, steps, seed, rank, first_step, last_step, _sentence_maker(matrix, labels)
    )


def sentence_eval_dataset(matrix: np.ndarray, labels: np.ndarray, batch_size: int) -> tf.data.Dataset:
    return _sequential_batches(len(labels), batch_size, _sentence_maker(matrix, labels))


# ----------------------------------------------------------------------------- lines of words


def prefix_sample_starts(offsets: np.ndarray) -> np.ndarray:
    """Cumulative count of samples before each line (length lines + 1): a line of n words gives
    the n - 1 samples of the course, its prefixes of 2 to n words (the last word the target)."""
    samples = np.maximum(np.diff(offsets) - 1, 0)
    return np.concatenate([[0], np.cumsum(samples)]).astype(np.int64)


def prefix_count(offsets: np.ndarray) -> int:
    return int(prefix_sample_starts(offsets)[-1])


def _prefix_maker(flat_ids: np.ndarray, offsets: np.ndarray, sequence_length: int, first: int = 0):
    """Samples cut inside the graph from the flat word ids and the line offsets: sample s (plus
    `first`, this rank's first) is found in its line by a binary search over the per-line sample
    counts; its input is the `sequence_length` words before its target, pre-padded with PAD (0)
    where the line starts later (Keras' pad_sequences, pre: a longer prefix keeps its last words).
    Only the ids and two arrays per line are held: no padded matrix of all prefixes exists."""
    ids_tensor = tf.constant(flat_ids)
    line_offsets = tf.constant(offsets.astype(np.int64))
    sample_starts = tf.constant(prefix_sample_starts(offsets))
    window_offsets = tf.range(-sequence_length, 0, dtype=tf.int64)

    def make_batch(indices):
        samples = indices + first
        line = tf.searchsorted(sample_starts, samples, side="right") - 1
        line_start = tf.gather(line_offsets, line)
        target = line_start + 1 + samples - tf.gather(sample_starts, line)
        positions = target[:, None] + window_offsets[None, :]
        inside = positions >= line_start[:, None]
        words = tf.gather(ids_tensor, tf.maximum(positions, 0))
        inputs = tf.where(inside, tf.cast(words, tf.int32), tf.zeros_like(positions, tf.int32))
        return inputs, tf.cast(tf.gather(ids_tensor, target), tf.int32)

    return make_batch


def prefix_training_dataset(
    flat_ids, offsets, sequence_length, first, count, batch_size, steps, seed, rank, first_step, last_step
) -> tf.data.Dataset:
    """Shuffled training batches of (pre-padded prefixes, next words) of this rank's `count`
    samples from sample `first` on."""
    make_batch = _prefix_maker(flat_ids, offsets, sequence_length, first)
    return _training_batches(count, batch_size, steps, seed, rank, first_step, last_step, make_batch)


def prefix_eval_dataset(flat_ids, offsets, sequence_length, batch_size, first: int = 0, count=None) -> tf.data.Dataset:
    count = prefix_count(offsets) - first if count is None else count
    return _sequential_batches(count, batch_size, _prefix_maker(flat_ids, offsets, sequence_length, first))


# ----------------------------------------------------------------------------------- time series


def _series_window_maker(
    values: np.ndarray, starts: np.ndarray, sequence_length: int, sampling_step: int, horizon: int, target: int
):
    """Batches of (windows, targets) from this rank's rows: window i holds the rows starts[i],
    starts[i] + sampling_step, ... (sequence_length of them, every feature); its target is the
    target column `horizon` time steps after its last row. `starts` lists only windows inside one
    run of the time index (hpcseq.data.time_series.window_starts), so none spans a gap."""
    values_tensor = tf.constant(values)  # (rows, features) float32: this rank's rows only
    target_tensor = tf.constant(values[:, target])
    starts_tensor = tf.constant(starts)
    offsets = tf.range(sequence_length, dtype=tf.int64) * sampling_step
    target_offset = (sequence_length - 1 + horizon) * sampling_step

    def make_batch(indices):
        first = tf.gather(starts_tensor, indices)
        inputs = tf.gather(values_tensor, first[:, None] + offsets[None, :])
        return inputs, tf.gather(target_tensor, first + target_offset)

    return make_batch


def series_training_dataset(
    values: np.ndarray,
    starts: np.ndarray,
    windows: dict,
    batch_size: int,
    steps: int,
    seed: int,
    rank: int,
    first_step: int,
    last_step: int,
) -> tf.data.Dataset:
    """Shuffled training batches of (windows, targets); `windows`: sequence_length,
    sampling_step, horizon and the target column's index."""
    return _training_batches(
        len(starts),
        batch_size,
        steps,
        seed,
        rank,
        first_step,
        last_step,
        _series_window_maker(values, starts, **windows),
    )


def series_eval_dataset(values: np.ndarray, starts: np.ndarray, windows: dict, batch_size: int) -> tf.data.Dataset:
    return _sequential_batches(len(starts), batch_size, _series_window_maker(values, starts, **windows))
