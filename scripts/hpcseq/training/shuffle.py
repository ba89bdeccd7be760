"""A stateless random permutation of [0, n): shuffling without materialising an index array.

Each rank needs, every epoch, a fresh random order of its windows. Materialising it costs 4-8
bytes per window (4-8x the corpus for a character model) and makes resuming in the middle of
an epoch depend on saved state. Instead, position p of epoch e maps to window
`permute(p, n, key(seed, rank, e))`: a 6-round Feistel network over the smallest even power of
two >= n, with cycle walking to stay inside [0, n). It is a bijection (every window exactly
once per epoch), needs O(1) memory, and any position can be computed directly, so a run
resumed at step s of epoch e sees exactly the batches the uninterrupted run would have seen.

TensorFlow's own `tf.random.experimental.index_shuffle` was measured first and rejected: its
consecutive outputs correlate (r = 0.41) and two epochs' orders correlate at r = 0.95 here,
while this network gives |r| < 0.001 for both (tests/training/test_inputs.py checks it).

The NumPy and TensorFlow versions compute identical values; NumPy serves tests and the
workflow environment (no TensorFlow there), TensorFlow serves the input pipeline.
"""

from __future__ import annotations

import numpy as np

ROUNDS = 6
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB
_GOLDEN = 0x9E3779B97F4A7C15
_MASK64 = (1 << 64) - 1


def _half_bits(n: int) -> int:
    bits = max(2, int(n - 1).bit_length())
    return (bits + 1) // 2


def mix64(value: int) -> int:
    """splitmix64's finaliser on a Python int (used to derive keys)."""
    value &= _MASK64
    value = ((value ^ (value >> 30)) * _M1) & _MASK64
    value = ((value ^ (value >> 27)) * _M2) & _MASK64
    return value ^ (value >> 31)


def round_keys(seed: int, rank: int, epoch: int) -> list[int]:
    base = mix64(mix64(mix64(seed) + rank * _GOLDEN) + (epoch + 1) * _GOLDEN)
    return [mix64(base + (r + 1) * _GOLDEN) for r in range(ROUNDS)]


# ------------------------------------------------------------------------------------------ NumPy


def _mix_np(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(_M1)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(_M2)
    return x ^ (x >> np.uint64(31))


def permute_np(positions, n: int, keys: list[int]) -> np.ndarray:
    """Window index for each position in [0, n) (NumPy reference implementation)."""
    half = np.uint64(_half_bits(n))
    mask = np.uint64((1 << int(half)) - 1)
    key_array = [np.uint64(k) for k in keys]

    def once(x):
        left, right = x >> half, x & mask
        for key in key_array:
            left, right = right, left ^ (_mix_np(right ^ key) & mask)
        return (left << half) | right

    x = once(np.asarray(positions, dtype=np.uint64))
    limit = np.uint64(n)
    outside = x >= limit
    while outside.any():
        x[outside] = once(x[outside])
        outside = x >= limit
    return x.astype(np.int64)


# ------------------------------------------------------------------------------------- TensorFlow


def _mix_tf(x):
    import tensorflow as tf

    shift = lambda bits: tf.constant(bits, tf.uint64)  # noqa: E731
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, shift(30))) * tf.constant(_M1, tf.uint64)
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, shift(27))) * tf.constant(_M2, tf.uint64)
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, shift(31)))


def permute_tf(positions, n, keys):
    """TensorFlow version of permute_np; `keys` is a uint64 tensor of ROUNDS round keys and `n`
    a Python int (the network's width is fixed when the pipeline is built)."""
    import tensorflow as tf

    half_bits = _half_bits(int(n))
    half = tf.constant(half_bits, tf.uint64)
    mask = tf.constant((1 << half_bits) - 1, tf.uint64)
    limit = tf.constant(int(n), tf.uint64)

    def once(x):
        left, right = tf.bitwise.right_shift(x, half), tf.bitwise.bitwise_and(x, mask)
        for r in range(ROUNDS):
            mixed = tf.bitwise.bitwise_and(_mix_tf(tf.bitwise.bitwise_xor(right, keys[r])), mask)
            left, right = right, tf.bitwise.bitwise_xor(left, mixed)
        return tf.bitwise.bitwise_or(tf.bitwise.left_shift(left, half), right)

    x = once(tf.cast(positions, tf.uint64))
    x = tf.while_loop(lambda x: tf.reduce_any(x >= limit), lambda x: [tf.where(x >= limit, once(x), x)], [x])[0]
    return tf.cast(x, tf.int64)


def round_keys_tf(seed: int, rank: int, epoch):
    """Round keys with the epoch as a tensor (the pipeline spans several epochs)."""
    import tensorflow as tf

    golden = tf.constant(_GOLDEN, tf.uint64)

    rank_part = tf.constant(mix64(mix64(seed) + rank * _GOLDEN), tf.uint64)
    base = _mix_tf(rank_part + (tf.cast(epoch, tf.uint64) + tf.constant(1, tf.uint64)) * golden)
    return tf.stack([_mix_tf(base + tf.constant(((r + 1) * _GOLDEN) & _MASK64, tf.uint64)) for r in range(ROUNDS)])
