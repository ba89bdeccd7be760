"""The smoke test of a cluster's software route (`hpcseq smoke-test` writes the job that runs it):
on every rank of a short multi-node job, run as `python -m hpcseq.cluster.smoke` where training
would run (after the setup lines, inside the container on the container route), it checks

    python         the interpreter is within hpcseq's supported range (stack.PYTHON_RANGE: 3.11-3.13;
                   Stage 2025's Python module and the image of envs/hpcseq.def are 3.12)
    keras          TF_USE_LEGACY_KERAS=1 is set and `tf.keras` is tf_keras 2.x (hpcseq's models are Keras 2)
    horovod_build  what Horovod was built with: NCCL (needed when GPUs are expected: the NCCL variant is
                   built where no GPU is, so the first GPU node is where it is proven), MPI and Gloo (the
                   controller the launcher needs: MPI under srun, Gloo under horovodrun)
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

from hpcseq import stack
from hpcseq.events import SMOKE_CHECK, SMOKE_CHECKS, ranks_by_host_text

# The variables launchers set to a process's global rank (srun, Open MPI, PMIx, horovodrun):
# before Horovod is initialised, they tell rank 0 (the one that prints) from the others.
RANK_VARIABLES = ("HOROVOD_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID")
# The checks of the stack that run first (events.SMOKE_CHECKS gives the order of all).
FIRST_CHECKS = SMOKE_CHECKS[:3]
# Set by horovodrun for its ranks: Horovod then uses Gloo's rendezvous; without it (srun), MPI.
GLOO_RENDEZVOUS_VARIABLE = "HOROVOD_GLOO_RENDEZVOUS_ADDR"


def report(result: bool, check: str, detail: str) -> bool:
    print(SMOKE_CHECK.text(result="PASS" if result else "FAIL", check=check, detail=detail), flush=True)
    return result


def _rank_before_init() -> int:
    for name in RANK_VARIABLES:
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 0


def _version_text(parts) -> str:
    return ".".join(str(part) for part in parts)


def python_result(version: tuple | None = None) -> tuple[bool, str, str]:
    """(passed, "python", detail): the interpreter (default: this one) against hpcseq's supported range."""
    version = tuple(sys.version_info[:3]) if version is None else tuple(version)
    low, high = stack.PYTHON_RANGE
    passed = stack.python_supported(tuple(version[:2]))
    supported = f"hpcseq supports {_version_text(low)} to {_version_text(high)}"
    return passed, "python", f"python {_version_text(version)}; {supported}"


def keras_result(switch: str | None, keras: dict) -> tuple[bool, str, str]:
    """(passed, "keras", detail) from TF_USE_LEGACY_KERAS's value and stack.keras_in_use(tf)
    ({"package": ..., "version": ...}, or {"error": ...} when tf.keras could not be loaded)."""
    setting = f"{stack.KERAS_SWITCH}={switch}" if switch is not None else f"{stack.KERAS_SWITCH} unset"
    if "error" in keras:
        return False, "keras", f"tf.keras does not load: {keras['error']} ({setting})"
    package, version = keras["package"], str(keras["version"])
    passed = switch == "1" and package == stack.KERAS_PACKAGE and version.split(".")[0] == "2"
    detail = f"tf.keras is {package} {version} ({setting})"
    if not passed:
        detail += f"; hpcseq needs {stack.KERAS_PACKAGE} 2.x with {stack.KERAS_SWITCH}=1 set before TensorFlow loads"
    return passed, "keras", detail


def nccl_version_text(code: int) -> str:
    """NCCL_VERSION_CODE as hvd.nccl_built() returns it: 22703 is 2.27.3 (from 2.9 on), 2804 is 2.8.4."""
    if code >= 10000:
        return f"{code // 10000}.{code % 10000 // 100}.{code % 100}"
    return f"{code // 1000}.{code % 1000 // 100}.{code % 100}"


def horovod_build_result(nccl: int, mpi: bool, gloo: bool, expect_gpus: int, environ=os.environ) -> tuple:
    """(passed, "horovod_build", detail) from hvd.nccl_built() (0, or NCCL's version code),
    hvd.mpi_built() and hvd.gloo_built(): NCCL is needed when GPUs are expected, and the controller
    of the launcher that started the ranks (Gloo under horovodrun, MPI under srun or mpirun)."""
    controller = "Gloo" if environ.get(GLOO_RENDEZVOUS_VARIABLE) else "MPI"
    have = {"NCCL": bool(nccl), "MPI": bool(mpi), "Gloo": bool(gloo)}
    missing = [name for name, needed in (("NCCL", expect_gpus > 0), (controller, True)) if needed and not have[name]]
    built = ", ".join(
        f"{name} {nccl_version_text(int(nccl)) if name == 'NCCL' else 'yes'}" if found else f"{name} no"
        for name, found in have.items()
    )
    needs = f"needed: {controller} (the launcher's controller)" + (", NCCL (GPUs expected)" if expect_gpus else "")
    detail = f"built with {built}; {needs}"
    if missing:
        detail += f"; missing: {', '.join(missing)} (rebuild Horovod: envs/setup.sh --gpu, or the image)"
    return not missing, "horovod_build", detail


def _keras_in_use(tf) -> dict:
    try:
        return stack.keras_in_use(tf)
    except Exception as error:  # a broken Keras is the finding
        return {"error": f"{type(error).__name__}: {error}"}


def check_imports():
    """(tensorflow, horovod.tensorflow, versions text), or the error text when an import failed."""
    try:
        import horovod
        import horovod.tensorflow as hvd
        import jsonschema  # noqa: F401  hpcseq's own dependencies (pyproject.toml)
        import tensorflow as tf
        import yaml  # noqa: F401
    except Exception as error:  # any failure to import is the finding
        return f"{type(error).__name__}: {error} (python {sys.version.split()[0]})"
    versions = f"tensorflow {tf.__version__}, horovod {horovod.__version__}, python {sys.version.split()[0]}"
    return tf, hvd, versions


def first_results(tf, hvd, expect_gpus: int, environ=os.environ) -> list:
    """python, keras and horovod_build, the checks before the others."""
    return [
        python_result(),
        keras_result(environ.get(stack.KERAS_SWITCH), _keras_in_use(tf)),
        horovod_build_result(hvd.nccl_built(), hvd.mpi_built(), hvd.gloo_built(), expect_gpus, environ),
    ]


def run_checks(expect_ranks: int, expect_nodes: int, expect_gpus: int) -> bool:
    """Every check; True when all passed (the same answer on every rank)."""
    found = check_imports()
    if isinstance(found, str):  # rank 0 says which Python it is, and what did not import
        if _rank_before_init() == 0:
            report(*python_result())
            report(False, "imports", found)
        return False
    tf, hvd, versions = found
    first = first_results(tf, hvd, expect_gpus)
    hvd.init()
    rank, size = hvd.rank(), hvd.size()
    gpus = len(tf.config.list_physical_devices("GPU"))
    # every rank's host and GPU count, on every rank
    seen = hvd.allgather_object((socket.gethostname(), gpus), name="smoke_hosts")
    hosts = [host for host, _ in seen]
    total = hvd.allreduce(tf.constant(float(rank), dtype=tf.float64), op=hvd.Sum, name="smoke_sum")
    expected_sum = size * (size - 1) // 2
    results = first + _results(rank, versions, seen, hosts, (size, expect_ranks, expect_nodes, expect_gpus))
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
