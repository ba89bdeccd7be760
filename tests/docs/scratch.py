"""Where and how the documented commands run: a scratch copy of the repository (its files as Git
sees them: tracked and new, not ignored ones), `.venv` linked to the real environments, the
workflow environment first on PATH (as if activated) and the copy's own package first on
PYTHONPATH, so that `snakemake ...`, `hpcseq ...` and `.venv/train/bin/python -m hpcseq ...` work
as written and write only into the copy."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import REPO_ROOT, VENV_WORKFLOW
from tests.docs.blocks import Block, Command, missing_output

COMMAND_TIMEOUT = 300  # seconds; the light commands take a few
OUTPUT_TAIL = 3000  # characters of a failing command's output in a test's message
# What a scratch copy never gets, where Git cannot list the files (no checkout): environments,
# Git, caches and the workflow's outputs.
NOT_COPIED = (".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".snakemake", "results", "logs")


def repository_files(root: Path = REPO_ROOT) -> list[str] | None:
    """The files of the working tree as Git sees them (tracked, and new ones it does not ignore;
    a tracked file deleted in the tree left out); None outside a Git checkout."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            check=False,
        )
    except OSError:
        return None
    if listed.returncode != 0:
        return None
    names = sorted(set(os.fsdecode(listed.stdout).split("\0")) - {""})
    return [name for name in names if os.path.lexists(root / name)]


def scratch_copy(destination: Path, root: Path = REPO_ROOT) -> Path:
    """A copy of the repository at `destination`, with `.venv` linked to the real environments."""
    files = repository_files(root)
    if files is None:
        shutil.copytree(root, destination, symlinks=True, ignore=shutil.ignore_patterns(*NOT_COPIED))
    else:
        for name in files:
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, target, follow_symlinks=False)
    (destination / ".venv").symlink_to(VENV_WORKFLOW.parent, target_is_directory=True)
    return destination


def command_environment(scratch: Path) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV", "PYTHONHOME")}
    environment["PATH"] = f"{scratch / '.venv' / 'workflow' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    environment["PYTHONPATH"] = str(scratch / "scripts")
    environment["VIRTUAL_ENV"] = str(scratch / ".venv" / "workflow")
    return environment


@dataclass
class Outcome:
    """What running a block gave: `problems` (empty: it ran as documented), and the transcript."""

    block: Block
    problems: list[str] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)

    def report(self) -> str:
        return "\n".join([*self.problems, "", "transcript:", *self.transcript])


def _run(script: str, cwd: Path, environment: dict[str, str]) -> tuple[int, str]:
    """Exit status and output (stdout and stderr interleaved) of a bash script."""
    try:
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-c", script],
            cwd=cwd,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        output = expired.stdout.decode(errors="replace") if isinstance(expired.stdout, bytes) else expired.stdout
        return -1, f"{output or ''}\n(timed out after {COMMAND_TIMEOUT} s)"
    return done.returncode, done.stdout


def bash_script(block: Block) -> str:
    """The block as one script: its lines, profile commands replaced by a no-op (they are
    dry-run by tests/slurm/test_profile_examples.py)."""
    lines = list(block.body)
    for command in block.commands:
        if command.is_profile_command:
            start = command.line - block.line - 1
            lines[start : start + command.lines] = [":"] + [""] * (command.lines - 1)
    return "set -euo pipefail\n" + "\n".join(lines) + "\n"


def run_bash_block(block: Block, cwd: Path, environment: dict[str, str]) -> Outcome:
    status, output = _run(bash_script(block), cwd, environment)
    outcome = Outcome(block, transcript=[f"exit status {status}", output[-OUTPUT_TAIL:]])
    if status != 0:
        outcome.problems.append(f"{block.id}: the bash block failed (exit status {status})")
    return outcome


def console_problem(command: Command, status: int, output: str) -> str | None:
    """What is wrong with one console command's run: a shown line missing, or a failure that the
    docs do not show (a command that fails must show what it prints)."""
    if command.shown:
        return missing_output(command.shown, output)
    if status != 0:
        return f"failed (exit status {status}) and the docs show no output"
    return None


def run_console_block(block: Block, cwd: Path, environment: dict[str, str]) -> Outcome:
    outcome = Outcome(block)
    for command in block.commands:
        if command.is_profile_command:
            outcome.transcript.append(f"$ {command.text}\n(dry-run by tests/slurm/test_profile_examples.py)")
            continue
        status, output = _run(f"set -o pipefail\n{command.text}\n", cwd, environment)
        outcome.transcript.append(f"$ {command.text}\n(exit status {status})\n{output[-OUTPUT_TAIL:]}")
        problem = console_problem(command, status, output)
        if problem:
            outcome.problems.append(f"{block.path}:{command.line}: `{command.text}`: {problem}")
    return outcome


def run_block(block: Block, cwd: Path) -> Outcome:
    environment = command_environment(cwd)
    if block.tag == "bash":
        return run_bash_block(block, cwd, environment)
    return run_console_block(block, cwd, environment)


def run_blocks_in_order(blocks: list[Block], cwd: Path) -> dict[str, Outcome]:
    """The runnable blocks of one file, in order, in one scratch copy `cwd` (a later block may use
    what an earlier one made)."""
    return {block.id: run_block(block, cwd) for block in blocks if block.runnable}
