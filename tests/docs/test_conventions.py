"""The documentation keeps the command convention (blocks.py): commands only in bash and console
blocks, every block not run marked with its why (the terminal summary lists them), and the
profile commands it counts as run elsewhere really run there."""

from __future__ import annotations

from tests.docs.conftest import MARKED, PROBLEMS, PROFILE_COMMANDS, summary_lines
from tests.slurm.test_profile_examples import EXAMPLES


def test_the_documents_keep_the_command_convention():
    assert not PROBLEMS, "\n".join(PROBLEMS)


def test_every_block_not_run_says_why():
    unexplained = [block.id for block in MARKED if not block.marker]
    assert not unexplained, f"marked not run without a why: {unexplained}"
    assert len(summary_lines()) == 1 + len(MARKED)


def test_the_profile_commands_counted_here_are_dry_run_by_test_profile_examples():
    run_there = {command for _, command in EXAMPLES}
    missing = [
        f"{block.path}:{command.line}: {command.profile_example}"
        for block, command in PROFILE_COMMANDS
        if command.profile_example not in run_there
    ]
    assert not missing, "not found by tests/slurm/test_profile_examples.py:\n" + "\n".join(missing)
