"""The command line of `hpcseq logs`: which of its targets are job ids, `local`, log files and run
directories; and its usage error."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hpcseq.errors import HpcseqError
from hpcseq.logs.local import LOCAL, STAGES, LocalJob, local_job_of_path
from hpcseq.logs.sources.accounting import JOB_ID
from hpcseq.logs.sources.files import JobFiles, files_of_path


class LogsError(HpcseqError):
    """A usage error of `hpcseq logs` (exit code 2): an unknown job id, a missing path."""


@dataclass
class Targets:
    """What the command line names."""

    run_dirs: list[Path] = field(default_factory=list)  # where files are looked for
    named_dirs: bool = False  # run directories were named: show all their jobs
    files: list[JobFiles] = field(default_factory=list)
    job_ids: list[str] = field(default_factory=list)
    local_only: bool = False  # `local`: the jobs of local runs only


def classify(targets: list[str], cwd: Path, results_dir: Path | None = None) -> Targets:
    """Job ids, `local`, log files and run directories of the command line (none: the current directory)."""
    found = Targets()
    for target in targets:
        path = Path(target)
        if JOB_ID.match(target) and not path.exists():
            found.job_ids.append(target)
        elif target == LOCAL and not path.exists():
            found.local_only = True
        elif path.is_dir():
            found.run_dirs.append(path)
        elif path.is_file():
            files = files_of_path(path) or local_job_files(local_job_of_path(path, results_dir))
            if files is None:
                raise LogsError(
                    f"{target}: not a log hpcseq knows (<job>_out.<id>, <job>_err.<id>, "
                    ".snakemake/slurm_logs/rule_<rule>/<experiment>/<id>.log, or a rule's log "
                    f"<logs_dir>/<stage>/<experiment>.log of a local run, stage one of {', '.join(STAGES)})"
                )
            found.files.append(files)
        else:
            raise LogsError(f"{target}: neither a job id nor an existing file or directory (nor `{LOCAL}`)")
    found.named_dirs = bool(found.run_dirs) or not targets or found.local_only
    if not found.run_dirs:
        found.run_dirs.append(cwd)
    return found


def local_job_files(job: LocalJob | None) -> JobFiles | None:
    """A local job's files: its rule log (and, through `local`, Snakemake's log of its run)."""
    if job is None:
        return None
    return JobFiles(job.key, experiment=job.experiment, rule=job.rule, rule_log=job.rule_log, local=job)
