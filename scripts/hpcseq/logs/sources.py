"""Where a job's story is written: files in a run directory, and what Slurm remembers.

Files of Slurm jobs (local runs without Slurm: local.py):
  * Snakemake's Slurm logs `.snakemake/slurm_logs/rule_<rule>/<experiment>/<jobid>.log` (the
    job step's Snakemake output; its `log:` line names the rule's own log file, which holds the
    program's output and is overwritten by every attempt of the rule);
  * `<job>_out.<id>` / `<job>_err.<id>` of the generated sbatch scripts (job name = experiment);
  * under the results folder: `<experiment>/model/metrics.jsonl`, `ranks/rank-<r>.json`
    (SLURM_JOB_ID of the job that finished training), `checkpoints/epoch-*/state.json`.
Slurm: `sacct -P` (state, exit code, elapsed, limit, nodes allocated, tasks, GPUs; `-D` adds the
earlier runs of a requeued job) and `squeue` (pending reason). Both are optional: when they are missing,
or sacct fails (no accounting), the report says so and uses the files alone. These two are the
only subprocesses of `hpcseq logs`.
"""

from __future__ import annotations

import pwd
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hpcseq.durations import seconds_of
from hpcseq.errors import HpcseqError
from hpcseq.paths import SBATCH_OUTPUT_FILE, job_output_file

if TYPE_CHECKING:
    from hpcseq.logs.local import LocalJob

JOB_ID = re.compile(r"^\d+(?:_\d+)?$")
SBATCH_FILE = SBATCH_OUTPUT_FILE
SLURM_LOGS = Path(".snakemake") / "slurm_logs"


class LogsError(HpcseqError):
    """A usage error of `hpcseq logs` (exit code 2): an unknown job id, a missing path."""


# -------------------------------------------------------------------------------------- files


@dataclass
class JobFiles:
    """The files that belong to one job: a Slurm job's, or a local run's rule log (`local`)."""

    job_id: str  # Slurm's job id; for a local job, a key of its own (LocalJob.key)
    experiment: str | None = None
    rule: str | None = None  # Snakemake rule; None for a job of a generated sbatch script
    slurm_log: Path | None = None  # Snakemake's Slurm log of this job
    out: Path | None = None  # <job>_out.<id>
    err: Path | None = None  # <job>_err.<id>
    rule_log: Path | None = None  # the rule's log file (set once it is known to be this job's)
    local: LocalJob | None = None  # a job of a local run (no Slurm)

    @property
    def kind(self) -> str:
        if self.local is not None:
            return "local"
        if self.slurm_log:
            return "snakemake"
        return "sbatch" if self.out or self.err else "slurm"

    def paths(self) -> list[Path]:
        """Program output first (the rule's log, stdout), then Snakemake's/Slurm's (its Slurm log,
        stderr; for a local job, Snakemake's log of the run)."""
        run_log = Path(self.local.run.path) if self.local is not None and self.local.run is not None else None
        return [p for p in (self.rule_log, self.out, self.slurm_log, self.err, run_log) if p is not None]


def job_id_key(job_id: str) -> tuple:
    head, _, tail = job_id.partition("_")
    return (int(head) if head.isdigit() else 0, int(tail) if tail.isdigit() else -1, job_id)


def snakemake_log_files(run_dir: Path) -> dict[str, JobFiles]:
    found = {}
    base = run_dir / SLURM_LOGS
    if not base.is_dir():
        return found
    for path in sorted(base.glob("rule_*/*/*.log")):
        job_id = path.stem
        if not JOB_ID.match(job_id):
            continue
        rule = path.parent.parent.name[len("rule_") :]
        found[job_id] = JobFiles(job_id, experiment=path.parent.name, rule=rule, slurm_log=path)
    # the plugin puts jobs without wildcards directly under rule_<rule>/
    for path in sorted(base.glob("rule_*/*.log")):
        if JOB_ID.match(path.stem) and path.stem not in found:
            found[path.stem] = JobFiles(path.stem, rule=path.parent.name[len("rule_") :], slurm_log=path)
    return found


def sbatch_files(directory: Path) -> dict[str, JobFiles]:
    found: dict[str, JobFiles] = {}
    if not directory.is_dir():
        return found
    for path in sorted(directory.iterdir()):
        match = SBATCH_FILE.match(path.name)
        if not match or not path.is_file():
            continue
        files = found.setdefault(match.group("id"), JobFiles(match.group("id"), experiment=match.group("name")))
        setattr(files, match.group("kind"), path)
    return found


def discover(run_dir: Path) -> dict[str, JobFiles]:
    """Every job with files in a run directory: Snakemake's Slurm logs and sbatch output files."""
    jobs = sbatch_files(run_dir)
    jobs.update(snakemake_log_files(run_dir))
    return jobs


def files_of_path(path: Path) -> JobFiles | None:
    """A log file named on the command line: which job it belongs to, from its name and place."""
    name = path.name
    if JOB_ID.match(path.stem) and path.suffix == ".log" and path.parent.parent.name.startswith("rule_"):
        return JobFiles(
            path.stem, experiment=path.parent.name, rule=path.parent.parent.name[len("rule_") :], slurm_log=path
        )
    if JOB_ID.match(path.stem) and path.suffix == ".log" and path.parent.name.startswith("rule_"):
        return JobFiles(path.stem, rule=path.parent.name[len("rule_") :], slurm_log=path)
    match = SBATCH_FILE.match(name)
    if match:
        files = JobFiles(match.group("id"), experiment=match.group("name"))
        setattr(files, match.group("kind"), path)
        sibling = path.with_name(
            f"{match.group('name')}_{'err' if match.group('kind') == 'out' else 'out'}.{match.group('id')}"
        )
        if sibling.is_file():
            setattr(files, "err" if match.group("kind") == "out" else "out", sibling)
        return files
    return None


def files_from_slurm(job: SlurmJob) -> JobFiles | None:
    """Where a job's output went, from what sacct remembers of its submission: the `--output`
    of its submit line (Snakemake's plugin), else `<workdir>/<name>_out.<id>` (generated scripts)."""
    words = _split(job.submit_line or "")
    for index, word in enumerate(words):
        value = None
        if word in ("--output", "-o") and index + 1 < len(words):
            value = words[index + 1]
        elif word.startswith("--output="):
            value = word.split("=", 1)[1]
        if value:
            path = Path(value.replace("%j", job.job_id))
            if not path.is_absolute() and job.work_dir:
                path = Path(job.work_dir) / path
            if path.is_file():
                return files_of_path(path) or JobFiles(job.job_id, slurm_log=path)
    if job.work_dir and job.name:
        out = job_output_file(job.work_dir, job.name, job.job_id)
        if out.is_file():
            return files_of_path(out)
    return None


def script_of(job: SlurmJob) -> str | None:
    """The batch script a job was submitted with (the last word of `sbatch ... script.sbatch`)."""
    words = _split(job.submit_line or "")
    if len(words) >= 2 and words[0].endswith("sbatch") and not any(w.startswith("--wrap") for w in words):
        candidate = words[-1]
        if not candidate.startswith("-"):
            return candidate
    return None


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


# -------------------------------------------------------------------------------------- Slurm

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
    for line in text.splitlines():
        if not line.strip():
            continue
        values = line.split("|")
        if len(values) < len(fields):
            continue
        values = [*values[: len(fields) - 1], "|".join(values[len(fields) - 1 :])]  # SubmitLine may hold a '|'
        row = dict(zip(fields, values, strict=True))
        job_id = row.get("JobID", "")
        if "." not in job_id:
            state, by = split_state(row.get("State", ""))
            code, signal = parse_exit_code(row.get("ExitCode"))
            elapsed = row.get("ElapsedRaw")
            limit = row.get("TimelimitRaw")
            job = SlurmJob(
                job_id=job_id,
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
            if job_id in jobs:
                previous = jobs[job_id]
                job.earlier_runs = [*previous.earlier_runs, previous]
                previous.earlier_runs = []
            jobs[job_id] = job
            current = job
        elif current is not None and job_id.split(".")[0] == current.job_id:
            state, _ = split_state(row.get("State", ""))
            code, signal = parse_exit_code(row.get("ExitCode"))
            elapsed = row.get("ElapsedRaw")
            current.steps.append(
                SlurmStep(
                    step_id=job_id,
                    name=row.get("JobName", ""),
                    state=state,
                    exit_code=code,
                    exit_signal=signal,
                    tasks=int(row["NTasks"]) if (row.get("NTasks") or "").isdigit() else None,
                    elapsed_seconds=int(elapsed) if elapsed and elapsed.isdigit() else None,
                    command=_field(row, "SubmitLine"),
                )
            )
    return jobs


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


def run_command(argv: list[str], timeout: float = 60) -> tuple[int, str, str]:
    """(exit code, stdout, stderr); exit code 127 when the program does not exist."""
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        return 127, "", f"{argv[0]}: command not found"
    except subprocess.TimeoutExpired:
        return 124, "", f"{argv[0]} did not answer within {timeout:.0f} s"
    except OSError as error:
        return 126, "", f"{argv[0]}: {error}"
    return result.returncode, result.stdout, result.stderr


@dataclass
class Slurm:
    """sacct and squeue, each optional (the names can point elsewhere for tests)."""

    sacct: str = "sacct"
    squeue: str = "squeue"
    sacctmgr: str = "sacctmgr"

    def failed_nodes(self, run: SlurmJob) -> list[NodeEvent]:
        """The nodes of a NODE_FAIL run that went down while it ran (Slurm's node events)."""
        if run.state != "NODE_FAIL" or not run.node_list or not run.start or not run.end:
            return []
        # the node's event starts when slurmctld gives up on it, which is also when the run ends
        query = ["show", "event", f"nodes={run.node_list}", f"start={run.start}"]
        code, out, _ = run_command([self.sacctmgr, "-n", "-P", *query, "format=NodeName,TimeStart,State,Reason"])
        if code != 0:
            return []
        return [event for event in parse_node_events(out) if run.start <= event.start <= run.end]

    def accounting(self, job_ids: list[str]) -> tuple[dict[str, SlurmJob], str | None]:
        """sacct's jobs (every run, with -D) of one call for all ids, or ({}, why sacct gave none)."""
        ids = ",".join(sorted(set(job_ids), key=job_id_key))
        code, out, err = run_command([self.sacct, "-P", "-n", "-D", "-j", ids, f"--format={','.join(SACCT_FIELDS)}"])
        if code != 0:
            return {}, (err.strip() or out.strip() or f"exit code {code}").splitlines()[0]
        return parse_sacct(out), None

    def query(self, job_ids: list[str]) -> SlurmAnswer:
        notes: list[str] = []
        if not job_ids:
            return SlurmAnswer({}, notes, True)
        ids = ",".join(sorted(set(job_ids), key=job_id_key))
        jobs, failure = self.accounting(job_ids)
        sacct_ok = failure is None
        if sacct_ok:
            for job in jobs.values():
                for run in (*job.earlier_runs, job):
                    run.failed_nodes = self.failed_nodes(run)
        else:
            notes.append(f"sacct gave no accounting data ({failure}): states come from squeue and the log files")
        code, out, err = run_command([self.squeue, "-h", "-j", ids, "-o", SQUEUE_FORMAT])
        if code == 0:
            for job_id, queued in parse_squeue(out).items():
                known = jobs.get(job_id)
                if known is None:
                    jobs[job_id] = queued
                    continue
                # squeue knows the live state better: the pending reason and the expected start
                if queued.state == "PENDING" or known.state in ("PENDING", "RUNNING"):
                    known.state = queued.state
                    known.reason = queued.reason or known.reason
                    known.expected_start = queued.expected_start
                    if queued.elapsed_seconds is not None:
                        known.elapsed_seconds = queued.elapsed_seconds
        elif not sacct_ok:
            first = (err.strip() or f"exit code {code}").splitlines()[0]
            notes.append(f"squeue did not answer either ({first}): states come from the log files alone")
        return SlurmAnswer(jobs, notes, sacct_ok, failure)
