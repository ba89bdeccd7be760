"""Horovod start-up that works the same under every launcher: plain python, horovodrun, mpirun, srun."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from hpcseq.errors import EnvironmentSetupError


@dataclass
class Ranks:
    rank: int
    size: int
    local_rank: int
    local_size: int
    hvd: object  # horovod.tensorflow.keras: DistributedOptimizer, callbacks
    collectives: object  # horovod.tensorflow: broadcast_variables, broadcast_object, allreduce

    @property
    def is_root(self) -> bool:
        return self.rank == 0


def detect_launcher(environ=None) -> str:
    """Which launcher started this process, from the variables each one sets."""
    env = os.environ if environ is None else environ
    if "SLURM_STEP_ID" in env and "SLURM_PROCID" in env:
        return "srun"
    if "HOROVOD_RANK" in env or "HOROVOD_GLOO_RENDEZVOUS_ADDR" in env:
        return "horovodrun"
    if "OMPI_COMM_WORLD_RANK" in env or "PMI_RANK" in env or "PMIX_RANK" in env:
        return "mpirun"
    return "plain"


def init_horovod() -> Ranks:
    try:
        import horovod.tensorflow as hvd_tf
        import horovod.tensorflow.keras as hvd
    except ImportError as error:
        raise EnvironmentSetupError(
            f"cannot import Horovod ({error}); this interpreter is not the training environment. "
            "Run `make setup` (or envs/setup.sh) and point `training_python` in the config at .venv/train/bin/python"
        ) from None
    # Horovod: initialise the collective layer (MPI under mpirun/srun, Gloo under horovodrun).
    hvd.init()
    return Ranks(hvd.rank(), hvd.size(), hvd.local_rank(), hvd.local_size(), hvd, hvd_tf)


def cpus_available() -> int:
    """The CPUs this process may run on (Slurm's and taskset's binding included)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def thread_pools(threads_per_rank: int | None, local_ranks: int) -> tuple[int, int]:
    """TensorFlow's (intra-op, inter-op) threads for one rank of `local_ranks` on this node: the
    configured threads, else Slurm's CPUs per task, else the node's CPUs shared between its ranks.
    The benchmark pins its references to the same (devtools/benchmark.py)."""
    if threads_per_rank is None:
        slurm_cpus = os.environ.get("SLURM_CPUS_PER_TASK", "")
        shared = max(1, cpus_available() // max(1, local_ranks))
        threads_per_rank = int(slurm_cpus) if slurm_cpus.isdigit() else shared
    return threads_per_rank, max(2, min(4, threads_per_rank))


def configure_devices(ranks: Ranks, threads_per_rank: int | None) -> dict:
    """Pin one GPU per local rank when GPUs exist; share the node's CPUs between its ranks.

    Must run before TensorFlow creates any tensor.
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    chosen_gpu = None
    if gpus:
        for gpu in gpus:
            tf.config.experimental.set_memory_growth(gpu, True)
        # Horovod: one GPU per process. Slurm may already have narrowed CUDA_VISIBLE_DEVICES to
        # this task's GPU (then exactly one is visible); otherwise pick by local rank.
        chosen_gpu = gpus[0] if len(gpus) == 1 else gpus[ranks.local_rank % len(gpus)]
        tf.config.set_visible_devices(chosen_gpu, "GPU")
    threads_per_rank, inter_op = thread_pools(threads_per_rank, ranks.local_size)
    # Ranks on one node must not each use all of its cores: oversubscription slows all of them.
    tf.config.threading.set_intra_op_parallelism_threads(threads_per_rank)
    tf.config.threading.set_inter_op_parallelism_threads(inter_op)
    return {
        "gpus_visible": len(gpus),
        "gpu": chosen_gpu.name if chosen_gpu is not None else None,
        "threads_per_rank": threads_per_rank,
        "cpus_available": cpus_available(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "launcher": detect_launcher(),
    }
