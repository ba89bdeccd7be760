"""The ranks' communication: Horovod collectives that differ between ranks, NCCL and CUDA errors,
ranks that MPI/PMIx could not start, and Horovod's stall warning."""

from __future__ import annotations

import re

from hpcseq.logs.diagnose.facts import (
    Diagnosis,
    Evidence,
    Facts,
    find_all,
    find_first,
    how_to_resume,
    join_sentences,
    more_evidence,
)
from hpcseq.logs.diagnose.noise import is_noise
from hpcseq.logs.diagnose.rules import LineRule, Rule

MISMATCH = re.compile(
    r"Mismatched [\w/ ]*?(?:tensor shapes|operations|data types|reduction operation|root ranks|"
    r"device selection|prescale)[^\n]*",
    re.IGNORECASE,
)

COLLECTIVE_MISMATCH = LineRule(
    "collective_mismatch",
    "collective_mismatch",
    MISMATCH,
    "Ranks made different Horovod collective calls: {what}",
    "Every rank must make the same allreduce/allgather/broadcast calls, in the same order, with the same "
    "shapes and types. Look for code that runs on some ranks only (`if hvd.rank() == 0:` around a collective, "
    "a metric or callback created on one rank) or ranks that see data of different shapes. "
    "HOROVOD_LOG_LEVEL=debug prints each rank's calls.",
)


NCCL_CUDA = re.compile(
    r"NCCL error|ncclUnhandledCudaError|ncclSystemError|ncclInternalError|ncclInvalidUsage|"
    r"ncclRemoteError|unhandled (?:cuda|system) error|CUDA error|cudaError\w+|CUDA_ERROR_\w+|"
    r"CUDNN_STATUS_(?!SUCCESS)\w+"
)


def nccl_cuda(facts: Facts) -> Diagnosis | None:
    # TensorFlow on a node without GPU logs CUDA_ERROR_NO_DEVICE and runs on the CPU: not a failure
    found = [
        (line, match)
        for line, match in find_all(facts.lines, NCCL_CUDA)
        if "CUDA_ERROR_NO_DEVICE" not in line.text and not is_noise(line.text)
    ]
    if not found:
        return None
    line = next((line for line, _ in found if re.search(r"error|Error|ERROR", line.text)), found[0][0])
    nccl = any("nccl" in found_line.text.lower() for found_line, _ in found)
    what = "NCCL (the GPU communication library)" if nccl else "CUDA"
    return Diagnosis(
        "nccl_cuda",
        f"A {what} error stopped training.",
        Evidence.of(line),
        join_sentences(
            "Rerun with NCCL_DEBUG=INFO (add it to the cluster's `environment` in the config, or export it in "
            "the job script) to see which call and which network interface failed. Check that each rank sees "
            "exactly one GPU (CUDA_VISIBLE_DEVICES) and that the node's GPUs are healthy (nvidia-smi). If it "
            "happens on one node only, leave it out (`#SBATCH --exclude=<node>`) and tell the support team.",
            how_to_resume(facts),
        ),
        also=more_evidence(found, line),
    )


MPI_LAUNCH = re.compile(
    r"srun: error: (?:Couldn't find the specified plugin name for mpi|cannot create mpi context|MPI: Cannot create "
    r"context|mpi/pmi\w*: |Task launch for \S+ failed|Application launch failed|Unable to create step)|"
    r"PMIX ERROR|PMIx_Init failed|PMI2?_Init failed|An error occurred in MPI_Init|It looks like MPI_INIT failed|"
    r"MPI_INIT has failed|Local abort before MPI_INIT completed|OMPI was not built with SLURM's PMI support|"
    r"OPAL ERROR: (?:Not initialized|Unreachable)|ORTE was unable to reliably start|Invalid MPI type|"
    r"MPI: Unable to load any plugin|"
    r"The application appears to have been direct launched using \"srun\"",
    re.IGNORECASE,
)

# PMIx messages after a rank died are consequences, not launch failures: before training only
MPI_LAUNCH_FAILED = LineRule(
    "mpi_launch",
    "mpi_launch",
    MPI_LAUNCH,
    "The training ranks did not start: MPI/PMIx could not set them up.",
    "Check the srun line of the cluster (clusters.<cluster>.srun_flags): `srun --mpi=list` shows the MPI "
    "plugins this Slurm has (pmix, pspmix, pmi2). Horovod must be built against the MPI that the job loads "
    "(the same MPI module in setup.modules); OpenMPI needs PMIx support to start under srun.",
    before_training=True,
)


STALL = re.compile(
    r"One or more tensors were submitted to be reduced, gathered or broadcasted by subset of ranks "
    r"and are waiting for remainder of ranks(?: for more than (?P<seconds>\d+) seconds)?"
)
MISSING_RANKS = re.compile(r"missing ranks: (?P<ranks>[\d, ]+)", re.IGNORECASE)
MISSING_RANK_LINE = re.compile(r"^(?P<rank>\d+): \[")


def horovod_stall(facts: Facts) -> Diagnosis | None:
    found = find_first(facts.lines, STALL)
    if not found:
        return None
    line, match = found
    index = facts.lines.index(line)
    missing: list[str] = []
    for following in facts.lines[index : index + 12]:
        if m := MISSING_RANKS.search(following.text):
            missing += [r.strip() for r in m.group("ranks").split(",") if r.strip()]
        elif following is not line and (m := MISSING_RANK_LINE.match(following.text.strip())):
            missing.append(m.group("rank"))
    missing = sorted(set(missing), key=int)
    who = f"rank(s) {', '.join(missing)} never joined" if missing else "some ranks never joined"
    wait = f" for more than {match.group('seconds')} s" if match.group("seconds") else ""
    ending = {"TIMEOUT": " The job then ran into its time limit.", "CANCELLED": " The job was then cancelled."}
    return Diagnosis(
        "horovod_stall",
        f"Horovod stalled: {who} a collective operation the others waited on{wait}."
        + ending.get(facts.state or "", ""),
        Evidence.of(line),
        join_sentences(
            "A rank is stuck or gone (look at its output), or ranks run different numbers of steps or "
            "different collectives (equal steps per epoch on every rank, no rank-dependent collectives). "
            "HOROVOD_STALL_SHUTDOWN_TIME_SECONDS stops a stalled job instead of letting it wait for the time limit "
            "(a rank that is stopped or frozen never triggers Horovod's check: training.hang_timeout_seconds ends "
            "that job).",
            how_to_resume(facts),
        ),
    )


RULES = (COLLECTIVE_MISMATCH, Rule("nccl_cuda", nccl_cuda), MPI_LAUNCH_FAILED, Rule("horovod_stall", horovod_stall))
