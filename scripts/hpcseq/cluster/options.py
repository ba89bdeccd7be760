"""sbatch options, each defined once (name, flag, validator): validation of config values by key,
`#SBATCH` directives and command-line arguments, both in one fixed order."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hpcseq.cluster.validators import (
    boolean,
    dependency,
    email,
    gres,
    log_pattern,
    mail_type,
    open_mode,
    positive_int,
    signal_spec,
    slurm_name,
    slurm_time,
)
from hpcseq.errors import ConfigError, ConfigErrors


@dataclass(frozen=True)
class Option:
    name: str
    flag: str
    check: Callable[[Any], Any]
    help: str


SBATCH_OPTIONS: tuple[Option, ...] = (
    Option("job_name", "--job-name", slurm_name, "name shown by squeue and used in log file names"),
    Option("output", "--output", log_pattern, "stdout file; %j is the job id"),
    Option("error", "--error", log_pattern, "stderr file; %j is the job id"),
    Option("time", "--time", slurm_time, "time limit"),
    Option("partition", "--partition", slurm_name, "partition"),
    Option("nodes", "--nodes", positive_int, "number of nodes"),
    Option("ntasks_per_node", "--ntasks-per-node", positive_int, "tasks (ranks) per node"),
    Option("cpus_per_task", "--cpus-per-task", positive_int, "CPUs per task"),
    Option("gres", "--gres", gres, "generic resources per node, e.g. gpu:4"),
    Option("account", "--account", slurm_name, "account (budget) to charge"),
    Option("reservation", "--reservation", slurm_name, "reservation to run in"),
    Option("qos", "--qos", slurm_name, "quality of service"),
    Option("mail_user", "--mail-user", email, "address for job mails"),
    Option("mail_type", "--mail-type", mail_type, "events that send a mail, e.g. END,FAIL"),
    Option("signal", "--signal", signal_spec, "signal sent before the time limit"),
    Option("requeue", "--requeue", boolean, "allow Slurm to requeue the job"),
    Option("open_mode", "--open-mode", open_mode, "append keeps the output of every run of a requeued job"),
    Option("dependency", "--dependency", dependency, "start only after other jobs, e.g. afterok:12345"),
)
OPTION_BY_NAME = {option.name: option for option in SBATCH_OPTIONS}


def sbatch_options(values: dict, key_prefix: str = "sbatch") -> dict:
    """Validate and normalise sbatch options; None means 'not set'. Raises ConfigErrors."""
    errors, result = [], {}
    for name, value in values.items():
        option = OPTION_BY_NAME.get(name)
        if option is None:
            valid = ", ".join(o.name for o in SBATCH_OPTIONS)
            errors.append(ConfigError(f"{key_prefix}.{name}", f"unknown sbatch option; valid options are: {valid}"))
            continue
        if value is None:
            continue
        try:
            result[name] = option.check(value)
        except ValueError as problem:
            errors.append(ConfigError(f"{key_prefix}.{name}", str(problem)))
    if errors:
        raise ConfigErrors(errors)
    return result


def render_directives(options: dict) -> list[str]:
    """`#SBATCH` lines in the fixed order of SBATCH_OPTIONS (deterministic output)."""
    lines = []
    for option in SBATCH_OPTIONS:
        if option.name not in options:
            continue
        value = options[option.name]
        if isinstance(value, bool):
            if value:
                lines.append(f"#SBATCH {option.flag}")
            continue
        lines.append(f"#SBATCH {option.flag}={shlex.quote(str(value))}")
    return lines


def sbatch_arguments(options: dict) -> list[str]:
    """The same options as command-line arguments (for sbatch, or the Snakemake plugin's slurm_extra)."""
    arguments = []
    for option in SBATCH_OPTIONS:
        if option.name in options:
            value = options[option.name]
            if isinstance(value, bool):
                if value:
                    arguments.append(option.flag)
            else:
                arguments.append(f"{option.flag}={value}")
    return arguments


SLURM_SETTING_KEYS = ("account", "reservation", "qos", "mail_user", "mail_type")


def site_options(slurm: dict, key: str = "slurm") -> dict:
    """account, reservation, qos, mail: validated like sbatch options."""
    return sbatch_options({k: slurm.get(k) for k in SLURM_SETTING_KEYS}, key)
