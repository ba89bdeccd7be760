"""Validators of every value that reaches a job script or an sbatch/srun command line.

Each takes a config value and returns it normalised, or raises ValueError saying what Slurm (or
the shell) accepts; callers turn that into a ConfigError with the value's dotted key.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from hpcseq.durations import format_time, time_seconds

SLURM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$")
MODULE_NAME = re.compile(r"^(?!.*\.\.)[A-Za-z0-9_][A-Za-z0-9_./+:-]{0,127}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
GRES = re.compile(r"^[a-z][a-z0-9_]*(:[A-Za-z0-9_.]+)?:[1-9][0-9]{0,2}$")
LOG_PATTERN = re.compile(r"^[A-Za-z0-9_./%+-]{1,255}$")
SRUN_FLAG = re.compile(r"^--?[a-z][a-z0-9-]*(=[A-Za-z0-9_.,:/+@-]+)?$")
SIGNAL = re.compile(r"^(B:)?(USR1|USR2|TERM|INT|HUP|URG|CONT|QUIT)@([0-9]{1,5})$")
DEPENDENCY = re.compile(r"^(singleton|(after|afterok|afterany|afternotok|aftercorr)(:[0-9]+(\+[0-9]+)?)+)$")
MAIL_TYPES = {
    "NONE",
    "BEGIN",
    "END",
    "FAIL",
    "REQUEUE",
    "ALL",
    "INVALID_DEPEND",
    "STAGE_OUT",
    "TIME_LIMIT",
    "TIME_LIMIT_90",
    "TIME_LIMIT_80",
    "TIME_LIMIT_50",
    "ARRAY_TASKS",
}


def _printable(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "...'"


def slurm_name(value: Any) -> str:
    """Partition, account, reservation, QoS and job names: letters, digits, _ . + - ."""
    if not isinstance(value, str) or not SLURM_NAME.fullmatch(value):
        raise ValueError(
            f"{_printable(value)} is not a valid Slurm name (letters, digits, '_', '.', '+', '-'; "
            "it must start with a letter or digit; at most 128 characters)"
        )
    return value


def positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{_printable(value)} is not a whole number >= 1")
    return value


def slurm_time(value: Any) -> str:
    return format_time(time_seconds(value))


def email(value: Any) -> str:
    if not isinstance(value, str) or not EMAIL.fullmatch(value):
        raise ValueError(f"{_printable(value)} is not an e-mail address")
    return value


def mail_type(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{_printable(value)} is not a mail type list")
    kinds = [kind.strip().upper() for kind in value.split(",")]
    unknown = [kind for kind in kinds if kind not in MAIL_TYPES]
    if unknown:
        raise ValueError(f"{', '.join(map(repr, unknown))} not among {', '.join(sorted(MAIL_TYPES))}")
    return ",".join(kinds)


def gres(value: Any) -> str:
    if not isinstance(value, str) or not GRES.fullmatch(value):
        raise ValueError(f"{_printable(value)} is not a GRES request like gpu:4 or gpu:a100:4")
    return value


def log_pattern(value: Any) -> str:
    if not isinstance(value, str) or not LOG_PATTERN.fullmatch(value) or ".." in value.split("/"):
        raise ValueError(
            f"{_printable(value)} is not a log file pattern (letters, digits, '_', '.', '/', '%', "
            "'+', '-'; Slurm replaces %j by the job id)"
        )
    return value


def signal_spec(value: Any) -> str:
    if not isinstance(value, str) or not SIGNAL.fullmatch(value):
        raise ValueError(f"{_printable(value)} is not a --signal value like B:USR1@120 or USR1@120")
    return value


def open_mode(value: Any) -> str:
    if value not in ("append", "truncate"):
        raise ValueError(f"{_printable(value)} is not append or truncate")
    return value


def dependency(value: Any) -> str:
    if not isinstance(value, str) or not DEPENDENCY.fullmatch(value):
        raise ValueError(f"{_printable(value)} is not a --dependency value like afterok:12345")
    return value


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{_printable(value)} is not true or false")
    return value


def srun_flag(value: Any) -> str:
    if not isinstance(value, str) or not SRUN_FLAG.fullmatch(value):
        raise ValueError(f"{_printable(value)} is not an srun flag like --cpu-bind=none or --mpi=pmix")
    return value


def module_name(value: Any) -> str:
    if not isinstance(value, str) or not MODULE_NAME.fullmatch(value):
        raise ValueError(f"{_printable(value)} is not a module name (letters, digits, '_', '.', '/', '+', ':', '-')")
    return value


def env_name(value: Any) -> str:
    if not isinstance(value, str) or not ENV_NAME.fullmatch(value):
        raise ValueError(f"{_printable(value)} is not an environment variable name")
    return value


def env_value(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"{_printable(value)} is not a string or number")
    text = str(value)
    if "\n" in text or "\r" in text or "\0" in text:
        raise ValueError("environment values must be one line")
    return text


def path_value(value: Any) -> str:
    """A path: any single line. Rendered quoted; a leading ~/ or $HOME/ stays expandable."""
    if not isinstance(value, str) or not value or "\n" in value or "\r" in value or "\0" in value:
        raise ValueError(f"{_printable(value)} is not a path on one line")
    return value


def quote_path(path: str) -> str:
    """Shell-quote a path but let a leading ~/ or $HOME/ expand: "$HOME"/'rest'."""
    for prefix in ("~/", "$HOME/", "${HOME}/"):
        if path.startswith(prefix):
            rest = path[len(prefix) :]
            return '"$HOME"/' + shlex.quote(rest) if rest else '"$HOME"'
    return shlex.quote(path)
