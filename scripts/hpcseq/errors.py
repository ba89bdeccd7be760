"""Exceptions that carry what a user needs to fix a problem: the file and line, or the config key."""

from __future__ import annotations

# Exit codes of a training stopped on a signal after writing its checkpoint (the job scripts and
# `hpcseq logs` read them too).
REQUEUE_EXIT_CODE = 75  # EX_TEMPFAIL: checkpointed before the time limit, continue in a new job
TERMINATED_EXIT_CODE = 143  # 128 + SIGTERM
# srun's exit code when SIGUSR1 ended the ranks (128 + SIGUSR1): Slurm's warning came while they
# were starting, before hpcseq could catch it; nothing was trained, a new job continues.
WARNED_WHILE_STARTING_EXIT_CODE = 138
# Exit code of a rank whose watchdog found another rank silent for training.hang_timeout_seconds
# (training/watchdog.py): it ends its own process so that the launcher ends the job. 124, as
# coreutils' timeout: something took longer than it was given.
HANG_EXIT_CODE = 124


def shown(value) -> str:
    """A bad value as an error message quotes it: its repr, cut to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "...'"


class HpcseqError(Exception):
    """Base class: an error the command line reports as one message, without a traceback."""

    exit_code = 2


class ConfigError(HpcseqError):
    """A config value is missing, unknown or invalid. `key` is the dotted path to it, or the
    command-line option (`--time`) that gave it."""

    def __init__(self, key: str, message: str):
        self.key = key
        self.detail = message
        if key.startswith("--"):
            super().__init__(f"option {key}: {message}")
        else:
            super().__init__(f"config key {key}: {message}" if key else f"config: {message}")


class ConfigErrors(HpcseqError):
    """Several config problems found in one pass, reported together."""

    def __init__(self, errors: list[ConfigError]):
        self.errors = errors
        lines = [f"  - {error}" for error in errors]
        super().__init__("invalid configuration:\n" + "\n".join(lines))


class InputDataError(HpcseqError):
    """A data file is missing, malformed or does not match what the config expects."""

    def __init__(self, path, message: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        where = f"{self.path}, line {line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class CheckpointError(HpcseqError):
    """A checkpoint is incomplete, corrupt or belongs to another configuration."""


class EnvironmentSetupError(HpcseqError):
    """A required program or environment (training interpreter, Horovod, srun) is missing."""


class DownloadError(HpcseqError):
    """A dataset could not be fetched: no internet here, an HTTP error, a transfer cut short."""


class ChecksumError(DownloadError):
    """A downloaded or placed file is not the one expected: its sha256 differs."""
