"""The jobs to show and the attempts of the same step: collect() finds the jobs the command line
names, asks Slurm about them once, links the attempts of the same step (Snakemake retries,
resubmissions) and builds each job's record (build.py). The jobs of local runs (local.py) come
after the Slurm jobs, stage by stage."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from hpcseq.logs.assemble.build import build_record
from hpcseq.logs.assemble.job_logs import JobContext
from hpcseq.logs.assemble.targets import LogsError, Targets, classify, local_job_files
from hpcseq.logs.charges import OUTSIDE_SLURM, job_charges
from hpcseq.logs.diagnose import stage_of
from hpcseq.logs.local import STAGES, discover_local, run_directory
from hpcseq.logs.record import JobRecord
from hpcseq.logs.sources.accounting import SlurmAnswer, job_id_key
from hpcseq.logs.sources.files import JobFiles, discover, files_from_slurm
from hpcseq.logs.sources.slurm import Slurm

WAITING_STATES = ("PENDING", "REQUEUE_HOLD")  # Slurm's states of a job that has not started
# The Slurm plugin names every job of a run after the run: [<slurm-jobname-prefix>_]<uuid>
RUN_NAME = re.compile(r"^(?:[A-Za-z0-9_-]+_)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def collect(
    targets: list[str], results_dir: Path | None = None, slurm: Slurm | None = None, cwd: Path | None = None
) -> tuple[list[JobRecord], list[str]]:
    """One JobRecord per job named by `targets` (job ids, log files, run directories), and notes."""
    wanted = classify(targets, cwd or Path.cwd(), results_dir)
    found, shown = _files_shown(wanted, results_dir)
    # the other attempts of the same steps: which one came before or after a job shown
    related = {**_attempts_of(found, shown), **shown}
    slurm_ids = {job_id for job_id, files in related.items() if files.local is None} | set(wanted.job_ids)
    answer = (slurm or Slurm()).query(sorted(slurm_ids, key=job_id_key))
    notes = list(answer.notes)
    for job_id in wanted.job_ids:
        if job_id not in shown:
            shown[job_id] = related[job_id] = _files_slurm_knows(job_id, answer, wanted.run_dirs, notes)
    contexts = {job_id: JobContext(files, answer.jobs.get(job_id)) for job_id, files in related.items()}
    _chains(contexts)
    order = sorted(shown, key=lambda job_id: _order(shown[job_id]))
    notes += [note for files in shown.values() if files.local for note in files.local.place.notes if note not in notes]
    records = [build_record(contexts[job_id], results_dir, wanted.run_dirs[0]) for job_id in order]
    for record, job_id in zip(records, order, strict=True):
        local = contexts[job_id].files.local is not None
        record.charges = OUTSIDE_SLURM if local else job_charges(contexts[job_id].slurm, answer.sacct_failure)
    return records, notes


def _order(files: JobFiles) -> tuple:
    """Slurm jobs by job id, then the jobs of local runs stage by stage."""
    if files.local is not None:
        return (1, STAGES.index(files.local.stage), files.local.experiment)
    return (0, job_id_key(files.job_id))


def _files_shown(wanted: Targets, results_dir: Path | None = None) -> tuple[dict[str, JobFiles], dict[str, JobFiles]]:
    """The files of every job found, and of the jobs to show: all in the named run directories
    (with `local`: their local jobs), else those of the named ids."""
    found: dict[str, JobFiles] = {}
    for run_dir in wanted.run_dirs:
        slurm_jobs = discover(run_dir)
        found.update(slurm_jobs)
        if not wanted.named_dirs:
            continue  # only jobs named by id: Slurm's
        slurm_steps = {(stage_of(files.rule), files.experiment) for files in slurm_jobs.values() if files.rule}
        for job in discover_local(run_directory(run_dir, results_dir), slurm_steps).values():
            found[job.key] = local_job_files(job)
    for files in wanted.files:
        found[files.job_id] = files
    shown = dict(found) if wanted.named_dirs else {}
    if wanted.local_only:
        shown = {job_id: files for job_id, files in shown.items() if files.local is not None}
    shown.update({job_id: found[job_id] for job_id in wanted.job_ids if job_id in found})
    shown.update({files.job_id: files for files in wanted.files})
    return found, shown


def _attempts_of(found: dict[str, JobFiles], shown: dict[str, JobFiles]) -> dict[str, JobFiles]:
    """The jobs found that are attempts of the same step as a job shown."""
    steps = {_step_of(files) for files in shown.values()}
    return {job_id: files for job_id, files in found.items() if _step_of(files) in steps}


def _files_slurm_knows(job_id: str, answer: SlurmAnswer, run_dirs: list[Path], notes: list[str]) -> JobFiles:
    """A named job without files in the run directories: where Slurm says it wrote them, else none."""
    places = ", ".join(str(d) for d in run_dirs)
    known = answer.jobs.get(job_id)
    if known is None:
        raise LogsError(
            f"job {job_id}: no log files in {places}, and "
            + ("Slurm does not know it" if answer.sacct_ok else "sacct/squeue could not tell")
            + " (give the run directory or the log file)"
        )
    located = files_from_slurm(known)
    if located is not None:
        return located
    if known.state not in WAITING_STATES:
        notes.append(f"job {job_id}: no log files found (looked in {places} and where Slurm says it wrote them)")
    # a Snakemake job's name is the run's (RUN_NAME), a generated script's the experiment
    return JobFiles(job_id, experiment=known.name if known.name and not RUN_NAME.match(known.name) else None)


def _chains(contexts: dict[str, JobContext]) -> None:
    """Attempts of the same step (Snakemake retries of a rule for an experiment; resubmissions of a
    job script) in job id order: each knows the one before and after; only the latest started one
    owns the rule's log file, which every attempt overwrites."""
    groups: dict[tuple, list[JobContext]] = {}
    for context in contexts.values():
        groups.setdefault(_step_of(context.files), []).append(context)
    for members in groups.values():
        members.sort(key=lambda c: job_id_key(c.files.job_id))
        for before, after in itertools.pairwise(members):
            before.next_job, after.previous_job = after.files.job_id, before.files.job_id
        started = [c for c in members if c.slurm is None or c.slurm.state not in WAITING_STATES]
        owner = started[-1] if started else None
        for context in members:
            context.owns_rule_log = context is owner


def _step_of(files: JobFiles) -> tuple:
    """What the attempts of one step share: kind, rule, experiment and the folder of their files."""
    first = files.slurm_log or files.out or files.err
    return (files.kind, files.rule, files.experiment, str(first.parent) if first else "")
