"""The smoke test of a cluster's software route (`hpcseq smoke-test` writes the job that runs it):
on every rank of a short multi-node job, run as `python -m hpcseq.cluster.smoke` where training
would run (after the setup lines, inside the container on the container route), it checks

    imports    TensorFlow, Horovod's TensorFlow binding and hpcseq's own dependencies import
    gpus       TensorFlow sees the GPUs the node should give each rank (how many, on every rank)
    horovod    Horovod initialises with the expected ranks on the expected number of hosts
    allreduce  one allreduce (sum) of each rank's rank number gives n(n-1)/2 on every rank

Rank 0 prints one line per check (events.SMOKE_CHECK: `hpcseq smoke-test PASS|FAIL <check>: ...`,
which `hpcseq logs` reads back), then the verdict `all`; every rank exits 1 when a check failed.
A new account or software stage is checked in minutes on the development partition, before a
training job waits in the queue for hours and fails at its first import.

This module runs in the training environment (TensorFlow, Horovod) and imports them itself; the
rest of hpcseq.cluster does not import it.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

from hpcseq.events import SMOKE_CHECK, ranks_by_host_text

# The variables launchers set to a process's global rank (srun, Open MPI, PMIx, horovodrun):
# before Horovod is initialised, they tell rank 0 (the one that prints) from the others.
RANK_VARIABLES = ("HOROVOD_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID")


def report(result: bool, check: str, detail: str) -> bool:
    print(SMOKE_CHECK.text(result="PASS" if result else "FAIL", check=check, detail=detail), flush=True)
    return result


def _rank_before_init() -> int:
    for name in RANK_VARIABLES:
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 0


def check_imports():
    """(tensorflow, horovod.tensorflow, versions text), or None once the FAIL line is printed."""
    try:
        import horovod
        import horovod.tensorflow as hvd
        import jsonschema  # noqa: F401  hpcseq's own dependencies (pyproject.toml)
        import tensorflow as tf
        import yaml  # noqa: F401
    except Exception as error:  # any failure to import is the finding
        if _rank_before_init() == 0:
            report(False, "imports", f"{type(error).__name__}: {error} (python {sys.version.split()[0]})")
        return None
    versions = f"tensorflow {tf.__version__}, horovod {horovod.__version__}, python {sys.version.split()[0]}"
    return tf, hvd, versions


def run_checks(expect_ranks: int, expect_nodes: int, expect_gpus: int) -> bool:
    """Every check; True when all passed (the same answer on every rank)."""
    found = check_imports()
    if found is None:
        return False
    tf, hvd, versions = found
    hvd.init()
    rank, size = hvd.rank(), hvd.size()
    gpus = len(tf.config.list_physical_devices("GPU"))
    # every rank's host and GPU count, on every rank
    seen = hvd.allgather_object((socket.gethostname(), gpus), name="smoke_hosts")
    hosts = [host for host, _ in seen]
    total = hvd.allreduce(tf.constant(float(rank), dtype=tf.float64), op=hvd.Sum, name="smoke_sum")
    expected_sum = size * (size - 1) // 2
    results = _results(rank, versions, seen, hosts, (size, expect_ranks, expect_nodes, expect_gpus))
    summed = float(total.numpy())
    results.append(
        (
            summed == expected_sum,
            "allreduce",
            f"sum of the ranks {summed:g}, expected {expected_sum} (n(n-1)/2, n={size})",
        )
    )
    if rank == 0:
        for passed, check, detail in results:
            report(passed, check, detail)
        failed = [check for passed, check, _ in results if not passed]
        report(not failed, "all", f"failed: {', '.join(failed)}" if failed else f"{len(results)} checks passed")
    return all(passed for passed, _, _ in results)


def _results(rank: int, versions: str, seen: list, hosts: list[str], expected: tuple[int, int, int, int]) -> list:
    """(passed, check, detail) of imports, gpus and horovod, from what every rank reported."""
    size, expect_ranks, expect_nodes, expect_gpus = expected
    counts = sorted({gpus for _, gpus in seen})
    fewest = counts[0]
    where = "on every rank" if len(counts) == 1 else f"per rank: {', '.join(map(str, counts))} (ranks differ)"
    if expect_gpus:
        gpus_detail = f"TensorFlow sees {fewest} GPU(s) {where}; expected {expect_gpus}"
    else:
        gpus_detail = f"TensorFlow sees {fewest} GPU(s) {where}; none expected (--expect-gpus 0)"
    nodes = len(set(hosts))
    return [
        (True, "imports", versions),
        (fewest >= expect_gpus, "gpus", gpus_detail),
        (
            size == expect_ranks and nodes == expect_nodes,
            "horovod",
            f"{size} rank(s) on {nodes} host(s), expected {expect_ranks} on {expect_nodes}: "
            + ranks_by_host_text(hosts, 8),
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hpcseq.cluster.smoke", description=__doc__.splitlines()[0])
    parser.add_argument("--expect-ranks", type=int, required=True, help="Horovod ranks the job starts")
    parser.add_argument("--expect-nodes", type=int, required=True, help="hosts they run on")
    parser.add_argument("--expect-gpus", type=int, default=0, help="GPUs TensorFlow should see on each rank")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return 0 if run_checks(args.expect_ranks, args.expect_nodes, args.expect_gpus) else 1


if __name__ == "__main__":
    sys.exit(main())
