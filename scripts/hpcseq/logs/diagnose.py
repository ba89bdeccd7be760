"""Why a job ended the way it did: log patterns -> Diagnosis(kind, summary, evidence, next step).

The patterns are a table of small functions, tried in order, most specific first: a cause that
explains the others wins (an out-of-memory kill explains the rank that died; a rank that died
explains the Horovod stall; a stall explains the time limit that followed). Each function gets
the job's Facts (its log lines, Slurm's state and exit code, its last checkpoint) and returns a
Diagnosis with the line that proves it (file:line and text) and what to do next, or None.
A failure no pattern explains gets `unknown` with the last error-like lines, never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from hpcseq.durations import format_time
from hpcseq.errors import REQUEUE_EXIT_CODE  # checkpointed before the time limit
from hpcseq.events import (
    HOROVODRUN_MISSING,
    INTERPRETER_MISSING,
    RANK_HUNG,
    RANK_SILENT,
    SCRIPT_REQUEUE,
    SCRIPT_SETUP_FAILED,
    SMOKE_CHECK,
    STAGE_ERROR,
    STOPPED_ON_SIGNAL,
)
from hpcseq.logs.parse import USER_STOP, Checkpoint, LogLine
from hpcseq.logs.sources import NodeEvent, expand_node_list

FAILURE_STATES = {
    "FAILED",
    "TIMEOUT",
    "OUT_OF_MEMORY",
    "NODE_FAIL",
    "PREEMPTED",
    "BOOT_FAIL",
    "DEADLINE",
    "CANCELLED",
    "REQUEUED",
    "SPECIAL_EXIT",
    "REVOKED",
    "INTERRUPTED",  # a local run's (local.py)
}
ACTIVE_STATES = {"RUNNING", "COMPLETING", "CONFIGURING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "RESIZING"}


@dataclass(frozen=True)
class Evidence:
    path: str
    line: int
    text: str

    @classmethod
    def of(cls, line: LogLine, limit: int = 300) -> Evidence:
        text = line.text.strip()
        return cls(line.path, line.number, text if len(text) <= limit else text[: limit - 3] + "...")

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text}"


@dataclass
class Diagnosis:
    kind: str
    summary: str
    evidence: Evidence | None
    next_step: str
    location: str | None = None  # the user's code line, for exceptions: scripts/hpcseq/x.py:123
    also: list[Evidence] = field(default_factory=list)


@dataclass
class Facts:
    """What the patterns look at, gathered for one job."""

    lines: list[LogLine] = field(default_factory=list)  # all its files, file after file
    state: str | None = None  # Slurm's state (COMPLETED, FAILED, TIMEOUT, ...); None: unknown
    cancelled_by: str | None = None
    exit_code: int | None = None
    job_id: str | None = None
    experiment: str | None = None
    rule: str | None = None  # Snakemake rule; None for a generated sbatch script
    script: str | None = None  # the batch script it was submitted with, if known
    checkpoint: Checkpoint | None = None
    epochs_done: int | None = None
    epochs_planned: int | None = None
    training_started: bool = False
    training_output: bool = True  # the program's own output was found (else checkpoints are unknown)
    next_job: str | None = None  # the job that continued it (Snakemake retry, resubmission)
    limit_seconds: int | None = None
    nodes: str | None = None
    local: bool = False  # a job of a local run (`snakemake --cores N`), no Slurm
    failed_nodes: list[NodeEvent] = field(default_factory=list)  # Slurm's events for a NODE_FAIL run
    ranks: int | None = None  # training ranks, spread over `nodes` in blocks (srun's default)

    @property
    def snakemake(self) -> bool:
        return self.rule is not None

    @property
    def failed(self) -> bool:
        if self.state in FAILURE_STATES:
            return True
        if self.state is None:
            return bool(self.exit_code) or any(_SNAKEMAKE_ERROR.match(line.text) for line in self.lines)
        return False


_SNAKEMAKE_ERROR = re.compile(r"^Error in rule \w+:")


def _find(lines: list[LogLine], pattern: re.Pattern, start: int = 0) -> tuple[LogLine, re.Match] | None:
    for line in lines[start:]:
        match = pattern.search(line.text)
        if match:
            return line, match
    return None


def _find_all(lines: list[LogLine], pattern: re.Pattern) -> list[tuple[LogLine, re.Match]]:
    return [(line, match) for line in lines if (match := pattern.search(line.text))]


# ----------------------------------------------------------------------------- shared advice


def stage_of(rule: str | None) -> str:
    """The slurm.time key of a rule (preprocess_text -> preprocess)."""
    if not rule:
        return "train"
    for stage in ("preprocess", "vocabulary", "train", "evaluate"):
        if rule.startswith(stage):
            return stage
    return rule


def checkpoint_text(facts: Facts) -> str:
    if facts.checkpoint is None and not facts.training_output:
        return ""
    if facts.checkpoint is None:
        if facts.training_started or stage_of(facts.rule) == "train":
            return "No checkpoint was written, so training starts from the beginning when rerun."
        return ""
    return f"The last complete checkpoint is {facts.checkpoint.describe()} ({facts.checkpoint.path})."


def how_to_continue(facts: Facts) -> str:
    """How to run the job again so that training continues from its checkpoint."""
    resumes = " Training continues from that checkpoint." if facts.checkpoint else ""
    if facts.local:
        command = "`snakemake --cores N ...` command (`make run`)"
        return f"Run the same {command} again: it reruns rule {facts.rule}.{resumes}"
    if facts.next_job:
        return f"It was continued as job {facts.next_job} (`hpcseq logs {facts.next_job}`).{resumes}"
    if facts.snakemake:
        return f"Rerun the same `snakemake --profile slurm ...` command: it resubmits rule {facts.rule}.{resumes}"
    script = f"`sbatch {facts.script}`" if facts.script else "the job script again with sbatch"
    return f"Resubmit {script}.{resumes}"


def _join(*parts: str) -> str:
    return " ".join(part.strip() for part in parts if part and part.strip())


# ------------------------------------------------------------------------------- the patterns

CANCEL_MARKER = re.compile(
    r"\*\*\* (?P<what>JOB|STEP) (?P<id>\S+) ON (?P<node>\S+) CANCELLED AT (?P<at>\S+)"
    r"(?: DUE TO (?P<why>[^*]+?))? \*\*\*"
)


def _job_marker(facts: Facts, why: str | None = None) -> tuple[LogLine, re.Match] | None:
    """Slurm's `*** JOB <id> ON <node> CANCELLED AT <time> [DUE TO <why>] ***` (JOB, not STEP)."""
    for line, match in _find_all(facts.lines, CANCEL_MARKER):
        if match.group("what") != "JOB":
            continue
        reason = (match.group("why") or "").strip()
        if (why is None and not reason) or (why is not None and reason.upper().startswith(why)):
            return line, match
    return None


def _markers_by_file(facts: Facts) -> dict[str, int]:
    """Line number of the first JOB cancel marker per file: what follows it is a consequence."""
    first = {}
    for line, match in _find_all(facts.lines, CANCEL_MARKER):
        if match.group("what") == "JOB":
            first.setdefault(line.path, line.number)
    return first


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
HOST_DEVICE = re.compile(r"device:CPU|cpu_allocator|Allocator \((?:cpu|mklcpu)\)", re.IGNORECASE)


def gpu_out_of_memory(facts: Facts) -> Diagnosis | None:
    found = _find_all(facts.lines, GPU_OOM)
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
        _join(
            "Lower training.batch_size (per rank; or global_batch_size) or the model's size (the units of "
            "its layers under models.<name>, hyperparameters.sequence_length) in the config. Check that "
            "every rank has a GPU of its own (one rank "
            "per GPU: the `GPU n` in the log's first training line, CUDA_VISIBLE_DEVICES) and that no other "
            "process uses it (nvidia-smi on the node).",
            checkpoint_text(facts),
            how_to_continue(facts),
        ),
        also=[Evidence.of(line) for line, _ in found if line is not best][:3],
    )


HOST_OOM = re.compile(
    r"oom[-_]kill|Out Of Memory|Exceeded (?:job|step) memory limit|OOM when allocating tensor.*"
    r"device:CPU|oom-killer|Killed process \d+",
    re.IGNORECASE,
)


def host_out_of_memory(facts: Facts) -> Diagnosis | None:
    found = _find_all(facts.lines, HOST_OOM)
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
        _join(
            advice,
            checkpoint_text(facts),
            how_to_continue(facts),
        ),
        also=[Evidence.of(line) for line, _ in found[1:3]],
    )


NODE_FAILURE = re.compile(r"DUE TO NODE FAILURE|srun: error: Node failure on|NODE_FAIL")


def node_failure(facts: Facts) -> Diagnosis | None:
    found = _find(facts.lines, NODE_FAILURE)
    if not found and facts.state not in ("NODE_FAIL", "BOOT_FAIL"):
        return None
    events = facts.failed_nodes
    if events:
        failed = ", ".join(f"{event.node}{_ranks_on(facts, event.node)}" for event in events)
        what = f"Node {failed} failed ({events[0].reason}, at {events[0].start})"
    else:
        what = f"A node of the job{f' ({facts.nodes})' if facts.nodes else ''} failed"
    also = [Evidence("sacctmgr show event", 0, event.text()) for event in events]
    return Diagnosis(
        "node_failure",
        f"{what}: Slurm ended the job; the cause is not in your program.",
        Evidence.of(found[0]) if found else (also.pop(0) if also else None),
        _join(
            checkpoint_text(facts),
            how_to_continue(facts),
            "If it happens again on the same node, leave it out (`#SBATCH --exclude=<node>`) and tell the "
            "support team.",
        ),
        also=also,
    )


def _ranks_on(facts: Facts, node: str) -> str:
    """` (ranks 2-3)`: the training ranks srun placed on a node (blocks of ranks per node, in the
    order of the job's node list); empty when unknown."""
    names = expand_node_list(facts.nodes)
    if not facts.ranks or node not in names or facts.ranks % len(names):
        return ""
    per_node = facts.ranks // len(names)
    first = names.index(node) * per_node
    return f" (rank {first})" if per_node == 1 else f" (ranks {first}-{first + per_node - 1})"


def preempted(facts: Facts) -> Diagnosis | None:
    found = _job_marker(facts, "PREEMPTION")
    if not found and facts.state != "PREEMPTED":
        return None
    return Diagnosis(
        "preempted",
        "Slurm preempted the job: a job of higher priority took its nodes.",
        Evidence.of(found[0]) if found else None,
        _join(
            checkpoint_text(facts),
            how_to_continue(facts),
            "With `#SBATCH --requeue` Slurm puts a preempted job back into the queue by itself.",
        ),
    )


MISMATCH = re.compile(
    r"Mismatched [\w/ ]*?(?:tensor shapes|operations|data types|reduction operation|root ranks|"
    r"device selection|prescale)[^\n]*",
    re.IGNORECASE,
)


def collective_mismatch(facts: Facts) -> Diagnosis | None:
    found = _find(facts.lines, MISMATCH)
    if not found:
        return None
    line, match = found
    return Diagnosis(
        "collective_mismatch",
        f"Ranks made different Horovod collective calls: {match.group(0).strip()}",
        Evidence.of(line),
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
        for line, match in _find_all(facts.lines, NCCL_CUDA)
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
        _join(
            "Rerun with NCCL_DEBUG=INFO (add it to the cluster's `environment` in the config, or export it in "
            "the job script) to see which call and which network interface failed. Check that each rank sees "
            "exactly one GPU (CUDA_VISIBLE_DEVICES) and that the node's GPUs are healthy (nvidia-smi). If it "
            "happens on one node only, leave it out (`#SBATCH --exclude=<node>`) and tell the support team.",
            checkpoint_text(facts),
            how_to_continue(facts),
        ),
        also=[Evidence.of(other) for other, _ in found if other is not line][:3],
    )


ENVIRONMENT = (
    (
        re.compile(r"The following module\(s\) are unknown:\s*(?P<what>.*)"),
        "The cluster's module system does not know a module the job loads: {what}",
        "Fix clusters.<cluster>.setup.modules in the config: `module spider <name>` shows the exact names and "
        "versions, and which modules must be loaded before (e.g. Stages/2024, GCC, ParaStationMPI).",
    ),
    (
        re.compile(r"\bmodule: command not found"),
        "The job's shell has no `module` command.",
        "Start the script with `#!/bin/bash -l` or source the site's module setup (e.g. /etc/profile.d/lmod.sh), "
        "or leave setup.modules empty on a machine without environment modules.",
    ),
    (
        INTERPRETER_MISSING.pattern,
        "The training interpreter {what} does not exist on the node.",
        "Set training_python in the config to the cluster's TensorFlow 2.21 + Horovod environment (run `make setup` "
        "for .venv/train), or load the modules/venv that provide it in the cluster's setup.",
    ),
    (
        HOROVODRUN_MISSING.pattern,
        "horovodrun was not found next to the training interpreter nor on PATH.",
        "Install Horovod into the training environment (`make setup`), or set local_launcher: mpirun.",
    ),
    (
        re.compile(r"\b(?:ModuleNotFoundError|ImportError): (?P<what>.*)"),
        "Python could not import a module: {what}",
        "The interpreter that ran the job lacks it: check training_python in the config and the cluster's setup "
        "(modules and venv in clusters.<cluster>.setup); test with `<python> -c 'import <module>'` after the same "
        "module loads on a login node.",
    ),
    (
        re.compile(r"(?P<what>\S+/bin/activate): No such file or directory"),
        "The virtual environment {what} does not exist.",
        "Create it on a login node after the same module loads (`HPCSEQ_VENVS=<dir> envs/setup.sh --gpu "
        "--training-only`, see envs/README.md) or fix clusters.<cluster>.setup.venv in the config.",
    ),
    (
        re.compile(r"execve\(\): (?P<what>\S+): No such file or directory"),
        "srun could not start {what}: no such file.",
        "Check the interpreter path (training_python) and the cluster's setup (modules, venv) on the compute nodes.",
    ),
    (
        re.compile(r"(?P<what>\S+\.so[.\d]*): cannot open shared object file"),
        "A shared library is missing: {what}",
        "Load the modules that provide it (CUDA, cuDNN, NCCL, MPI) in the cluster's setup, the same ones Horovod "
        "and TensorFlow were built against.",
    ),
    (
        re.compile(r"Lmod has detected the following error: *(?P<what>.*)"),
        "The module system reported an error: {what}",
        "Fix clusters.<cluster>.setup in the config (module names, `module restore` collection); `module spider` "
        "shows what exists.",
    ),
    (
        SCRIPT_SETUP_FAILED.pattern,
        "The job stopped at a setup line that failed: {what}",
        "Run the same line on a login node to see why (the lines above it in the job's error file show its own "
        "message); fix clusters.<cluster>.setup in the config, or the path it names.",
    ),
)


def environment(facts: Facts) -> Diagnosis | None:
    for pattern, summary, advice in ENVIRONMENT:
        found = _find(facts.lines, pattern)
        if found:
            line, match = found
            what = (match.groupdict().get("what") or "").strip()
            if not what:  # Lmod puts the module names on the next line
                index = facts.lines.index(line)
                what = next(
                    (after.text.strip() for after in facts.lines[index + 1 : index + 3] if after.text.strip()), ""
                )
            return Diagnosis("environment", summary.format(what=what or line.text.strip()), Evidence.of(line), advice)
    return None


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


def mpi_launch(facts: Facts) -> Diagnosis | None:
    if facts.training_started:  # PMIx messages after a rank died are consequences, not launch failures
        return None
    found = _find(facts.lines, MPI_LAUNCH)
    if not found:
        return None
    return Diagnosis(
        "mpi_launch",
        "The training ranks did not start: MPI/PMIx could not set them up.",
        Evidence.of(found[0]),
        "Check the srun line of the cluster (clusters.<cluster>.srun_flags): `srun --mpi=list` shows the MPI "
        "plugins this Slurm has (pmix, pspmix, pmi2). Horovod must be built against the MPI that the job loads "
        "(the same MPI module in setup.modules); OpenMPI needs PMIx support to start under srun.",
    )


TRACEBACK = re.compile(r"^Traceback \(most recent call last\):\s*$")
FRAME = re.compile(r'^\s+File "(?P<path>[^"]+)", line (?P<line>\d+), in (?P<function>.+)$')
EXCEPTION = re.compile(
    r"^(?P<type>(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Exit|Interrupt|Warning|Failure))"
    r"(?::\s?(?P<message>.*))?$"
)
CHAINED = re.compile(r"^(?:During handling of the above exception|The above exception was the direct cause)")
CONSEQUENCES = re.compile(
    r"HorovodInternalError|Horovod has been shut down|Horovod detected that one or more "
    r"processes exited|KeyboardInterrupt|SystemExit|BrokenPipeError"
)
PROJECT_CODE = re.compile(r"(?:^|/)scripts/hpcseq/")


@dataclass
class Frame:
    path: str
    line: int
    function: str
    log_line: LogLine
    code: str | None = None


@dataclass
class Traceback:
    type: str
    message: str
    exception_line: LogLine
    frames: list[Frame]
    chained_from: Traceback | None = None

    @property
    def user_frame(self) -> Frame | None:
        """The last frame in the project's own code (scripts/hpcseq/), else the last frame outside
        site-packages and the standard library, else the last frame."""
        for frame in reversed(self.frames):
            if PROJECT_CODE.search(frame.path):
                return frame
        for frame in reversed(self.frames):
            if not _library_path(frame.path):
                return frame
        return self.frames[-1] if self.frames else None


def _library_path(path: str) -> bool:
    return (
        "site-packages" in path
        or "dist-packages" in path
        or path.startswith("<")
        or re.search(r"/lib(?:64)?/python\d+\.\d+/", path) is not None
    )


def display_path(path: str) -> str:
    """`/work/main/scripts/hpcseq/vocab.py` -> `scripts/hpcseq/vocab.py`."""
    match = re.search(r"scripts/hpcseq/.*$", path)
    return match.group(0) if match else path


def tracebacks(lines: list[LogLine]) -> list[Traceback]:
    """Python tracebacks in log lines, also when two ranks' tracebacks are interleaved line by line
    (both ranks write to the same stderr): frames collect from the first `Traceback` header to the
    exception line; an identical exception line right after it is the other rank's copy."""
    found: list[Traceback] = []
    frames: list[Frame] | None = None
    chained = False
    for index, line in enumerate(lines):
        text = line.text
        if TRACEBACK.match(text):
            if frames is None:
                frames = []
            continue
        if CHAINED.match(text):
            chained = True
            continue
        if frames is None:
            continue
        frame = FRAME.match(text)
        if frame:
            code = (
                lines[index + 1].text.strip()
                if index + 1 < len(lines) and not FRAME.match(lines[index + 1].text)
                else None
            )
            frames.append(
                Frame(frame.group("path"), int(frame.group("line")), frame.group("function").strip(), line, code)
            )
            continue
        exception = EXCEPTION.match(text)
        if exception and frames:
            message = (exception.group("message") or "").strip()
            previous = found[-1] if chained and found else None
            found.append(Traceback(exception.group("type"), message, line, frames, previous))
            frames, chained = None, False
    return found


def _chosen_traceback(facts: Facts) -> Traceback | None:
    """The first traceback that is not a consequence of another failure (Horovod shutting down
    after a rank died, a KeyboardInterrupt on cancel); of a chain, the exception that ended it."""
    candidates = [tb for tb in tracebacks(facts.lines) if not CONSEQUENCES.search(f"{tb.type}: {tb.message}")]
    if not candidates:
        return None
    first = candidates[0]
    # a chain continues in the following tracebacks that are chained to this one
    for tb in candidates[1:]:
        if tb.chained_from is first:
            first = tb
    return first


EXCEPTION_HINTS = (
    (
        re.compile(r"mmap length is greater than file size|cannot reshape array|buffer is smaller than requested size"),
        "A data file is shorter than its index says (cut off, or rewritten while the job ran): rerun the stage that "
        "writes it (vocabulary for results/<experiment>/encoded/), then training.",
    ),
    (
        re.compile(r"^(?:FileNotFoundError|IsADirectoryError)"),
        "A file is missing: run the stage that writes it first (snakemake does this in order), or fix the path.",
    ),
    (re.compile(r"^MemoryError"), "The process ran out of host memory: ask for more memory (--mem) or use less."),
    (re.compile(r"^PermissionError"), "Check the permissions of the file or folder named in the message."),
)


def python_exception(facts: Facts) -> Diagnosis | None:
    tb = _chosen_traceback(facts)
    if tb is None:
        return None
    frame = tb.user_frame
    location = f"{display_path(frame.path)}:{frame.line}" if frame else None
    where = f" in {display_path(frame.path)}, line {frame.line} ({frame.function})" if frame else ""
    message = f": {tb.message}" if tb.message else ""
    rank = f" on rank {tb.exception_line.rank}" if tb.exception_line.rank is not None else ""
    hint = next((advice for pattern, advice in EXCEPTION_HINTS if pattern.search(f"{tb.type}: {tb.message}")), "")
    also = [Evidence.of(frame.log_line)] if frame else []
    if frame and frame.code:
        also.append(Evidence(frame.log_line.path, frame.log_line.number + 1, frame.code))
    return Diagnosis(
        "python_exception",
        f"{tb.type}{message}{rank}{where}",
        Evidence.of(tb.exception_line),
        _join(
            f"Look at {location} ({frame.function}): the error is raised there or in what it calls." if frame else "",
            hint,
            "Fix the cause, then run it again.",
            how_to_continue(facts),
        ),
        location=location,
        also=also,
    )


def hpcseq_error(facts: Facts) -> Diagnosis | None:
    for index, line in enumerate(facts.lines):
        match = STAGE_ERROR.match(line.text)
        if not match or STOPPED_ON_SIGNAL.search(match.group("message")):
            continue
        message = match.group("message")
        for following in facts.lines[index + 1 : index + 21]:  # ConfigErrors list one problem per line
            if following.path != line.path or not following.text.startswith((" ", "\t")):
                break
            message += "\n" + following.text.rstrip()
        stage = match.group("stage")
        config = "config key" in message or message.startswith("invalid configuration")
        advice = (
            "Correct the config key(s) named above (`hpcseq config` prints the resolved config), then rerun."
            if config
            else "The message names the file or setting to fix; fix it, then rerun."
        )
        return Diagnosis(
            "hpcseq_error",
            f"hpcseq {stage} stopped with an input or config error: {message}",
            Evidence.of(line),
            _join(advice, how_to_continue(facts) if facts.snakemake else ""),
        )
    return None


def rank_hung(facts: Facts) -> Diagnosis | None:
    """A rank whose heartbeat stopped (training/watchdog.py): stopped, frozen or cut off, without an
    error of its own. The rank that ended itself to end the job (events.RANK_HUNG, exit code 124),
    and the ranks that failed waiting for it (events.RANK_SILENT: Gloo's own timeout), follow from it."""
    found = _find(facts.lines, RANK_HUNG.pattern) or _find(facts.lines, RANK_SILENT.pattern)
    if not found:
        return None
    line, match = found
    fields = match.groupdict()
    error = _chosen_traceback(facts)
    # A Python error is the cause where the silent rank raised it (and then hung on its way out), or
    # where the rank's silence ended the job: the ranks that fail waiting for a silent one (Gloo's
    # timeout) raise errors of their own that follow from the silence.
    if error is not None and (fields.get("code") or error.exception_line.rank in (None, int(fields["rank"]))):
        return None
    if fields["host"] == "unknown":
        who = f"Rank {fields['rank']} (it never sent a heartbeat, so its host is unknown)"
    else:
        who = f"Rank {fields['rank']} on {fields['host']} (pid {fields['pid']})"
    step = f", since step {fields['step']}" if fields["step"] != "unknown" else ""
    if fields.get("code"):
        then = (
            f"after training.hang_timeout_seconds ({fields['timeout']} s) another rank ended itself (exit code "
            f"{fields['code']}) so that the job ended, instead of every rank waiting for it until the time limit"
        )
    else:
        then = "the other ranks failed waiting for it (their errors follow from it)"
    node = fields["host"] if fields["host"] != "unknown" else "its node"
    return Diagnosis(
        "rank_hung",
        f"{who} hung: no heartbeat for {fields['seconds']} s{step}; {then}.",
        Evidence.of(line),
        _join(
            "A rank that stops without an error of its own was stopped (SIGSTOP, a debugger), or its node froze or "
            f"lost its network or file system: look at {node} (`scontrol show node {node}`: down, drained?) and "
            "run again; if it happens there again, leave the node out (sbatch --exclude). Should a rank pause that "
            "long as a matter of course (a file system that stalls), raise training.hang_timeout_seconds.",
            checkpoint_text(facts),
            how_to_continue(facts),
        ),
    )


SRUN_TASK = re.compile(r"^srun: error: (?P<node>\S+): tasks? (?P<tasks>[\d,\-]+): (?P<how>.+?)\s*$")
HOROVODRUN_EXIT = re.compile(r"Horovod detected that one or more processes exited with non-zero status")
MPIRUN_SIGNAL = re.compile(
    r"mpirun noticed that process rank (?P<tasks>\d+) with PID \d+ on node (?P<node>\S+) "
    r"exited on signal (?P<signal>\d+)(?: \((?P<name>[^)]+)\))?"
)
MPIRUN_EXIT = re.compile(
    r"(?:mpirun|prterun) detected that one or more processes exited with non-zero status|"
    r"Primary job\s+terminated normally, but \d+ process(?:es)? returned"
)
PROCESS_NAME = re.compile(r"Process name:\s*(?P<name>\S+)")
EXIT_CODE = re.compile(r"Exit code:\s*(?P<code>\d+)")
SIGNAL_NAMES = {"Killed": 9, "Terminated": 15, "Segmentation fault": 11, "Aborted": 6, "Bus error": 7}


def _rank_death_advice(how: str, facts: Facts) -> str:
    if how.startswith("Killed") or "signal 9" in how:
        return (
            "It has no error of its own in the output, so it was killed from outside: by the kernel's "
            "out-of-memory killer (compare sacct's MaxRSS with ReqMem), an administrator or a node health "
            "check, or `kill -9`. The other ranks were stopped with it."
        )
    if "Segmentation fault" in how or "signal 11" in how or "Bus error" in how:
        return (
            "A crash in native code (TensorFlow, Horovod, MPI, CUDA): check that Horovod was built against the "
            "loaded MPI and TensorFlow, and try again (a bad node gives the same)."
        )
    return "Its own error is in its output above this line (for horovodrun/mpirun, lines prefixed with its rank)."


def signal_stop_codes(lines: list[LogLine]) -> set[int]:
    """The exit codes with which ranks said they stopped on a signal after writing a checkpoint
    (`hpcseq train: error: stopped on SIGUSR1 ... (exit code 75)`): a rank that exits with one of
    them ended as designed, it did not die."""
    return {int(match.group("code")) for line in lines if (match := STOPPED_ON_SIGNAL.search(line.text))}


SRUN_EXIT_CODE = re.compile(r"^Exited with exit code (?P<code>\d+)$")


# srun's word for a task ended by SIGUSR1. hpcseq's stages catch it (training checkpoints and
# stops, the others ignore it) from their first lines on, so a task ended by it was signalled
# while it was still starting: Slurm's warning before the time limit came that early.
SRUN_WARNING_DEATH = "User defined signal 1"


def _srun_task_death(how: str, cancelled: bool, stop_codes: set[int]) -> bool:
    """Whether srun's `task N: <how>` is a rank that died: not one killed by Slurm's own cancel
    (a consequence), not an out-of-memory kill (host_out_of_memory's), not a clean signal stop,
    not one ended by the time-limit warning while it started (time_limit's)."""
    if (how.startswith("Terminated") and cancelled) or "Out Of Memory" in how or how.startswith(SRUN_WARNING_DEATH):
        return False
    exited = SRUN_EXIT_CODE.match(how)
    return not (exited and int(exited.group("code")) in stop_codes)


def rank_died(facts: Facts) -> Diagnosis | None:
    """The first rank that ended before the others: srun's `task N: Killed / Exited with exit code`,
    mpirun's `exited on signal`, horovodrun's and mpirun's `exited with non-zero status`. Deaths
    after Slurm's own cancel line (time limit, scancel) are consequences and do not count, nor are
    ranks that exited with the code they announced when they stopped on a signal (time_limit's)."""
    markers = _markers_by_file(facts)
    lines = [line for line in facts.lines if not (line.path in markers and line.number > markers[line.path])]
    stop_codes = signal_stop_codes(facts.lines)
    for line in lines:
        match = SRUN_TASK.match(line.text)
        if not match:
            continue
        how = match.group("how")
        if not _srun_task_death(how, bool(markers), stop_codes):
            continue
        return Diagnosis(
            "rank_died",
            f"Horovod {_tasks_text(match)} ended early: {how}.",
            Evidence.of(line),
            _join(_rank_death_advice(how, facts), checkpoint_text(facts), how_to_continue(facts)),
        )
    if found := _find(lines, MPIRUN_SIGNAL):
        line, match = found
        name = match.group("name") or f"signal {match.group('signal')}"
        return Diagnosis(
            "rank_died",
            f"MPI rank {match.group('tasks')} on {match.group('node')} ended early: "
            f"{name} (signal {match.group('signal')}).",
            Evidence.of(line),
            _join(
                _rank_death_advice(f"{name} signal {match.group('signal')}", facts),
                checkpoint_text(facts),
                how_to_continue(facts),
            ),
        )
    for index, line in enumerate(lines):
        if not (HOROVODRUN_EXIT.search(line.text) or MPIRUN_EXIT.search(line.text)):
            continue
        following = lines[index : index + 10]
        name = next((m.group("name") for after in following if (m := PROCESS_NAME.search(after.text))), None)
        code = next((int(m.group("code")) for after in following if (m := EXIT_CODE.search(after.text))), None)
        if code in stop_codes:
            continue  # the ranks stopped on a signal after checkpointing: time_limit's
        who = f"process {name}" if name else "a process"
        how = f"exit code {code}" if code is not None else "a non-zero exit code"
        if code is not None and code > 128:
            how += f" (signal {code - 128})"
        return Diagnosis(
            "rank_died",
            f"A rank ended early: {who} exited with {how}.",
            Evidence.of(line),
            _join(
                _rank_death_advice("Killed" if code == 137 else how, facts),
                checkpoint_text(facts),
                how_to_continue(facts),
            ),
        )
    return None


STALL = re.compile(
    r"One or more tensors were submitted to be reduced, gathered or broadcasted by subset of ranks "
    r"and are waiting for remainder of ranks(?: for more than (?P<seconds>\d+) seconds)?"
)
MISSING_RANKS = re.compile(r"missing ranks: (?P<ranks>[\d, ]+)", re.IGNORECASE)
MISSING_RANK_LINE = re.compile(r"^(?P<rank>\d+): \[")


def horovod_stall(facts: Facts) -> Diagnosis | None:
    found = _find(facts.lines, STALL)
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
        _join(
            "A rank is stuck or gone (look at its output), or ranks run different numbers of steps or "
            "different collectives (equal steps per epoch on every rank, no rank-dependent collectives). "
            "HOROVOD_STALL_SHUTDOWN_TIME_SECONDS stops a stalled job instead of letting it wait for the time limit "
            "(a rank that is stopped or frozen never triggers Horovod's check: training.hang_timeout_seconds ends "
            "that job).",
            checkpoint_text(facts),
            how_to_continue(facts),
        ),
    )


def time_limit(facts: Facts) -> Diagnosis | None:
    marker = _job_marker(facts, "TIME LIMIT")
    stopped = next(
        (
            (line, m)
            for line in facts.lines
            if (m := STOPPED_ON_SIGNAL.search(line.text)) and m.group("signal") == "SIGUSR1"
        ),
        None,
    )
    requeue = _find(facts.lines, SCRIPT_REQUEUE.pattern)
    warned_while_starting = _warned_while_starting(facts)
    early_stop = (
        stopped
        or requeue
        or warned_while_starting
        or (facts.exit_code == REQUEUE_EXIT_CODE and (facts.training_started or stage_of(facts.rule) == "train"))
    )
    if not marker and facts.state not in ("TIMEOUT", "DEADLINE") and not early_stop:
        return None
    limit = f" of {format_time(facts.limit_seconds)}" if facts.limit_seconds else ""
    progress = ""
    if facts.epochs_done is not None:
        planned = f" of {facts.epochs_planned}" if facts.epochs_planned else ""
        progress = f" after epoch {facts.epochs_done}{planned}"
    raise_limit = f"To finish in one job, raise the time limit: slurm.time.{stage_of(facts.rule)} in the config" + (
        f" (or experiments.{facts.experiment}.slurm.time)"
        if stage_of(facts.rule) == "train" and facts.experiment
        else ""
    )
    if not facts.snakemake:
        raise_limit += ", or `hpcseq sbatch --time HH:MM:SS` when generating the script"
    raise_limit += " (at most the partition's limit: max_time of the cluster in the config)."
    if marker or facts.state in ("TIMEOUT", "DEADLINE"):
        summary = f"The job reached its time limit{limit}{progress}; Slurm stopped it."
        evidence = Evidence.of(marker[0]) if marker else None
        signal_hint = (
            ""
            if stopped or requeue
            else "With slurm.signal_seconds_before_limit (default 120 s) training gets SIGUSR1 before the "
            "limit, checkpoints and is resubmitted by itself."
        )
        return Diagnosis(
            "time_limit",
            summary,
            evidence,
            _join(checkpoint_text(facts), how_to_continue(facts), raise_limit, signal_hint),
        )
    if warned_while_starting and not stopped:
        line, match = warned_while_starting
        how = (
            f"Slurm's warning before the time limit (SIGUSR1) ended {_tasks_text(match)} while starting, "
            "before hpcseq could catch it (nothing was trained in this job)"
        )
        return _clean_stop(facts, line, bool(requeue), raise_limit, how)
    line = (requeue or stopped)[0] if (requeue or stopped) else None
    return _clean_stop(facts, line, bool(requeue), raise_limit)


def _warned_while_starting(facts: Facts) -> tuple[LogLine, re.Match] | None:
    """srun's `task N: User defined signal 1`: see SRUN_WARNING_DEATH."""
    return next(
        (
            (line, match)
            for line in facts.lines
            if (match := SRUN_TASK.match(line.text)) and match.group("how").startswith(SRUN_WARNING_DEATH)
        ),
        None,
    )


def _tasks_text(match: re.Match) -> str:
    """`ranks 0-1 on node1` from srun's `node1: tasks 0-1: ...`."""
    tasks = match.group("tasks")
    plural = "ranks" if re.search(r"[,\-]", tasks) else "rank"
    return f"{plural} {tasks} on {match.group('node')}"


def _clean_stop(
    facts: Facts, line: LogLine | None, requeued: bool, raise_limit: str, how: str | None = None
) -> Diagnosis:
    """Slurm's warning before the time limit did what it is there for: training wrote a checkpoint
    and exited with REQUEUE_EXIT_CODE (or, warned while starting, ended with nothing to save), and
    the job is requeued or resubmitted to continue from its checkpoint."""
    checkpoint = f"checkpoint {facts.checkpoint.describe()}" if facts.checkpoint else "its last checkpoint"
    if requeued:
        then = f"the job script requeued the job to continue from {checkpoint}."
    elif facts.next_job:
        then = f"job {facts.next_job} continues from {checkpoint}."
    else:
        then = f"a rerun continues from {checkpoint}."
    how = how or f"Stopped before the time limit (SIGUSR1, exit code {REQUEUE_EXIT_CODE}), as designed"
    return Diagnosis(
        "time_limit",
        f"{how}: {then}",
        Evidence.of(line) if line else None,
        _join(
            checkpoint_text(facts),
            how_to_continue(facts)
            if not requeued
            else "Slurm runs it again under the same job id; training continues from that checkpoint.",
            raise_limit,
        ),
    )


def cancelled(facts: Facts) -> Diagnosis | None:
    found = _job_marker(facts)
    if not found and facts.state != "CANCELLED":
        return None
    who = f" by {facts.cancelled_by}" if facts.cancelled_by else ""
    when = f" at {found[1].group('at')}" if found else ""
    if not facts.training_started and not found and facts.state == "CANCELLED":
        summary = f"The job was cancelled{who}{when} (scancel), before it ran."
    else:
        progress = (
            f" during epoch {facts.epochs_done + 1}"
            if facts.epochs_done is not None and (not facts.epochs_planned or facts.epochs_done < facts.epochs_planned)
            else ""
        )
        summary = f"The job was cancelled{who}{when} (scancel){progress}."
    return Diagnosis(
        "cancelled",
        summary,
        Evidence.of(found[0]) if found else None,
        _join(checkpoint_text(facts), "Nothing to fix if that was intended. " + how_to_continue(facts)),
    )


def interrupted(facts: Facts) -> Diagnosis | None:
    """A local run's Snakemake stopped before the job ended (Ctrl-C, a kill, a reboot): Snakemake
    stopped the job, whatever the job's own last lines say."""
    if facts.state != "INTERRUPTED":
        return None
    found = _find(facts.lines, USER_STOP)
    how = "Ctrl-C" if found else "Ctrl-C, a kill, the machine's end"
    resumes = " Training continues from that checkpoint." if facts.checkpoint else ""
    return Diagnosis(
        "interrupted",
        f"Snakemake was stopped before this step ended ({how}).",
        Evidence.of(found[0]) if found else None,
        _join(
            checkpoint_text(facts),
            "Run the same `snakemake --cores N ...` command (`make run`) again: Snakemake marked its outputs "
            "incomplete; it reruns the step (should it refuse because of them, add --rerun-incomplete)." + resumes,
        ),
    )


# What to do when a check of the smoke test (cluster/smoke.py, `hpcseq smoke-test`) failed.
SMOKE_ADVICE = {
    "python": "The route's Python is outside what hpcseq supports (3.11 to 3.13): load another stage's Python "
    "module (Stages/2025: Python 3.12) and rebuild the venv with envs/setup.sh, or use the container route.",
    "keras": "tf.keras is not Keras 2 (tf_keras): install tf-keras of TensorFlow's version in the route "
    "(envs/training-*.txt pins both) and start Python through hpcseq, which sets TF_USE_LEGACY_KERAS=1.",
    "horovod_build": "Horovod lacks an operation or controller the job needs (NCCL for GPUs, MPI under srun): "
    "rebuild it with envs/horovod/build.sh after loading the CUDA, NCCL and OpenMPI modules (the build log "
    "in ~/.cache/hpcseq/wheels/ says what CMake found), or use the container route.",
    "imports": "The software route lacks TensorFlow, Horovod or a package of hpcseq: on the modules route check "
    "the venv (made by envs/setup.sh after the module loads; `pip install -e .` in it); on the container route "
    "run the image's python with the import on a login node (README, JURECA-DC).",
    "gpus": "TensorFlow sees fewer GPUs than the node gives each rank: check that the job got them (--gres), "
    "CUDA_VISIBLE_DEVICES, the CUDA of the route (the module's, or apptainer exec --nv), and a GPU build of "
    "TensorFlow; on a cluster without GPUs write the test with --expect-gpus 0.",
    "horovod": "Horovod did not start all ranks on all nodes: check the srun flags (--mpi=pspmix on JSC), on the "
    "container route PMIX_SECURITY_MODE and the image's MPI, and the network interface (clusters.<name>.network).",
    "allreduce": "An allreduce gave a wrong sum: the collective library (NCCL, MPI or Gloo) or the network between "
    "the nodes is broken; check clusters.<name>.network and NCCL_DEBUG=INFO in a rerun.",
}


def smoke_test(facts: Facts) -> Diagnosis | None:
    """The smoke test's own verdict: the checks that printed FAIL."""
    failed = [
        (line, match)
        for line, match in _find_all(facts.lines, SMOKE_CHECK.pattern)
        if match.group("result") == "FAIL" and match.group("check") != "all"
    ]
    if not failed:
        return None
    line, match = failed[0]
    checks = "; ".join(f"{found.group('check')}: {found.group('detail')}" for _, found in failed)
    return Diagnosis(
        "smoke_test",
        f"The smoke test failed: {checks}",
        Evidence.of(line),
        SMOKE_ADVICE.get(match.group("check"), "Read the job's output (the files listed above)."),
        also=[Evidence.of(other) for other, _ in failed[1:]],
    )


ERRORLIKE = re.compile(
    r"\b(?:error|exception|traceback|fatal|abort(?:ed)?|killed|segmentation fault|core dumped|"
    r"failed|failure|cannot|denied)\b",
    re.IGNORECASE,
)


def unknown(facts: Facts) -> Diagnosis:
    candidates = [line for line in facts.lines if ERRORLIKE.search(line.text) and not is_noise(line.text)]
    code = f" (exit code {facts.exit_code})" if facts.exit_code else ""
    if not candidates:
        return Diagnosis(
            "unknown",
            f"The job failed{code}, and its logs hold no error message.",
            None,
            "Look at the complete output (the files listed above)"
            + ("." if facts.local else "; if there is none, check where Slurm wrote it (#SBATCH --output/--error)."),
        )
    last = candidates[-6:]
    return Diagnosis(
        "unknown",
        f"The job failed{code} for a reason hpcseq does not recognise; the last error-like lines are shown.",
        Evidence.of(last[-1]),
        "Read these lines in context (the files listed above) to find the first error.",
        also=[Evidence.of(line) for line in last[:-1]],
    )


# Most specific first (see the module docstring).
PATTERNS: tuple[tuple[str, Callable[[Facts], Diagnosis | None]], ...] = (
    ("interrupted", interrupted),  # a local run's Snakemake stopped: its word is the last
    ("smoke_test", smoke_test),  # the smoke test's own verdict on what it checked
    ("gpu_out_of_memory", gpu_out_of_memory),
    ("host_out_of_memory", host_out_of_memory),
    ("node_failure", node_failure),
    ("preempted", preempted),
    ("collective_mismatch", collective_mismatch),
    ("nccl_cuda", nccl_cuda),
    ("environment", environment),
    ("mpi_launch", mpi_launch),
    ("rank_hung", rank_hung),  # unless the rank had an error of its own: the others' errors follow from it
    ("python_exception", python_exception),
    ("hpcseq_error", hpcseq_error),
    ("rank_died", rank_died),
    ("horovod_stall", horovod_stall),
    ("time_limit", time_limit),
    ("cancelled", cancelled),
)


def diagnose(facts: Facts) -> Diagnosis | None:
    """The cause of a job's end, or None for a job that completed, is waiting or runs normally.
    A running job is checked for a Horovod stall only (the one problem visible while it runs)."""
    if facts.state in ("PENDING", "REQUEUE_HOLD", "CONFIGURING"):
        return None
    if facts.state in ACTIVE_STATES:
        return horovod_stall(facts)
    if facts.state == "COMPLETED":
        return None
    for _, pattern in PATTERNS:
        found = pattern(facts)
        if found is not None:
            return found
    return unknown(facts) if facts.failed else None


# ------------------------------------------------------------------------------ noise, reasons

NOISE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: I |"  # TensorFlow INFO lines
    r"oneDNN custom operations are on|This TensorFlow binary is optimized to use available CPU instructions|"
    r"To enable the following instructions|rebuild TensorFlow with the appropriate compiler flags|"
    r"TF-TRT Warning|Unable to register cu(?:DNN|FFT|BLAS) factory|Could not find cuda drivers on your machine|"
    r"could not open file to read NUMA node|successful NUMA node read from SysFS|"
    r"disabling MLIR crash reproducer|Plugin optimizer for device_type|XLA service 0x[0-9a-f]+ initialized|"
    r"StreamExecutor device \(\d+\)|Compiled cluster using XLA|Loaded cuDNN version|"
    r"Created device /job:localhost|srun: cluster configuration lacks support for cpu binding|"
    r"^No job memory information \('mem_mb'|^WARNING: All log messages before absl::InitializeLog|"
    # TensorFlow >= 2.20 logs through absl before its own log level is read: INFO lines, and on a
    # machine without a GPU "failed call to cuInit: ... CUDA error ... (303)", after which it trains
    # on the CPU (seen with tensorflow-cpu 2.21.0)
    r"^I\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ [\w.]+:\d+\] |failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit"
)


def is_noise(text: str) -> bool:
    """TensorFlow/oneDNN start-up chatter and similar lines that never explain anything."""
    return bool(NOISE.search(text))


PENDING_REASONS = {
    "Resources": "waiting for free nodes/GPUs",
    "Priority": "other jobs have higher priority",
    "Dependency": "waiting for the jobs it depends on",
    "DependencyNeverSatisfied": "a job it depends on failed: it will never start (scancel it and resubmit)",
    "BeginTime": "asked to start later (--begin)",
    "JobHeldUser": "held by its owner (scontrol release <id>)",
    "JobHeldAdmin": "held by an administrator",
    "ReqNodeNotAvail": "the nodes it needs are down, drained or reserved (`sinfo -R` says why)",
    "PartitionTimeLimit": "its --time is above the partition's limit: it will never start",
    "PartitionNodeLimit": "it asks for more nodes than the partition has",
    "QOSMaxJobsPerUserLimit": "you run the most jobs this QoS allows at once",
    "AssocGrpBillingMinutes": "the project's compute budget is used up",
    "AssocGrpGRES": "the project uses all the GPUs it may use at once",
    "AssocMaxJobsLimit": "you run the most jobs your account allows at once",
    "Reservation": "waiting for its reservation to start",
    "launch failed requeued held": "its start failed; held (scontrol release <id> once the cause is fixed)",
    "BadConstraints": "its constraints cannot be met: it will never start",
    "InvalidAccount": "the account does not exist or you are not in it: it will never start",
    "InvalidQOS": "the QoS is invalid for this account: it will never start",
}


# What squeue shows instead of a reason's name when slurmctld gave the job a description of it.
REASON_DESCRIPTIONS = {
    "Nodes required for job are DOWN, DRAINED or reserved for jobs in higher priority partitions": "ReqNodeNotAvail",
}


def pending_reason(reason: str | None) -> str | None:
    """In words, the reason a job waits: its name (`Resources`), a name with details
    (`ReqNodeNotAvail, UnavailableNodes:node[2-3]`) or the description squeue shows for some."""
    if not reason:
        return None
    reason = reason.strip("()")
    name = REASON_DESCRIPTIONS.get(reason) or reason.split(",")[0].strip()
    return PENDING_REASONS.get(name)
