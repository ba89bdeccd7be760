"""hpcseq.training.shuffle (NumPy part): the stateless Feistel permutation and its keys."""

from __future__ import annotations

import numpy as np
import pytest

from hpcseq.training.shuffle import ROUNDS, _mix_np, mix64, permute_np, round_keys

SIZES = [1, 2, 3, 7, 100, 1000, 4097]


def order(n, seed=42, rank=0, epoch=0):
    return permute_np(np.arange(n), n, round_keys(seed, rank, epoch))


def test_mix64_is_the_splitmix64_finaliser():
    # splitmix64 seeded with 0 yields mix64(k * golden) for k = 1, 2, ...; its published first outputs:
    golden = 0x9E3779B97F4A7C15
    assert mix64(golden) == 0xE220A8397B1DCDAF
    assert mix64(2 * golden) == 0x6E789E6AA1B965F4
    assert mix64(0) == 0
    assert mix64(1 << 64) == mix64(0)  # works modulo 2**64


def test_numpy_mix_equals_the_python_mix():
    values = np.random.default_rng(0).integers(0, 2**64, size=1000, dtype=np.uint64)
    mixed = _mix_np(values.copy())
    assert [int(v) for v in mixed] == [mix64(int(v)) for v in values]


def test_round_keys_are_deterministic_and_distinct():
    keys = round_keys(42, 0, 0)
    assert len(keys) == ROUNDS
    assert all(0 <= k < 2**64 for k in keys)
    assert len(set(keys)) == ROUNDS
    assert round_keys(42, 0, 0) == keys
    others = [round_keys(43, 0, 0), round_keys(42, 1, 0), round_keys(42, 0, 1)]
    for other in others:
        assert not set(other) & set(keys)


@pytest.mark.parametrize("n", SIZES)
def test_permutation_of_range(n):
    for seed, rank, epoch in ((42, 0, 0), (1, 3, 7)):
        result = order(n, seed, rank, epoch)
        assert result.dtype == np.int64
        assert result.shape == (n,)
        assert sorted(result.tolist()) == list(range(n))


@pytest.mark.parametrize("n", SIZES)
def test_deterministic(n):
    np.testing.assert_array_equal(order(n), order(n))


def test_any_position_can_be_computed_alone():
    n = 4097
    keys = round_keys(5, 1, 2)
    full = permute_np(np.arange(n), n, keys)
    positions = [4096, 0, 17, 2048, 17]
    np.testing.assert_array_equal(permute_np(positions, n, keys), full[positions])
    assert permute_np([123], n, keys)[0] == full[123]


@pytest.mark.parametrize("n", [100, 1000, 4097])
def test_epochs_and_ranks_give_different_orders(n):
    base = order(n)
    for other in (order(n, epoch=1), order(n, epoch=2), order(n, rank=1), order(n, seed=43)):
        assert sorted(other.tolist()) == list(range(n))
        # far from the same order: only about one position in n agrees by chance
        assert np.mean(other == base) < 0.05


def test_small_sizes_are_shuffled_across_epochs():
    # for n = 7 there are 5040 orders: ten epochs should not all give the same one
    orders = {tuple(order(7, epoch=e)) for e in range(10)}
    assert len(orders) > 5


def test_consecutive_outputs_and_epochs_are_uncorrelated():
    n = 100_000
    first = order(n).astype(np.float64)
    second = order(n, epoch=1).astype(np.float64)
    assert abs(np.corrcoef(first[:-1], first[1:])[0, 1]) < 0.01
    assert abs(np.corrcoef(first, second)[0, 1]) < 0.01
    assert abs(np.corrcoef(first, np.arange(n))[0, 1]) < 0.01  # not close to the identity either
