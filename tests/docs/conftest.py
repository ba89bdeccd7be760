"""The documentation's commands (blocks.py reads them, scratch.py runs them), collected once per
session, and the summary the test run ends with: how many blocks ran here, how many profile
commands tests/slurm/test_profile_examples.py runs, and every block not run, with its why."""

from __future__ import annotations

import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from tests.conftest import REPO_ROOT, SHIPPED_EXPERIMENTS
from tests.docs.blocks import TRAINING_ENVIRONMENT, Block, Command, read_documents
from tests.docs.scratch import Outcome, command_environment, run_blocks_in_order, scratch_copy

DOCUMENTS = read_documents(REPO_ROOT)
BLOCKS = [block for document in DOCUMENTS for block in document.blocks]
PROBLEMS = [problem for document in DOCUMENTS for problem in document.problems]
MARKED = [block for block in BLOCKS if block.is_shell and block.marker is not None]
PROFILE_COMMANDS = [
    (block, command) for block in BLOCKS if block.is_shell for command in block.commands if command.is_profile_command
]


# A trained run that a command reads: results/<experiment> in the training environment (`hpcseq
# generate`), or a rule log, logs/<stage>/<experiment>.log (`hpcseq logs`). A workflow-environment
# command on results/<experiment> (a refusal before TensorFlow loads) needs no trained model.
TRAINED_RESULTS = re.compile(r"\bresults/(\w+)")
RULE_LOG = re.compile(r"\blogs/\w+/(\w+)\.log\b")


def _trained_runs_read(command: Command) -> set[str]:
    names = set(RULE_LOG.findall(command.text))
    if TRAINING_ENVIRONMENT in command.text:
        names |= set(TRAINED_RESULTS.findall(command.text))
    return names


def experiments_named(blocks: list[Block]) -> list[str]:
    """The shipped experiments whose trained run the blocks' commands read (_trained_runs_read)."""
    named = {name for block in blocks for command in block.commands for name in _trained_runs_read(command)}
    return sorted(named & set(SHIPPED_EXPERIMENTS))


def needs_trained_models(block: Block) -> bool:
    """Whether a block runs in the training stream: it uses the training environment, or reads
    the trained run of a shipped experiment (`hpcseq logs logs/train/<name>.log`)."""
    return block.needs_training_environment or bool(experiments_named([block]))


def runnable_files(training: bool) -> dict[str, list[Block]]:
    """The runnable blocks of each file, in order: with `training` the files where a block needs
    the trained models (needs_trained_models: the training stream runs them, after tiny models
    are trained), else the others. A file's blocks stay together: a later block may use what an
    earlier one made."""
    files = {}
    for document in DOCUMENTS:
        blocks = [block for block in document.blocks if block.runnable]
        if blocks and any(needs_trained_models(block) for block in blocks) == training:
            files[document.path] = blocks
    return files


WORKFLOW_FILES = runnable_files(training=False)
TRAINING_FILES = runnable_files(training=True)
PARALLEL_FILES = 3  # files run at once, each a chain of processes of a few CPU seconds


# What a trained run leaves beside its results/ that the documented commands read: the rule logs
# and Snakemake's own log, which `hpcseq logs` shows a local run from.
BESIDE_RESULTS = ("logs", ".snakemake/log")


def run_files(files: dict[str, list[Block]], root: Path, results: Path | None = None) -> dict[str, Outcome]:
    """Every file's blocks in their own scratch copy under `root`, PARALLEL_FILES files at a time;
    `results`: a results/ folder copied into each copy first (the trained models of
    train_tiny_models), with the BESIDE_RESULTS folders next to it (their rule logs)."""

    def run_file(path: str) -> dict[str, Outcome]:
        scratch = scratch_copy(root / re.sub(r"\W", "_", path))
        if results is not None:
            shutil.copytree(results, scratch / "results", symlinks=True)
            for folder in BESIDE_RESULTS:
                if (results.parent / folder).is_dir():
                    shutil.copytree(results.parent / folder, scratch / folder, symlinks=True)
        return run_blocks_in_order(files[path], scratch)

    outcomes: dict[str, Outcome] = {}
    with ThreadPoolExecutor(max_workers=PARALLEL_FILES) as pool:
        for file_outcomes in pool.map(run_file, files):
            outcomes.update(file_outcomes)
    return outcomes


# The trained models the `generate` examples use ------------------------------------------------

TINY_TRAINING = {"ranks": 1, "training": {"epochs": 1, "max_steps_per_epoch": 2}}


def train_tiny_models(root: Path, experiments: list[str]) -> Path:
    """results/<experiment>/ of each experiment trained by the workflow in a scratch copy, with
    the shipped config but 1 rank, 1 epoch of 2 steps: a real model (its vocabulary, its
    layers; its rule logs beside it in logs/), trained in seconds. Returns that results/ folder."""
    scratch = scratch_copy(root)
    if experiments:
        overrides = yaml.safe_dump({name: TINY_TRAINING for name in experiments}, default_flow_style=True, width=10**6)
        command = [
            "snakemake",
            "--cores",
            "2",
            *(f"results/{name}/model/final.keras" for name in experiments),
            "--config",
            f"experiments={overrides.strip()}",
        ]
        done = subprocess.run(
            command, cwd=scratch, env=command_environment(scratch), capture_output=True, text=True, timeout=900
        )
        if done.returncode != 0:
            raise AssertionError(f"training the docs' models failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    (scratch / "results").mkdir(exist_ok=True)
    return scratch / "results"


# The summary ---------------------------------------------------------------------------------------


def summary_lines() -> list[str]:
    ran = [block for files in (WORKFLOW_FILES, TRAINING_FILES) for blocks in files.values() for block in blocks]
    commands = sum(1 for block in ran for command in block.commands if not command.is_profile_command)
    lines = [
        f"docs commands: {len(ran)} blocks run ({commands} commands; "
        f"{sum(len(b) for b in TRAINING_FILES.values())} of them in the training stream), "
        f"{len(PROFILE_COMMANDS)} profile commands dry-run by tests/slurm/test_profile_examples.py, "
        f"{len(MARKED)} blocks not run here:"
    ]
    lines += [f"  {block.id}: {block.marker or '(no why given)'}" for block in MARKED]
    return lines


def pytest_terminal_summary(terminalreporter):
    if any(
        report.nodeid.startswith("tests/docs/")
        for reports in terminalreporter.stats.values()
        for report in reports
        if hasattr(report, "nodeid")
    ):
        terminalreporter.section("documented commands")
        for line in summary_lines():
            terminalreporter.write_line(line)
