"""Validators of every value that reaches a job script or an sbatch/srun command line.

Each takes a config value and returns it normalised, or raises ValueError saying what Slurm (or
the shell) accepts; ConfigChecks turns that into a ConfigError with the value's dotted key.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable, Mapping
from typing import Any

from hpcseq.durations import format_time, time_seconds
from hpcseq.errors import ConfigError, ConfigErrors, shown

SLURM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$")
MODULE_NAME = re.compile(r"^(?!.*\.\.)[A-Za-z0-9_][A-Za-z0-9_./+:-]{0,127}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_GRES_TYPE = r"[a-z][a-z0-9_]*(:[A-Za-z0-9_.]+)?"  # gpu, or gpu:a100 where a site types its GPUs
GRES_NAME = re.compile(rf"^{_GRES_TYPE}$")
GRES = re.compile(rf"^{_GRES_TYPE}:[1-9][0-9]{{0,2}}$")
LOG_PATTERN = re.compile(r"^(?!(.*/)?\.\.(/|$))[A-Za-z0-9_./%+-]{1,255}$")  # no '..' folder
SRUN_FLAG = re.compile(r"^--?[a-z][a-z0-9-]*(=[A-Za-z0-9_.,:/+@-]+)?$")
# A network interface as `ip link` lists it (Linux allows at most 15 characters, IFNAMSIZ - 1).
_INTERFACE = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,14}"
INTERFACE = re.compile(rf"^{_INTERFACE}$")
# NCCL_SOCKET_IFNAME: names or prefixes, comma-separated; a leading ^ excludes them, = matches exactly
NCCL_INTERFACES = re.compile(rf"^\^?=?{_INTERFACE}(,{_INTERFACE})*$")
# Open MPI's *_tcp_if_include: interface names or IPv4 subnets (10.0.0.0/8), comma-separated
_INTERFACE_OR_SUBNET = rf"(?:{_INTERFACE}|(?:[0-9]{{1,3}}\.){{3}}[0-9]{{1,3}}/[0-9]{{1,2}})"
MPI_INTERFACES = re.compile(rf"^{_INTERFACE_OR_SUBNET}(,{_INTERFACE_OR_SUBNET})*$")
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


def _matching(value: Any, pattern: re.Pattern, description: str) -> str:
    """value, if it is a string that matches pattern; else ValueError: '<value> is not <description>'."""
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError(f"{shown(value)} is not {description}")
    return value


def _one_line(text: str) -> bool:
    return not any(character in text for character in "\n\r\0")


def slurm_name(value: Any) -> str:
    """Partition, account, reservation, QoS and job names: letters, digits, _ . + - ."""
    return _matching(
        value,
        SLURM_NAME,
        "a valid Slurm name (letters, digits, '_', '.', '+', '-'; it must start with a letter or digit; "
        "at most 128 characters)",
    )


def positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{shown(value)} is not a whole number >= 1")
    return value


def slurm_time(value: Any) -> str:
    return format_time(time_seconds(value))


def email(value: Any) -> str:
    return _matching(value, EMAIL, "an e-mail address")


def mail_type(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{shown(value)} is not a mail type list")
    kinds = [kind.strip().upper() for kind in value.split(",")]
    unknown = [kind for kind in kinds if kind not in MAIL_TYPES]
    if unknown:
        raise ValueError(f"{', '.join(map(repr, unknown))} not among {', '.join(sorted(MAIL_TYPES))}")
    return ",".join(kinds)


def gres(value: Any) -> str:
    return _matching(value, GRES, "a GRES request like gpu:4 or gpu:a100:4")


def gres_name(value: Any) -> str:
    """The GRES type of a cluster's GPUs, without a count: gpu, or gpu:a100."""
    return _matching(value, GRES_NAME, "a GRES name like gpu or gpu:a100")


def log_pattern(value: Any) -> str:
    return _matching(
        value,
        LOG_PATTERN,
        "a log file pattern (letters, digits, '_', '.', '/', '%', '+', '-'; Slurm replaces %j by the job id)",
    )


def signal_spec(value: Any) -> str:
    return _matching(value, SIGNAL, "a --signal value like B:USR1@120 or USR1@120")


def open_mode(value: Any) -> str:
    if value not in ("append", "truncate"):
        raise ValueError(f"{shown(value)} is not append or truncate")
    return value


def dependency(value: Any) -> str:
    return _matching(value, DEPENDENCY, "a --dependency value like afterok:12345")


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{shown(value)} is not true or false")
    return value


def srun_flag(value: Any) -> str:
    return _matching(value, SRUN_FLAG, "an srun flag like --cpu-bind=none or --mpi=pmix")


def module_name(value: Any) -> str:
    return _matching(value, MODULE_NAME, "a module name (letters, digits, '_', '.', '/', '+', ':', '-')")


def _interfaces(value: Any, pattern: re.Pattern, description: str, punctuation: str) -> str:
    """value, if it matches pattern; else ValueError that also names the characters it may not hold
    (letters, digits and `punctuation` are allowed)."""
    if isinstance(value, str) and not pattern.fullmatch(value):
        others = sorted({c for c in value if not (c.isascii() and c.isalnum()) and c not in punctuation})
        if others:
            description += "; it contains " + ", ".join(repr(c) for c in others)
    return _matching(value, pattern, description)


def interface(value: Any) -> str:
    """One network interface, e.g. ib0 (HOROVOD_GLOO_IFACE takes exactly one)."""
    return _interfaces(
        value,
        INTERFACE,
        "an interface name as `ip link` lists it (1-15 letters, digits, '_', '.', '-'; e.g. ib0, lo)",
        "_.-",
    )


def nccl_interfaces(value: Any) -> str:
    return _interfaces(
        value,
        NCCL_INTERFACES,
        "an NCCL_SOCKET_IFNAME value (interface names or prefixes, comma-separated; a leading ^ excludes "
        "them, = matches exactly: ib0, =ib0,ib1, ^docker,lo)",
        "_.-,^=",
    )


def mpi_interfaces(value: Any) -> str:
    return _interfaces(
        value,
        MPI_INTERFACES,
        "an Open MPI interface list (interface names or IPv4 subnets, comma-separated: ib0, eth0,ib0, 10.0.0.0/8)",
        "_.-,/",
    )


def env_name(value: Any) -> str:
    return _matching(value, ENV_NAME, "an environment variable name")


def env_value(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"{shown(value)} is not a string or number")
    text = str(value)
    if not _one_line(text):
        raise ValueError("environment values must be one line")
    return text


def path_value(value: Any) -> str:
    """A path: any single line. Rendered quoted; a leading ~/ and environment variables ($SCRATCH,
    ${PROJECT}) stay expandable where the job runs (quote_path), everything else is literal."""
    if not isinstance(value, str) or not value or not _one_line(value):
        raise ValueError(f"{shown(value)} is not a path on one line")
    return value


def bind_path(value: Any) -> str:
    """A host path that Apptainer binds into a container at the same place (`--bind PATH`): a path
    without ':' or ',' (they separate source, destination, options and paths in a bind spec)."""
    path = path_value(value)
    if any(character in path for character in ":,"):
        raise ValueError(f"{shown(value)} is not a bind path: ':' and ',' separate paths and options in --bind")
    return path


# An environment variable in a path: $NAME or ${NAME}. Anything else after a `$` ($(...), $1, a
# lone $) is not a variable here and stays a literal character.
PATH_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def path_variables(path: str) -> list[str]:
    """The environment variables a path uses, in order, once each (a leading ~/ counts as HOME)."""
    names = ["HOME"] if path == "~" or path.startswith("~/") else []
    for match in PATH_VARIABLE.finditer(path):
        name = match.group(1) or match.group(2)
        if name not in names:
            names.append(name)
    return names


def quote_path(path: str) -> str:
    """Shell-quote a path but let a leading ~/ and its environment variables expand where the
    script runs: `$SCRATCH/my run` becomes "$SCRATCH"'/my run'. Nothing else is expanded
    ($(...), backquotes and globs stay literal)."""
    if path == "~" or path.startswith("~/"):
        path = "$HOME" + path[1:]
    parts, position = [], 0
    for match in PATH_VARIABLE.finditer(path):
        if match.start() > position:
            parts.append(_quote_literal(path[position : match.start()], after_variable=bool(parts)))
        parts.append('"$' + (match.group(1) or match.group(2)) + '"')  # the quotes end the name
        position = match.end()
    if position < len(path) or not parts:
        parts.append(_quote_literal(path[position:], after_variable=bool(parts)))
    return "".join(parts)


def _quote_literal(text: str, after_variable: bool) -> str:
    """Part of a path shell-quoted; after a variable a leading / stays outside the quotes ("$HOME"/'my env')."""
    if after_variable and text.startswith("/") and len(text) > 1:
        return "/" + shlex.quote(text[1:])
    return shlex.quote(text)


def expand_path(path: str, key: str, environ: Mapping[str, str] | None = None) -> str:
    """A path with its environment variables (and a leading ~/) replaced by their values here:
    where the job (or the workflow) runs, not where its script was generated. A variable that is
    not set is a ConfigError naming the key, rather than a path that silently starts at /."""
    env = os.environ if environ is None else environ
    missing = [name for name in path_variables(path) if not env.get(name)]
    if missing:
        raise ConfigError(
            key,
            f"{path!r} uses {', '.join('$' + name for name in missing)}, not set here "
            "(on JSC systems `jutil env activate -p <project>` sets $PROJECT and $SCRATCH)",
        )
    if path == "~" or path.startswith("~/"):
        path = "$HOME" + path[1:]
    return PATH_VARIABLE.sub(lambda match: env[match.group(1) or match.group(2)], path)


class ConfigChecks:
    """Collects every problem of a config by key, so that all of them are reported at once.

    The one place where a validator's ValueError becomes a ConfigError with the value's dotted key.
    """

    def __init__(self) -> None:
        self.errors: list[ConfigError] = []

    def value(self, check: Callable[[Any], Any], value: Any, key: str) -> Any:
        """check(value), or None once its ValueError is recorded as a problem of `key`."""
        try:
            return check(value)
        except ValueError as problem:
            self.errors.append(ConfigError(key, str(problem)))
            return None

    def optional(self, check: Callable[[Any], Any], value: Any, key: str) -> Any:
        """Like value(), but None (not set) is accepted as it is."""
        return None if value is None else self.value(check, value, key)

    def call(self, function: Callable[..., Any], *args: Any) -> Any:
        """function(*args), or None once the ConfigError(s) it raised are recorded."""
        try:
            return function(*args)
        except ConfigErrors as many:
            self.errors.extend(many.errors)
        except ConfigError as one:
            self.errors.append(one)
        return None

    def raise_errors(self) -> None:
        if self.errors:
            raise ConfigErrors(self.errors)
