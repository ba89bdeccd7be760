"""Where a hand-submitted job script (`hpcseq sbatch`, `hpcseq smoke-test`) runs, for which
cluster, and which config file its steps read there."""

from __future__ import annotations

from pathlib import Path

from hpcseq.cluster.jobscript import SUBMIT_DIR
from hpcseq.cluster.validators import ConfigChecks, path_value
from hpcseq.errors import ConfigError
from hpcseq.paths import DEFAULT_CONFIG_PATH, REPO_ROOT


def one_config_file(files: list[Path] | None) -> Path:
    """The config file a job script's steps read again where the job runs: one file (default:
    config/config.yaml)."""
    files = files or [DEFAULT_CONFIG_PATH]
    if len(files) > 1:
        raise ConfigError(
            "--configfile",
            "a job script's steps read one config file where the job runs: give one (size its training with "
            "--nodes N, or set what the other files set in it)",
        )
    return files[0]


def named_cluster(cluster: str | None) -> str:
    """The cluster a job script is for: the one given, else the config's `cluster`."""
    if cluster is None:
        raise ConfigError("cluster", "name a cluster with --cluster (or set `cluster` in the config)")
    return cluster


def job_location(workdir: str | None, config_path: Path) -> tuple[str, str]:
    """(the directory a job script cds into, the config file as the job names it).

    A job runs in the repository's clone on the cluster: the directory it is submitted from
    ($SLURM_SUBMIT_DIR), or --workdir (which may hold $PROJECT and the like, expanded there), never
    this machine's path of it. It names the config by its path inside the repository, the same in
    every clone."""
    checks = ConfigChecks()
    checks.optional(path_value, workdir, "--workdir")
    checks.raise_errors()

    resolved = config_path.resolve()
    try:
        in_repository = str(resolved.relative_to(REPO_ROOT))
    except ValueError:
        if workdir is not None and Path(workdir).resolve() != REPO_ROOT:  # a clone elsewhere cannot read it
            raise ConfigError(
                "--configfile",
                f"{config_path} lies outside the repository ({REPO_ROOT}), so a job in --workdir {workdir} "
                "cannot read it: put the config into the repository (and its clone on the cluster)",
            ) from None
        in_repository = str(resolved)
    return str(workdir) if workdir is not None else SUBMIT_DIR, in_repository
