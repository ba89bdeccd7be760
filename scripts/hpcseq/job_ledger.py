"""results/<experiment>/slurm_jobs.jsonl: the Slurm jobs that made an experiment's results.

Each stage command (`hpcseq preprocess`, `vocab`, `train`, `evaluate`) that runs inside a Slurm
job (SLURM_JOB_ID set) appends one JSON line, {"job_id", "stage", "recorded", "host", "cluster"},
the first time that stage runs in that job: the runs of a requeued job (same id) add nothing, and a
job that runs several stages (a generated job script; training then evaluation in one job) has a
line per stage under the same id. Of a training's ranks only rank 0 writes. Job scripts of
`hpcseq sbatch` and the Snakemake profile's jobs run these same commands, so both are recorded; a
stage run outside Slurm (a local run, the data stages on a login node) writes nothing, it is not
charged. The scaling study's and the sweeps' runs (--model-dir, --eval-dir) are not the
experiment's results and are not recorded here. `hpcseq summary` reads the ledger and sums the
charges of its jobs (hpcseq.logs.charges).

Lines are appended under a lock (`.slurm_jobs.lock`, fcntl) as one write each; the ledger is only
rewritten (atomically, by rename) when training starts over: LEDGER_RULE says what then happens.
Writing it never fails a stage: a ledger that cannot be written is a warning.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from hpcseq.events import get_logger
from hpcseq.io import append_line, atomic_open
from hpcseq.paths import ExperimentPaths

DATA_STAGES = ("preprocess", "vocab")
MODEL_STAGES = ("train", "evaluate")
STAGES = DATA_STAGES + MODEL_STAGES
# the one sentence results/summary.md says about which jobs it counts
LEDGER_RULE = (
    "The jobs counted are those recorded in results/<experiment>/slurm_jobs.jsonl by the stages run inside "
    "Slurm jobs since the experiment's training last started over from scratch (`hpcseq train --restart`, "
    "or the checkpoints of other settings set aside after a settings change): that start moves the earlier "
    "training and evaluation jobs, and data jobs that newer ones replaced, to slurm_jobs.set-aside.jsonl, "
    "and brings back those of the settings whose checkpoints it brings back."
)
# where a rank's number is before Horovod starts: MPI's launchers first (under mpirun in a batch
# job, every rank inherits the batch step's SLURM_PROCID 0), then srun's
RANK_VARIABLES = ("HOROVOD_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID")


def slurm_job_id(environ: dict | os._Environ = os.environ) -> str | None:
    """This process's Slurm job as sacct names it (`<array job>_<task>` for an array task), or None."""
    if environ.get("SLURM_ARRAY_JOB_ID") and environ.get("SLURM_ARRAY_TASK_ID"):
        return f"{environ['SLURM_ARRAY_JOB_ID']}_{environ['SLURM_ARRAY_TASK_ID']}"
    return environ.get("SLURM_JOB_ID") or None


def launch_rank(environ: dict | os._Environ = os.environ) -> int:
    """This process's rank as its launcher set it (0 for a process started alone)."""
    for name in RANK_VARIABLES:
        if (environ.get(name) or "").isdigit():
            return int(environ[name])
    return 0


def records_here(paths: ExperimentPaths) -> bool:
    """The experiment's own results, not a scaling or sweep run's model or eval folder (the
    workflow names the experiment's own with --model-dir and --eval-dir too)."""
    own = ExperimentPaths.of(paths.results_dir, paths.name)
    return all(
        Path(os.path.abspath(mine)) == Path(os.path.abspath(default))
        for mine, default in ((paths.model_dir, own.model_dir), (paths.eval_dir, own.eval_dir))
    )


def read_ledger(path: Path) -> list[dict]:
    """The entries of a ledger file, oldest first; unreadable lines and a missing file are none."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    entries = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and entry.get("job_id") and entry.get("stage"):
            entries.append(entry)
    return entries


@contextlib.contextmanager
def _locked(paths: ExperimentPaths) -> Iterator[None]:
    """The ledger's lock, held across read and write (fcntl locks work on NFS and GPFS too)."""
    paths.slurm_jobs_lock.parent.mkdir(parents=True, exist_ok=True)
    with open(paths.slurm_jobs_lock, "a") as handle:
        try:
            fcntl.lockf(handle, fcntl.LOCK_EX)
        except OSError as error:  # a file system without locks: go on, appends stay whole lines
            get_logger().warning("slurm job ledger: no lock on %s (%s)", paths.slurm_jobs_lock, error)
        yield


def record_stage(paths: ExperimentPaths, stage: str, environ: dict | os._Environ = os.environ) -> dict | None:
    """Append this Slurm job's line for `stage` unless it is there; returns the entry written.

    Nothing outside Slurm, on ranks other than 0, or for a scaling or sweep run."""
    job_id = slurm_job_id(environ)
    if job_id is None or launch_rank(environ) != 0 or not records_here(paths):
        return None
    entry = {
        "job_id": job_id,
        "stage": stage,
        "recorded": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": socket.gethostname(),
        "cluster": environ.get("SLURM_CLUSTER_NAME"),
    }
    try:
        with _locked(paths):
            if any((e["job_id"], e["stage"]) == (job_id, stage) for e in read_ledger(paths.slurm_jobs)):
                return None
            append_line(paths.slurm_jobs, json.dumps(entry))
    except OSError as error:
        get_logger().warning("slurm job %s not recorded in %s: %s", job_id, paths.slurm_jobs, error)
        return None
    return entry


def split_at_start_over(entries: list[dict], job_id: str | None) -> tuple[list[dict], list[dict]]:
    """(kept, set aside) when training starts over in job `job_id`: the lines of this job stay; of
    the others, training and evaluation jobs go, and data jobs go where newer ones replaced them:
    those recorded after the last training or evaluation line are the data the new start trains on,
    else (the data were not made again) all data jobs stay."""
    others = [entry for entry in entries if entry["job_id"] != job_id]
    last_model = max((i for i, entry in enumerate(others) if entry["stage"] in MODEL_STAGES), default=-1)
    newer_data = [i for i, entry in enumerate(others) if entry["stage"] in DATA_STAGES and i > last_model]
    keep_data = set(newer_data) if newer_data else {i for i, e in enumerate(others) if e["stage"] in DATA_STAGES}
    kept = [entry for i, entry in enumerate(others) if i in keep_data]
    aside = [entry for i, entry in enumerate(others) if i not in keep_data]
    return kept + [entry for entry in entries if entry["job_id"] == job_id], aside


def start_over(
    paths: ExperimentPaths, set_aside_as: str, brought_back: str | None = None, environ=os.environ
) -> list[dict]:
    """Training starts over (LEDGER_RULE): set the ledger's earlier entries aside under
    `set_aside_as` (the hash of the settings whose checkpoints were set aside, or `restart`), and
    bring back the training and evaluation entries set aside under `brought_back`. Returns those
    set aside."""
    if not records_here(paths):
        return []
    try:
        with _locked(paths):
            return _move_entries(paths, set_aside_as, brought_back, slurm_job_id(environ))
    except OSError as error:
        get_logger().warning("slurm job ledger %s not updated for the new start: %s", paths.slurm_jobs, error)
        return []


def _move_entries(paths: ExperimentPaths, set_aside_as: str, brought_back: str | None, job_id: str | None):
    entries, archive = read_ledger(paths.slurm_jobs), read_ledger(paths.slurm_jobs_set_aside)
    kept, aside = split_at_start_over(entries, job_id)

    def returns(entry: dict) -> bool:
        return entry["stage"] in MODEL_STAGES and (entry.get("set_aside") or {}).get("as") == brought_back

    back = [entry for entry in archive if brought_back and returns(entry)]
    if not aside and not back:
        return []
    stamp = {"as": set_aside_as, "by_job": job_id, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    archive = [entry for entry in archive if entry not in back] + [{**entry, "set_aside": stamp} for entry in aside]
    restored = [{key: value for key, value in entry.items() if key != "set_aside"} for entry in back]
    own = [entry for entry in kept if entry["job_id"] == job_id]
    _rewrite(paths.slurm_jobs_set_aside, archive)
    _rewrite(paths.slurm_jobs, [entry for entry in kept if entry not in own] + restored + own)
    return aside


def _rewrite(path: Path, entries: list[dict]) -> None:
    with atomic_open(path) as handle:
        handle.writelines(json.dumps(entry) + "\n" for entry in entries)


def jobs_of(entries: list[dict]) -> dict[str, list[str]]:
    """{job id: its stages in pipeline order}, the jobs in the order they were first recorded."""
    jobs: dict[str, list[str]] = {}
    for entry in entries:
        stages = jobs.setdefault(str(entry["job_id"]), [])
        if entry["stage"] not in stages:
            stages.append(entry["stage"])
    order = {stage: index for index, stage in enumerate(STAGES)}
    return {job: sorted(stages, key=lambda stage: order.get(stage, len(STAGES))) for job, stages in jobs.items()}
