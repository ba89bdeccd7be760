"""What a cluster admits before anything is submitted: the compute budget (account) its jobs are
charged to, where it requires one, and each partition's limits on time and nodes.

The account of a job comes from slurm.account (the config file, `--config 'slurm={account: X}'`,
`hpcseq sbatch --account X`), else from SBATCH_ACCOUNT in the environment: the variable sbatch
itself reads as its --account ("SBATCH_ACCOUNT: Same as -A, --account", sbatch(1) of Slurm 22.05,
INPUT ENVIRONMENT VARIABLES). hpcseq hands that account to the Snakemake plugin and writes it into
job scripts explicitly: the plugin's own guess of an account (plugin 2.8.0, accounts.py) fails and
it then submits without one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from hpcseq.cluster.validators import ConfigChecks, positive_int, slurm_name
from hpcseq.durations import format_time, time_seconds
from hpcseq.errors import ConfigError

# The environment variable sbatch reads as --account, and hpcseq too when no slurm.account is set.
ACCOUNT_VARIABLE = "SBATCH_ACCOUNT"
# Inside a job: the account Slurm charges it to (a Snakemake driver run as a job hands it on).
JOB_ACCOUNT_VARIABLE = "SLURM_JOB_ACCOUNT"
# Set inside every Slurm job. The Slurm plugin runs Snakemake again inside each job it submitted,
# and its job step (snakemake-executor-plugin-slurm-jobstep 0.6.1) strips SBATCH_* and
# SLURM_JOB_ACCOUNT from that Snakemake's environment: a job already admitted with a budget is not
# refused there for want of one (seen on the test cluster).
JOB_ID_VARIABLE = "SLURM_JOB_ID"
# A partition's limits, clusters.<name>.<setting>.<partition role>, each value read by its check:
# max_time in Slurm's time formats (kept in Cluster.max_time), max_nodes a whole number (Limits).
PARTITION_LIMITS = {"max_time": time_seconds, "max_nodes": positive_int}


@dataclass(frozen=True)
class Limits:
    """A cluster's admission rules beyond its partitions' time limits (Cluster.max_time)."""

    account_required: bool = False
    max_nodes: Mapping[str, int] | None = None  # by partition role; a role not named has no limit


def parse_limits(name: str, raw: dict) -> Limits:
    """clusters.<name>.account_required and .max_nodes, validated; raises ConfigErrors."""
    key = f"clusters.{name}"
    checks = ConfigChecks()
    required = raw.get("account_required", False)
    if not isinstance(required, bool):
        checks.errors.append(ConfigError(f"{key}.account_required", f"{required!r} is not true or false"))
    max_nodes = parse_partition_limits(key, raw, "max_nodes", checks)
    checks.raise_errors()
    return Limits(account_required=required, max_nodes=max_nodes)


def parse_partition_limits(key: str, raw: dict, setting: str, checks: ConfigChecks) -> dict[str, int]:
    """`{key}.{setting}` (one of PARTITION_LIMITS) as {partition role: limit}, each value checked;
    a role not named has no limit."""
    check = PARTITION_LIMITS[setting]
    return {
        role: checks.value(check, value, f"{key}.{setting}.{role}") for role, value in (raw.get(setting) or {}).items()
    }


def job_account(site: dict, environ: Mapping[str, str] | None = None) -> str | None:
    """The account of a job: the validated slurm.account of `site`, else SBATCH_ACCOUNT, else (inside
    a job) SLURM_JOB_ACCOUNT, each validated like slurm.account so that it is safe in a job script;
    else None."""
    if site.get("account"):
        return site["account"]
    environ = os.environ if environ is None else environ
    for variable in (ACCOUNT_VARIABLE, JOB_ACCOUNT_VARIABLE):
        value = environ.get(variable)
        if value:
            try:
                return slurm_name(value)
            except ValueError as problem:
                raise ConfigError(f"slurm.account (from ${variable})", str(problem)) from None
    return None


def missing_account(cluster_name: str) -> ConfigError:
    """The error for a cluster that charges every job to a budget when none is given."""
    return ConfigError(
        "slurm.account",
        f"cluster {cluster_name} charges every job to a compute budget (clusters.{cluster_name}.account_required) "
        "and none is given; give one in any of three ways: slurm.account in the config file; on the command "
        "line (`snakemake --config 'slurm={account: NAME}'`, `hpcseq sbatch --account NAME`); or "
        f"`export {ACCOUNT_VARIABLE}=NAME` (on JSC systems `jutil user projects` lists your budgets)",
    )


def account_problem(config: dict, cluster_name: str, environ: Mapping[str, str] | None = None) -> ConfigError | None:
    """Why jobs on this cluster cannot be submitted for want of a budget (None: they can)."""
    raw = config.get("clusters", {}).get(cluster_name)
    if raw is None:
        return None
    environ = os.environ if environ is None else environ
    try:
        limits = parse_limits(cluster_name, raw)
        account = job_account(config.get("slurm", {}), environ)
    except ConfigError as error:
        return error
    if limits.account_required and not account and JOB_ID_VARIABLE not in environ:
        return missing_account(cluster_name)
    return None


def check_partition_limits(
    limits: Limits,
    max_time: Mapping[str, int],
    where: tuple[str, str, str],
    seconds: tuple[int, str],
    nodes: tuple[int, int, str] | None,
) -> None:
    """Raise a ConfigError naming key, value, limit and partition when a job asks for more time or
    nodes than its partition allows. where: (cluster, role, partition); seconds: (seconds, the key
    that set them); nodes: (nodes, ranks, the key of the ranks), None for a job without ranks."""
    cluster_name, role, partition = where
    value, key = seconds
    limit = max_time.get(role)
    if limit is not None and value > limit:
        raise ConfigError(
            key,
            f"{format_time(value)} is above the {format_time(limit)} limit of partition {partition} on {cluster_name}",
        )
    node_limit = (limits.max_nodes or {}).get(role)
    if nodes is not None and node_limit is not None and nodes[0] > node_limit:
        count, ranks, ranks_key = nodes
        raise ConfigError(
            ranks_key,
            f"{ranks} ranks ask for {count} nodes, above the {node_limit}-node limit of partition {partition} "
            f"on {cluster_name}",
        )
