"""The input pipeline: windows equal the lecture's definition, every window once per epoch,
disjoint shards, stateless shuffling that matches the NumPy reference, padded sentences."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from hpcseq.training import inputs
from hpcseq.training.shuffle import permute_np, permute_tf, round_keys, round_keys_tf

TEXT = "first citizen: before we proceed any further, hear me speak. all: speak, speak."


def lecture_windows(text: str, seqlen: int, step: int):
    """The lecture's loop, verbatim in logic: inputs text[i:i+SEQLEN], label text[i+SEQLEN]."""
    input_chars, label_chars = [], []
    for i in range(0, len(text) - seqlen, step):
        input_chars.append(text[i : i + seqlen])
        label_chars.append(text[i + seqlen])
    return input_chars, label_chars


def encode(text):
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    return chars, np.array([index[c] for c in text], dtype=np.uint8)


def decode(chars, ids):
    return "".join(chars[int(i)] for i in ids)


@pytest.mark.parametrize("seqlen,step", [(10, 1), (10, 3), (5, 2), (1, 1)])
def test_windows_equal_the_lecture_definition(seqlen, step):
    chars, ids = encode(TEXT)
    expected_inputs, expected_labels = lecture_windows(TEXT, seqlen, step)
    assert inputs.window_count(len(ids), seqlen, step) == len(expected_inputs)
    got_inputs, got_labels = [], []
    for x, y in inputs.char_eval_dataset(ids, seqlen, step, batch_size=7):
        got_inputs += [decode(chars, row) for row in x.numpy()]
        got_labels += [decode(chars, [label]) for label in y.numpy()]
    assert got_inputs == expected_inputs
    assert got_labels == expected_labels


def test_one_training_epoch_visits_distinct_windows_and_the_next_epoch_reorders():
    ids = np.arange(250, dtype=np.uint8)  # id == position, so a window's first id is its start
    seqlen, step, batch = 10, 1, 8
    count = inputs.window_count(len(ids), seqlen, step)
    steps = count // batch
    dataset = inputs.char_training_dataset(
        ids, seqlen, step, batch, steps, seed=3, rank=0, first_step=0, last_step=2 * steps
    )
    starts = [x.numpy()[:, 0] for x, _ in dataset]
    assert len(starts) == 2 * steps
    epoch1, epoch2 = np.concatenate(starts[:steps]), np.concatenate(starts[steps:])
    for epoch in (epoch1, epoch2):
        assert len(set(epoch.tolist())) == steps * batch  # no window twice in an epoch
        assert epoch.min() >= 0 and epoch.max() < count
    assert not np.array_equal(epoch1, epoch2)  # reshuffled every epoch
    # with steps * batch == count every window is visited exactly once
    exact = inputs.char_training_dataset(ids[: seqlen + 1 + 39], seqlen, step, 8, 5, 3, 0, 0, 5)
    visited = np.concatenate([x.numpy()[:, 0] for x, _ in exact])
    assert sorted(visited.tolist()) == list(range(40))


def test_training_batch_positions_follow_the_permutation_exactly():
    """A batch is a pure function of (epoch, step): resuming at any step gives the same data."""
    ids = np.arange(200, dtype=np.uint8)
    seqlen, step, batch, steps = 4, 1, 10, 5
    full = [x.numpy() for x, _ in inputs.char_training_dataset(ids, seqlen, step, batch, steps, 9, 1, 0, 3 * steps)]
    resumed = [x.numpy() for x, _ in inputs.char_training_dataset(ids, seqlen, step, batch, steps, 9, 1, 7, 3 * steps)]
    for a, b in zip(full[7:], resumed, strict=True):
        np.testing.assert_array_equal(a, b)
    count = inputs.window_count(len(ids), seqlen, step)
    for global_step, x in enumerate(full):
        epoch, within = divmod(global_step, steps)
        expected_starts = permute_np(within * batch + np.arange(batch), count, round_keys(9, 1, epoch))
        np.testing.assert_array_equal(x[:, 0], expected_starts)  # ids == positions here


def test_chunks_of_steps_cover_the_range_and_never_cross_an_epoch():
    bounds = inputs.chunk_bounds(steps=5, first_step=3, last_step=17, chunk_steps=4)
    assert bounds.tolist() == [[3, 5], [5, 9], [9, 10], [10, 14], [14, 15], [15, 17]]
    assert inputs.chunk_bounds(5, 4, 4, 32).shape == (0, 2)


@pytest.mark.parametrize("chunk_steps", [1, 2, 3, 32])
def test_batches_made_in_chunks_equal_batches_made_one_by_one(chunk_steps):
    """Whatever the chunk, step s of epoch e is the same batch (resuming and the weights digest
    depend on it); the reference is the permutation applied to each step alone."""
    ids = np.arange(230, dtype=np.uint8)
    seqlen, batch, steps = 3, 7, 4
    count = inputs.window_count(len(ids), seqlen, 1)
    dataset = inputs.char_training_dataset(
        ids, seqlen, 1, batch, steps, 5, 2, 2, 11, per_step=True, chunk_steps=chunk_steps
    )
    got = [(x.numpy(), y.numpy()) for x, y in dataset]
    assert len(got) == 9 and dataset.cardinality().numpy() == 9
    for global_step, (x, y) in zip(range(2, 11), got, strict=True):
        epoch, within = divmod(global_step, steps)
        starts = permute_np(within * batch + np.arange(batch), count, round_keys(5, 2, epoch))
        np.testing.assert_array_equal(x, starts[:, None] + np.arange(seqlen))
        np.testing.assert_array_equal(y, starts[:, None] + 1 + np.arange(seqlen))


def test_a_chunk_of_large_batches_is_capped_in_bytes(monkeypatch):
    monkeypatch.setattr(inputs, "CHUNK_BYTES", 3 * (8 * 5 * 4 + 8 * 4))  # 3 batches: 8 windows of 5, 8 targets (int32)
    make_batch = inputs._window_maker(np.arange(100, dtype=np.uint8), 5, 1)
    assert inputs._chunk_steps(make_batch, 8) == 3


@pytest.mark.parametrize("n", [1, 2, 5, 64, 1000, 4097, 65537])
def test_tensorflow_permutation_matches_numpy_reference(n):
    positions = np.arange(n)
    for epoch in (0, 3):
        expected = permute_np(positions, n, round_keys(42, 1, epoch))
        got = permute_tf(tf.constant(positions, tf.int64), n, round_keys_tf(42, 1, tf.constant(epoch, tf.int64)))
        np.testing.assert_array_equal(got.numpy(), expected)
        assert sorted(expected.tolist()) == list(range(n))


def test_permutation_is_well_mixed():
    n = 200_000
    a = permute_np(np.arange(n), n, round_keys(1, 0, 0)).astype(float)
    b = permute_np(np.arange(n), n, round_keys(1, 0, 1)).astype(float)
    assert abs(np.corrcoef(a[:-1], a[1:])[0, 1]) < 0.01
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.01
    batch_means = a[: n // 128 * 128].reshape(-1, 128).mean(axis=1)
    assert batch_means.std() == pytest.approx(n / np.sqrt(12 * 128), rel=0.1)


@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_window_shards_are_disjoint_and_cover_all_windows(size):
    length, seqlen, step = 1000, 10, 3
    total = inputs.window_count(length, seqlen, step)
    seen = []
    for rank in range(size):
        shard = inputs.WindowShard.for_rank(length, seqlen, step, rank, size)
        windows = list(range(shard.first_window, shard.first_window + shard.windows))
        seen += windows
        # the characters loaded hold exactly this shard's windows
        assert inputs.window_count(shard.char_stop - shard.char_start, seqlen, step) == shard.windows
        assert shard.char_start == shard.first_window * step
    assert sorted(seen) == list(range(total))
    assert len(set(seen)) == total


def test_pad_sentences_matches_keras_pad_sequences():
    sentences = [[5, 6, 7], [], [1, 2, 3, 4, 5, 6], [9]]
    flat = np.array([t for s in sentences for t in s], dtype=np.uint16)
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sentences])]).astype(np.int64)
    for padding in ("pre", "post"):
        expected = tf.keras.preprocessing.sequence.pad_sequences(
            sentences, maxlen=4, padding=padding, truncating=padding
        )
        np.testing.assert_array_equal(inputs.pad_sentences(flat, offsets, 4, padding), expected)


def test_strided_sentence_shards_are_disjoint():
    shards = [set(inputs.strided_shard(11, rank, 3).tolist()) for rank in range(3)]
    assert set.union(*shards) == set(range(11))
    assert sum(len(s) for s in shards) == 11


def test_too_small_data_is_a_clear_error():
    from hpcseq.errors import InputDataError

    with pytest.raises(InputDataError, match="fewer than one batch"):
        inputs.char_training_dataset(np.zeros(12, np.uint8), 10, 1, 8, 1, 0, 0, 0, 1)


# --------------------------------------------------------------------- line prefixes (word models)

VERSE = [
    "From fairest creatures we desire increase,",
    "That thereby beauty's rose might never die,",
    "Pity",
    "But as the riper should by time decease,",
    "His tender heir might bear his memory: but thou, contracted to thine own bright eyes",
]


def course_samples(lines, maxlen=None):
    """The poetry notebook of "TensorFlow in Practice", verbatim in logic: Tokenizer on the lowercased
    lines, every prefix of 2 or more words of a line, pad_sequences (pre) to the longest, the last
    word the label; as words."""
    from tensorflow.keras.preprocessing.sequence import pad_sequences
    from tensorflow.keras.preprocessing.text import Tokenizer

    corpus = [line.lower() for line in lines]
    tokenizer = Tokenizer()
    tokenizer.fit_on_texts(corpus)
    input_sequences = []
    for line in corpus:
        token_list = tokenizer.texts_to_sequences([line])[0]
        for i in range(1, len(token_list)):
            input_sequences.append(token_list[: i + 1])
    max_sequence_len = maxlen or max(len(x) for x in input_sequences)
    padded = np.array(pad_sequences(input_sequences, maxlen=max_sequence_len, padding="pre"))
    words = {index: word for word, index in tokenizer.word_index.items()}
    predictors = [[words.get(int(i), "<pad>") for i in row] for row in padded[:, :-1]]
    return predictors, [words[int(i)] for i in padded[:, -1]], max_sequence_len


@pytest.mark.parametrize("sequence_length", [None, 4])
def test_line_prefixes_cut_in_tf_data_equal_the_course_notebook(sequence_length):
    from hpcseq.data.text_lines import tokenize_words
    from hpcseq.data.vocabulary import build_word_vocabulary

    expected_inputs, expected_labels, longest = course_samples(VERSE, sequence_length and sequence_length + 1)
    lines = [tokenize_words(line.lower()) for line in VERSE]
    vocabulary = build_word_vocabulary(lines, None)
    ids = [vocabulary.encode(tokens) for tokens in lines]
    offsets = np.concatenate([[0], np.cumsum([len(row) for row in ids])])
    flat = np.array([i for row in ids for i in row], dtype=np.uint16)
    assert inputs.prefix_count(offsets) == len(expected_labels)
    got_inputs, got_labels = [], []
    for x, y in inputs.prefix_eval_dataset(flat, offsets, longest - 1, batch_size=7):
        got_inputs += [[vocabulary.words[i] for i in row] for row in x.numpy()]
        got_labels += [vocabulary.words[i] for i in y.numpy()]
    assert got_inputs == expected_inputs  # "<pad>" where the notebook pads with 0; a long prefix keeps its end
    assert got_labels == expected_labels


def test_each_rank_trains_on_its_own_block_of_prefixes_once_per_epoch():
    offsets = np.array([0, 5, 6, 9, 20, 27, 40], dtype=np.int64)  # a line of one word gives no sample
    flat = np.arange(40, dtype=np.uint16)  # id == position: the target says which sample it is
    total = inputs.prefix_count(offsets)
    assert total == 4 + 0 + 2 + 10 + 6 + 12
    seen = []
    for rank in range(2):
        lo, hi = inputs.contiguous_shard(total, rank, 2)
        steps = (hi - lo) // 3
        dataset = inputs.prefix_training_dataset(flat, offsets, 5, lo, hi - lo, 3, steps, 7, rank, 0, steps)
        targets = np.concatenate([y.numpy() for _, y in dataset]).tolist()
        assert len(set(targets)) == steps * 3  # no sample twice in an epoch
        seen.append(set(targets))
    assert not seen[0] & seen[1]
    line_starts = set(offsets[:-1].tolist())
    assert not (seen[0] | seen[1]) & line_starts  # a line's first word is never a target
