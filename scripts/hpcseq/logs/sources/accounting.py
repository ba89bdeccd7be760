"""What Slurm remembers of a job, parsed: sacct's allocation line and steps of each run (`-D`:
the earlier runs of a requeued job too), squeue's pending reason and expected start, and the
node failures `sacctmgr show event` records. Pure functions of text, so tests feed them
recorded answers."""

from __future__ import annotations

import pwd
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from hpcseq.durations import seconds_of

JOB_ID = re.compile(r"^\d+(?:_\d+)?$")  # <job id>[_<array index>]


def job_id_key(job_id: str) -> tuple:
    """Sorts job ids as numbers (an array job's tasks by index, after the job's own id)."""
    head, _, tail = job_id.partition("_")
    return (int(head) if head.isdigit() else 0, int(tail) if tail.isdigit() else -1, job_id)


SACCT_FIELDS = (
    "JobID",
    "JobIDRaw",
    "JobName",
    "State",
    "ExitCode",
    "Elapsed",
    "ElapsedRaw",
    "Timelimit",
    "TimelimitRaw",
    "NNodes",
    "AllocNodes",
    "NodeList",
    "NTasks",
    "AllocTRES",
    "Reason",
    "Submit",
    "Start",
    "End",
    "Partition",
    "WorkDir",
    "SubmitLine",
)  # SubmitLine last: it may contain the delimiter
SQUEUE_FORMAT = "%i|%T|%r|%M|%l|%D|%R|%b|%S|%j"
BASE_STATES = (
    "PENDING",
    "RUNNING",
    "SUSPENDED",
    "COMPLETING",
    "COMPLETED",
    "CANCELLED",
    "FAILED",
    "TIMEOUT",
    "NODE_FAIL",
    "PREEMPTED",
    "BOOT_FAIL",
    "DEADLINE",
    "OUT_OF_MEMORY",
    "REQUEUED",
    "RESIZING",
    "REVOKED",
    "CONFIGURING",
    "REQUEUE_HOLD",
    "REQUEUE_FED",
    "SPECIAL_EXIT",
    "STOPPED",
    "SIGNALING",
    "STAGE_OUT",
)


@dataclass
class SlurmStep:
    step_id: str
    name: str
    state: str
    exit_code: int | None
    exit_signal: int | None
    tasks: int | None
    elapsed_seconds: int | None
    command: str | None


@dataclass
class NodeEvent:
    """A node going down or failing, as Slurm's accounting recorded it (`sacctmgr show event`)."""

    node: str
    start: str
    state: str
    reason: str

    def text(self) -> str:
        return f"{self.node} {self.state.rstrip('*')} from {self.start}: {self.reason}"


# Node states that end the jobs on the node (sacctmgr writes DOWN* for a node that stopped answering)
FAILED_NODE_STATES = ("DOWN", "FAIL", "FAILING")


def expand_node_list(node_list: str | None) -> list[str]:
    """Slurm's compressed host list (`node[1-2,5],gpu07`) as names, in order."""
    names: list[str] = []
    for part in re.findall(r"[^,\[]+(?:\[[^\]]*\])?", node_list or ""):
        match = re.fullmatch(r"(?P<prefix>[^\[]+)\[(?P<ranges>[^\]]*)\]", part)
        if not match:
            names.append(part)
            continue
        for piece in match.group("ranges").split(","):
            first, _, last = piece.partition("-")
            for number in range(int(first), int(last or first) + 1):
                names.append(f"{match.group('prefix')}{number:0{len(first)}d}")
    return names


def parse_node_events(text: str) -> list[NodeEvent]:
    """Failures among `sacctmgr -n -P show event format=NodeName,TimeStart,State,Reason` lines."""
    events = []
    for line in text.splitlines():
        values = line.split("|", 3)
        if len(values) == 4 and values[0] and values[2].rstrip("*~#$@+") in FAILED_NODE_STATES:
            events.append(NodeEvent(*values))
    return events


@dataclass
class SlurmJob:
    """One job as Slurm tells it (sacct's allocation line and its steps, or squeue)."""

    job_id: str
    name: str | None = None
    state: str = "UNKNOWN"
    cancelled_by: str | None = None
    reason: str | None = None
    exit_code: int | None = None
    exit_signal: int | None = None
    elapsed_seconds: int | None = None
    limit_seconds: int | None = None
    nodes: int | None = None
    alloc_nodes: int | None = None  # sacct's AllocNodes: 0 while pending (what charges.py counts)
    node_list: str | None = None
    gpus: int | None = None
    submit: str | None = None
    start: str | None = None
    end: str | None = None
    partition: str | None = None
    work_dir: str | None = None
    submit_line: str | None = None
    expected_start: str | None = None
    steps: list[SlurmStep] = field(default_factory=list)
    earlier_runs: list[SlurmJob] = field(default_factory=list)  # sacct -D: requeued/failed before
    failed_nodes: list[NodeEvent] = field(default_factory=list)  # of a NODE_FAIL run: which node, when
    source: str = "sacct"

    @property
    def training_step(self) -> SlurmStep | None:
        """The step that ran training: its command names `hpcseq train`, else the widest step."""
        steps = [s for s in self.steps if s.step_id.split(".")[-1] not in ("batch", "extern")]
        for step in reversed(steps):
            if step.command and "hpcseq train" in step.command:
                return step
        wide = [s for s in steps if (s.tasks or 0) > 1]
        return wide[-1] if wide else None


@dataclass
class SlurmAnswer:
    jobs: dict[str, SlurmJob]
    notes: list[str]
    sacct_ok: bool
    sacct_failure: str | None = None  # sacct's first error line when it gave no accounting data


def parse_exit_code(text: str | None) -> tuple[int | None, int | None]:
    match = re.fullmatch(r"(\d+):(\d+)", (text or "").strip())
    return (int(match.group(1)), int(match.group(2))) if match else (None, None)


def user_name(uid: str) -> str:
    try:
        return pwd.getpwuid(int(uid)).pw_name
    except (KeyError, ValueError):
        return uid


def split_state(text: str) -> tuple[str, str | None]:
    """`CANCELLED by 1234` -> (CANCELLED, user name); `COMPLETED+` -> COMPLETED."""
    words = (text or "UNKNOWN").split()
    state = words[0].rstrip("+") if words else "UNKNOWN"
    by = user_name(words[2]) if len(words) >= 3 and words[1] == "by" else None
    return state, by


def gpus_of(tres: str | None) -> int | None:
    """GPUs of an AllocTRES string (`billing=2,cpu=2,gres/gpu=2,mem=2000M,node=1`)."""
    if not tres:
        return None
    total, seen = 0, False
    for item in tres.split(","):
        name, _, value = item.partition("=")
        if name == "gres/gpu":  # typed entries (gres/gpu:a100=4) repeat the same GPUs
            seen = True
            total += int(value) if value.isdigit() else 0
    return total if seen else 0


def _field(row: dict, name: str) -> str | None:
    value = row.get(name)
    return value if value not in (None, "", "Unknown", "None", "N/A") else None


def parse_sacct(text: str, fields: tuple[str, ...] = SACCT_FIELDS) -> dict[str, SlurmJob]:
    """Jobs of `sacct -P -n -D --format=<fields>` output, keyed by job id.

    Each job's allocation line comes first, then its steps (`<id>.batch`, `<id>.0`, ...). With
    -D, a requeued job appears once per run under the same id: the earlier runs (state REQUEUED,
    NODE_FAIL, PREEMPTED, ...) go to `earlier_runs`, the last one is the job.
    """
    jobs: dict[str, SlurmJob] = {}
    current: SlurmJob | None = None
    for row in _sacct_rows(text, fields):
        job_id = row.get("JobID", "")
        if "." not in job_id:
            job = _job_of_row(row)
            if job_id in jobs:
                previous = jobs[job_id]
                job.earlier_runs = [*previous.earlier_runs, previous]
                previous.earlier_runs = []
            jobs[job_id] = current = job
        elif current is not None and job_id.split(".")[0] == current.job_id:
            current.steps.append(_step_of_row(row))
    return jobs


def _sacct_rows(text: str, fields: tuple[str, ...]) -> Iterator[dict[str, str]]:
    """sacct's lines as {field: value}; a line with fewer values than fields is left out."""
    for line in text.splitlines():
        if not line.strip():
            continue
        values = line.split("|")
        if len(values) < len(fields):
            continue
        values = [*values[: len(fields) - 1], "|".join(values[len(fields) - 1 :])]  # SubmitLine may hold a '|'
        yield dict(zip(fields, values, strict=True))


def _job_of_row(row: dict[str, str]) -> SlurmJob:
    """One run of a job, from its allocation line."""
    state, by = split_state(row.get("State", ""))
    code, signal = parse_exit_code(row.get("ExitCode"))
    elapsed = row.get("ElapsedRaw")
    limit = row.get("TimelimitRaw")
    return SlurmJob(
        job_id=row.get("JobID", ""),
        name=_field(row, "JobName"),
        state=state,
        cancelled_by=by,
        reason=_field(row, "Reason"),
        exit_code=code,
        exit_signal=signal,
        elapsed_seconds=int(elapsed) if elapsed and elapsed.isdigit() else seconds_of(row.get("Elapsed")),
        limit_seconds=int(limit) * 60
        if limit and limit.isdigit() and int(limit) < 4294967295
        else seconds_of(row.get("Timelimit")),
        nodes=int(row["NNodes"]) if (row.get("NNodes") or "").isdigit() else None,
        alloc_nodes=int(row["AllocNodes"]) if (row.get("AllocNodes") or "").isdigit() else None,
        node_list=_field(row, "NodeList") if row.get("NodeList") != "None assigned" else None,
        gpus=gpus_of(row.get("AllocTRES")),
        submit=_field(row, "Submit"),
        start=_field(row, "Start"),
        end=_field(row, "End"),
        partition=_field(row, "Partition"),
        work_dir=_field(row, "WorkDir"),
        submit_line=_field(row, "SubmitLine"),
    )


def _step_of_row(row: dict[str, str]) -> SlurmStep:
    """One step of a job (`<id>.batch`, `<id>.0`, ...), from its line."""
    state, _ = split_state(row.get("State", ""))
    code, signal = parse_exit_code(row.get("ExitCode"))
    elapsed = row.get("ElapsedRaw")
    return SlurmStep(
        step_id=row.get("JobID", ""),
        name=row.get("JobName", ""),
        state=state,
        exit_code=code,
        exit_signal=signal,
        tasks=int(row["NTasks"]) if (row.get("NTasks") or "").isdigit() else None,
        elapsed_seconds=int(elapsed) if elapsed and elapsed.isdigit() else None,
        command=_field(row, "SubmitLine"),
    )


def parse_squeue(text: str) -> dict[str, SlurmJob]:
    """Jobs of `squeue -h -o '%i|%T|%r|%M|%l|%D|%R|%b|%S|%j'` output."""
    jobs = {}
    for line in text.splitlines():
        values = line.split("|")
        if len(values) < 10:
            continue
        values = [*values[:9], "|".join(values[9:])]  # the job name may hold a '|'
        job_id, state, reason, used, limit, nodes, where, gres, start, name = values
        state = state.strip()
        running = state not in ("PENDING", "REQUEUE_HOLD", "CONFIGURING")
        gpus = None
        match = re.search(r"gpu(?::[\w.-]+)?:(\d+)", gres)
        if match:
            gpus = int(match.group(1))
        jobs[job_id.strip()] = SlurmJob(
            job_id=job_id.strip(),
            name=name.strip() or None,
            state=state,
            reason=reason.strip() if reason.strip() not in ("None", "") else None,
            elapsed_seconds=seconds_of(used),
            limit_seconds=seconds_of(limit),
            nodes=int(nodes) if nodes.strip().isdigit() else None,
            node_list=where.strip() if running else None,
            gpus=gpus,
            expected_start=start.strip() if not running and start.strip() not in ("N/A", "") else None,
            source="squeue",
        )
    return jobs
