"""Memory: a GPU's (TensorFlow, CUDA) and the node's (Slurm's cgroup limit, the kernel's OOM killer).
An out-of-memory kill explains the rank that died of it, so these come early in the table."""

from __future__ import annotations

import re

from hpcseq.logs.diagnose.facts import (
    Diagnosis,
    Evidence,
    Facts,
    find_all,
    how_to_resume,
    join_sentences,
    more_evidence,
)
from hpcseq.logs.diagnose.rules import Rule

GPU_OOM = re.compile(
    r"OOM when allocating tensor|CUDA_ERROR_OUT_OF_MEMORY|ran out of memory trying to allocate|"
    r"ResourceExhaustedError|CUDA out of memory|out of memory on device|cudaErrorMemoryAllocation"
)
GPU_OOM_BEST = (
    re.compile(r"OOM when allocating tensor"),
    re.compile(r"CUDA_ERROR_OUT_OF_MEMORY|CUDA out of memory"),
    re.compile(r"ran out of memory trying to allocate"),
    re.compile(r"ResourceExhaustedError"),
)
HOST_OOM = re.compile(
    r"oom[-_]kill|Out Of Memory|Exceeded (?:job|step) memory limit|OOM when allocating tensor.*"
    r"device:CPU|oom-killer|Killed process \d+",
    re.IGNORECASE,
)
HOST_DEVICE = re.compile(r"device:CPU|cpu_allocator|Allocator \((?:cpu|mklcpu)\)", re.IGNORECASE)


def gpu_out_of_memory(facts: Facts) -> Diagnosis | None:
    found = find_all(facts.lines, GPU_OOM)
    if not found:
        return None
    on_gpu = any(re.search(r"GPU|gpu|CUDA|cuda", line.text) for line, _ in found)
    on_host = any(HOST_DEVICE.search(line.text) for line, _ in found)
    if on_host and not on_gpu:
        return None  # TensorFlow ran out of host memory: host_out_of_memory's
    best = next((line for pattern in GPU_OOM_BEST for line, _ in found if pattern.search(line.text)), found[0][0])
    return Diagnosis(
        "gpu_out_of_memory",
        "A GPU ran out of memory (the model, a batch or its activations did not fit).",
        Evidence.of(best),
        join_sentences(
            "Lower training.batch_size (per rank; or global_batch_size) or the model's size (the units of "
            "its layers under models.<name>, hyperparameters.sequence_length) in the config. Check that "
            "every rank has a GPU of its own (one rank "
            "per GPU: the `GPU n` in the log's first training line, CUDA_VISIBLE_DEVICES) and that no other "
            "process uses it (nvidia-smi on the node).",
            how_to_resume(facts),
        ),
        also=more_evidence(found, best),
    )


def host_out_of_memory(facts: Facts) -> Diagnosis | None:
    found = find_all(facts.lines, HOST_OOM)
    if not found and facts.state != "OUT_OF_MEMORY":
        return None
    evidence = Evidence.of(found[0][0]) if found else None
    summary = "The job used more memory on the node than Slurm allowed it, and the kernel killed a process"
    summary += " (sacct: OUT_OF_MEMORY)." if facts.state == "OUT_OF_MEMORY" else "."
    ask = f"`sacct -j {facts.job_id} --format=JobID,MaxRSS,ReqMem`" if facts.job_id else "sacct's MaxRSS and ReqMem"
    advice = (
        f"{ask} shows what it used and asked for. Ask for more memory (`#SBATCH --mem=...` or --mem-per-cpu; "
        "the Snakemake resource mem_mb) or use less per node: fewer ranks per node, smaller batches, a "
        "smaller validation set."
    )
    if facts.local:
        summary = "The machine ran out of memory, and the kernel killed a process."
        advice = (
            "The kernel's log (`dmesg`) names what it killed. Use less memory on this machine: fewer ranks, smaller "
            "batches, a smaller validation set, fewer jobs at once (snakemake --cores)."
        )
    return Diagnosis(
        "host_out_of_memory",
        summary,
        evidence,
        join_sentences(
            advice,
            how_to_resume(facts),
        ),
        also=[Evidence.of(line) for line, _ in found[1:3]],
    )


RULES = (Rule("gpu_out_of_memory", gpu_out_of_memory), Rule("host_out_of_memory", host_out_of_memory))
