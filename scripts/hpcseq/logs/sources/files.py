"""Where a job's files are: Snakemake's Slurm logs and the generated scripts' output files in a
run directory, a log file named on the command line, and what sacct remembers of a submission
(its --output, its work directory, its batch script)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hpcseq.logs.sources.accounting import JOB_ID
from hpcseq.paths import SBATCH_OUTPUT_FILE, job_output_file

if TYPE_CHECKING:
    from hpcseq.logs.local import LocalJob
    from hpcseq.logs.sources.accounting import SlurmJob

SLURM_LOGS = Path(".snakemake") / "slurm_logs"


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
        match = SBATCH_OUTPUT_FILE.match(path.name)
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
    match = SBATCH_OUTPUT_FILE.match(name)
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
