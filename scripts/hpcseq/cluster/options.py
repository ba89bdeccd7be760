"""sbatch options, each defined once (name, flag, validator, help): validation of config values by
key, `#SBATCH` directives and command-line arguments, both in one fixed order."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hpcseq.cluster.validators import (
    ConfigChecks,
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
from hpcseq.errors import ConfigError


@dataclass(frozen=True)
class Option:
    name: str  # the keyword, and the config key where the option is a setting (slurm.<name>)
    flag: str  # sbatch's spelling
    check: Callable[[Any], Any]  # a validator: the value normalised, or ValueError
    help: str  # one line for users (`hpcseq sbatch --help`): what it does, an example where the format is not plain

    @property
    def argparse_help(self) -> str:
        """help for argparse, which treats '%' as a format character."""
        return self.help.replace("%", "%%")


SBATCH_OPTIONS: tuple[Option, ...] = (
    Option("job_name", "--job-name", slurm_name, "job name, shown by squeue and used in the log file names"),
    Option("output", "--output", log_pattern, "file for the job's standard output; %j in the name becomes the job id"),
    Option("error", "--error", log_pattern, "file for the job's standard error; %j in the name becomes the job id"),
    Option("time", "--time", slurm_time, "time limit, e.g. 90 (minutes), 02:00:00 or 1-12:00:00 (days-hours:min:sec)"),
    Option("partition", "--partition", slurm_name, "partition (queue) to run in"),
    Option("nodes", "--nodes", positive_int, "number of nodes"),
    Option("ntasks_per_node", "--ntasks-per-node", positive_int, "tasks per node: one Horovod rank per GPU"),
    Option("cpus_per_task", "--cpus-per-task", positive_int, "CPU cores for each task"),
    Option(
        "threads_per_core",
        "--threads-per-core",
        positive_int,
        "hardware threads used per core; 1 makes --cpus-per-task count physical cores",
    ),
    Option("gres", "--gres", gres, "generic resources per node, e.g. gpu:4"),
    Option("account", "--account", slurm_name, "account (compute budget) the job is charged to"),
    Option("reservation", "--reservation", slurm_name, "reservation to run in, e.g. one made for a course"),
    Option("qos", "--qos", slurm_name, "quality of service (QoS) of the job"),
    Option("mail_user", "--mail-user", email, "e-mail address for job notifications"),
    Option("mail_type", "--mail-type", mail_type, "events that send an e-mail, comma-separated, e.g. END,FAIL"),
    Option("signal", "--signal", signal_spec, "warning before the time limit, e.g. B:USR1@120 (SIGUSR1, 120 s before)"),
    Option("requeue", "--requeue", boolean, "let the job be requeued: it runs again and continues from its checkpoint"),
    Option(
        "open_mode",
        "--open-mode",
        open_mode,
        "append or truncate the output files; append keeps what every run of a requeued job wrote",
    ),
    Option("dependency", "--dependency", dependency, "start only after other jobs, e.g. afterok:12345"),
)
OPTION_BY_NAME = {option.name: option for option in SBATCH_OPTIONS}

# The sbatch options that are site settings (config key `slurm.<name>`, `hpcseq sbatch --<flag>`):
# the one list of them, for the config, the command line and the workflow.
SLURM_SETTING_KEYS = ("account", "reservation", "qos", "mail_user", "mail_type")


def sbatch_options(values: dict, key_prefix: str = "sbatch") -> dict:
    """Validate and normalise sbatch options; None means 'not set'. Raises ConfigErrors."""
    checks, result = ConfigChecks(), {}
    for name, value in values.items():
        option = OPTION_BY_NAME.get(name)
        if option is None:
            valid = ", ".join(OPTION_BY_NAME)
            checks.errors.append(
                ConfigError(f"{key_prefix}.{name}", f"unknown sbatch option; valid options are: {valid}")
            )
        elif value is not None:
            checked = checks.value(option.check, value, f"{key_prefix}.{name}")
            if checked is not None:
                result[name] = checked
    checks.raise_errors()
    return result


def _set_options(options: dict) -> list[tuple[Option, Any]]:
    """The options given, in the fixed order of SBATCH_OPTIONS (deterministic output); a false flag is not set."""
    return [(o, options[o.name]) for o in SBATCH_OPTIONS if o.name in options and options[o.name] is not False]


def sbatch_arguments(options: dict) -> list[str]:
    """The options as command-line arguments (for sbatch, or the Snakemake plugin's slurm_extra)."""
    return [option.flag if value is True else f"{option.flag}={value}" for option, value in _set_options(options)]


def render_directives(options: dict) -> list[str]:
    """The same options as `#SBATCH` lines of a job script, each value shell-quoted."""
    return [
        f"#SBATCH {option.flag}" if value is True else f"#SBATCH {option.flag}={shlex.quote(str(value))}"
        for option, value in _set_options(options)
    ]


def site_options(slurm: dict, key: str = "slurm") -> dict:
    """account, reservation, qos, mail: validated like sbatch options."""
    return sbatch_options({k: slurm.get(k) for k in SLURM_SETTING_KEYS}, key)
