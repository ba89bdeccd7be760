"""Fixtures for tests against the real local Slurm cluster (slurmctld, slurmd, slurmdbd, MariaDB,
munge), started by tests/cluster/local_slurm.sh. Needs root (the script installs packages with apt
and starts the daemons). The only stand-ins: each node's two GPUs are fake gres devices (this
machine has no GPU), and the four nodes are slurmd daemons in namespaces of their own on this one
machine (no second physical machine)."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from tests.conftest import REPO_ROOT, SLURM_PROFILE, run_snakemake, tiny_workflow_config, write_config

LOCAL_SLURM = REPO_ROOT / "tests" / "cluster" / "local_slurm.sh"
JSC_ACCOUNT = "jsc-budget"  # the only budget local_slurm.sh admits on its JSC-like partitions
TERMINAL = (
    "COMPLETED",
    "FAILED",
    "TIMEOUT",
    "CANCELLED",
    "OUT_OF_MEMORY",
    "NODE_FAIL",
    "PREEMPTED",
    "BOOT_FAIL",
    "DEADLINE",
)


@pytest.fixture(scope="session")
def local_slurm():
    if os.geteuid() != 0:
        raise RuntimeError("the Slurm tests start a local Slurm cluster and need root (CI runs them as root)")
    # started from /: the daemons it starts keep their files under its own directory
    # (HPCSEQ_SLURM_DIR), and none of them has the checkout as its working directory
    result = subprocess.run([str(LOCAL_SLURM), "start"], capture_output=True, text=True, timeout=900, cwd="/")
    if result.returncode != 0:
        raise RuntimeError(f"local Slurm did not start:\n{result.stdout}\n{result.stderr}")
    return "hpcseq"  # the account the script creates


def sacct(
    job_id: str, fields: str = "JobID,JobName%60,Partition,State,ExitCode,NTasks,AllocTRES%60,Elapsed"
) -> list[dict]:
    result = subprocess.run(
        ["sacct", "-j", str(job_id), "-P", "-n", f"--format={fields}"], capture_output=True, text=True, check=True
    )
    names = [name.split("%")[0] for name in fields.split(",")]
    return [dict(zip(names, line.split("|"), strict=False)) for line in result.stdout.splitlines() if line.strip()]


def wait_for_job(job_id: str, timeout: float = 600) -> dict:
    """Poll sacct until the job (its allocation line) reaches a terminal state; return that line."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        rows = [row for row in sacct(job_id) if row["JobID"] == str(job_id)]
        if rows and rows[0]["State"].split()[0].rstrip("+") in TERMINAL:
            time.sleep(2)  # let accounting settle (sacct briefly shows partial records)
            return next(row for row in sacct(job_id) if row["JobID"] == str(job_id))
        time.sleep(2)
    raise TimeoutError(f"job {job_id} not finished after {timeout} s: {sacct(job_id)}")


def squeue_field(job_id: str, field: str) -> str:
    """One squeue field (`%r`: the pending reason) of a job; empty once it left the queue."""
    return subprocess.run(["squeue", "-h", "-j", job_id, "-o", field], capture_output=True, text=True).stdout.strip()


def wait_for_pending_reason(job_id: str, expected: str | None = None, timeout: float = 60) -> str:
    """The pending reason Slurm gives a job once its scheduler has looked at it: any but None, or
    `expected`. A job's first reason can be a passing one (seen: Resources before BeginTime for a
    job submitted with --begin while other jobs waited for resources)."""
    deadline = time.time() + timeout
    while (reason := squeue_field(job_id, "%r")) in ("", "None") or (expected and reason != expected):
        assert time.time() < deadline, f"job {job_id}: pending reason {reason!r}, expected {expected or 'one'}"
        time.sleep(1)
    return reason


def sacct_row(job_id: str, fields: str, timeout: float = 30) -> dict:
    """The job's own line in sacct, once accounting has it."""
    deadline = time.time() + timeout
    while True:
        rows = [row for row in sacct(job_id, fields) if row["JobID"] == job_id]
        if rows or time.time() > deadline:
            assert rows, f"sacct has no record of job {job_id}"
            return rows[0]
        time.sleep(1)


def slurm_config(tmp_path: Path, account: str, data_stages_on_login_node: bool = False, **changes) -> Path:
    """The tiny config of the workflow tests, for the local cluster (2 ranks, short epochs).

    data_stages_on_login_node: preprocessing and vocabulary run where Snakemake runs, as on the JSC
    clusters (clusters.<name>.light_stages_on_login_node), for the tests about training jobs: two
    Slurm jobs fewer in a row, each of which costs a status-check interval of the profile."""
    shipped = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())
    if data_stages_on_login_node:
        shipped["clusters"]["local"]["light_stages_on_login_node"] = True
    config = tiny_workflow_config(tmp_path)
    config.update(
        cluster="local",
        clusters=shipped["clusters"],
        slurm={
            "account": account,
            "time": {"preprocess": "00:10:00", "vocabulary": "00:10:00", "train": "00:20:00", "evaluate": "00:10:00"},
        },
    )
    config.update(changes)
    return write_config(tmp_path, config)


def snakemake(*args, cwd: Path, timeout=1800, check=True) -> subprocess.CompletedProcess:
    """`snakemake <args>` run in `cwd`, a directory under tmp_path (see run_snakemake): its
    .snakemake/, the Slurm logs of `--profile slurm` included, stays there, and its Slurm jobs
    run there."""
    return run_snakemake(*args, cwd=cwd, timeout=timeout, check=check)


def rank_processes(job_id: str) -> dict[int, int]:
    """The pids of a running job's training ranks by rank, found by their environment
    (SLURM_JOB_ID, SLURM_PROCID) among the `hpcseq train` processes; srun itself also carries
    SLURM_PROCID, so the command must be python."""
    found = subprocess.run(["pgrep", "-f", "hpcseq train"], capture_output=True, text=True).stdout.split()
    ranks = {}
    for pid in map(int, found):
        try:
            environ = dict(
                item.split("=", 1)
                for item in Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace").split("\0")
                if "=" in item
            )
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        rank = environ.get("SLURM_PROCID", "")
        python = "python" in Path(command[0].decode(errors="replace")).name
        if environ.get("SLURM_JOB_ID") == job_id and rank.isdigit() and python:
            ranks.setdefault(int(rank), pid)
    return ranks


def rank_process(job_id: str, rank: int) -> int:
    """The pid of one training rank of a running job (rank_processes)."""
    ranks = rank_processes(job_id)
    if rank not in ranks:
        raise AssertionError(f"no training process of rank {rank} of job {job_id} (found ranks {sorted(ranks)})")
    return ranks[rank]


def epoch_metrics(final: dict) -> dict:
    """An epoch's metrics (a training summary's `final`) without its timing and without where the
    run resumed (resumed_at_step): what two runs of the same settings must agree on, bit for bit."""
    return {
        key: value
        for key, value in final.items()
        if "second" not in key and "time" not in key and not key.startswith("resumed")
    }


def slurm_logs(run_dir: Path, rule: str, experiment: str) -> Path:
    """Where `snakemake --profile slurm` run in run_dir keeps the Slurm logs of a rule's jobs."""
    return run_dir / ".snakemake" / "slurm_logs" / f"rule_{rule}" / experiment


PROFILE = ("--profile", str(SLURM_PROFILE))  # `--profile slurm` from outside the checkout

SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+) \(log: \S+/rule_(\w+)/(\w+)/")


@pytest.fixture(scope="session")
def profile_pipeline(local_slurm, tmp_path_factory) -> SimpleNamespace:
    """The whole tiny pipeline run once with `snakemake --profile slurm` (every rule a Slurm job),
    for the tests that look at its results, its jobs and its logs: root (config, results, logs),
    run_dir (where Snakemake ran), output, and submitted {job id: (rule, experiment)}."""
    root = tmp_path_factory.mktemp("profile_pipeline")
    config = slurm_config(root, local_slurm)
    run_dir = root / "run"
    run = snakemake(*PROFILE, "--configfile", str(config), cwd=run_dir)
    output = run.stdout + run.stderr
    submitted = {job: (rule, experiment) for job, rule, experiment in SUBMITTED.findall(output)}
    for job_id in submitted:
        wait_for_job(job_id, timeout=120)
    return SimpleNamespace(root=root, run_dir=run_dir, output=output, submitted=submitted)
