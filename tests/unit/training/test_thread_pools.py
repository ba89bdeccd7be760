"""TensorFlow's thread pools per rank (training/distributed.py), which the benchmark's references
also take: the configured threads, else Slurm's CPUs per task, else the node's CPUs shared."""

from __future__ import annotations

import pytest

from hpcseq.training import distributed


@pytest.fixture
def eight_cpus(monkeypatch):
    monkeypatch.setattr(distributed, "cpus_available", lambda: 8)
    monkeypatch.delenv("SLURM_CPUS_PER_TASK", raising=False)


@pytest.mark.parametrize(
    ("threads", "local_ranks", "expected"),
    [(None, 1, (8, 4)), (None, 4, (2, 2)), (None, 16, (1, 2)), (3, 4, (3, 3)), (1, 1, (1, 2))],
)
def test_threads_are_configured_or_the_node_shared(eight_cpus, threads, local_ranks, expected):
    assert distributed.thread_pools(threads, local_ranks) == expected


def test_slurm_cpus_per_task_wins_over_sharing(eight_cpus, monkeypatch):
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "6")
    assert distributed.thread_pools(None, 4) == (6, 4)
    assert distributed.thread_pools(2, 4) == (2, 2)  # the config's value wins over Slurm's
