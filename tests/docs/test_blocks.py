"""The docs test's own reading of Markdown (blocks.py) and running of blocks (scratch.py), on small
Markdown fixtures: what it runs, what it checks, and the failures it must catch."""

from __future__ import annotations

import textwrap

import pytest

from tests.docs.blocks import missing_output, read_document
from tests.docs.scratch import bash_script, command_environment, run_block

FIXTURE = textwrap.dedent(
    """\
    # Title

    ```bash
    # a comment is no command
    echo one   # a trailing comment
    printf '%s\\n' two \\
        three
    ```

    Error example:

    ```console
    $ echo "invalid configuration:"; echo "  - key x: unknown"; exit 1
    invalid configuration:
    ...
      - key x: unknown
    $ echo done
    done
    ```

    *Not run by the docs test: needs a JSC login node.*

    ```bash
    jutil env activate -p training2543
    ```

    ```yaml
    key: value
    ```

    - in a list:

        ```bash
        echo indented
        ```
    """
)


def blocks_of(text: str, path: str = "docs/page.md"):
    return read_document(path, textwrap.dedent(text))


def test_blocks_commands_continued_lines_comments_and_markers():
    document = blocks_of(FIXTURE)
    assert document.problems == []
    bash, console, marked, yaml, indented = document.blocks
    assert (bash.id, bash.tag, bash.runnable) == ("docs/page.md:3", "bash", True)
    assert [(c.line, c.lines, c.text) for c in bash.commands] == [
        (5, 1, "echo one   # a trailing comment"),
        (6, 2, "printf '%s\\n' two three"),
    ]
    assert bash.commands[0].words == ["echo", "one"]
    first, second = console.commands
    assert first.line == 13 and first.shown == ("invalid configuration:", "...", "  - key x: unknown")
    assert (second.text, second.shown) == ("echo done", ("done",))
    assert (marked.marker, marked.runnable) == ("needs a JSC login node", False)
    assert (yaml.tag, yaml.runnable, yaml.commands) == ("yaml", False, [])
    assert indented.body == ("echo indented",) and indented.runnable


def test_console_commands_continue_with_a_backslash():
    document = blocks_of(
        """\
        ```console
        $ hpcseq config \\
        >     --jobs
        JOB
        ```
        """
    )
    [command] = document.blocks[0].commands
    assert (command.text, command.lines, command.shown) == ("hpcseq config --jobs", 2, ("JOB",))


def test_a_marker_without_a_why_is_a_problem():
    document = blocks_of(
        """\
        *Not run by the docs test: .*

        ```bash
        make run
        ```
        """
    )
    assert document.blocks[0].marker == ""
    assert document.problems == [
        "docs/page.md:3: marked not run, but the marker gives no why (`*Not run by the docs test: <why>.*`)"
    ]


def test_a_marker_that_marks_no_block_or_is_misspelt_is_a_problem():
    document = blocks_of(
        """\
        *Not run by the docs test: needs a JSC login node.*

        Some prose.

        Not run by the docs test: it downloads.
        ```bash
        make run
        ```
        """
    )
    assert document.blocks[0].marker is None
    assert len(document.problems) == 2, document.problems
    assert document.problems[0].startswith("docs/page.md:1: a marker with no fenced block after it")
    assert document.problems[1].startswith("docs/page.md:5: a marker not written")


@pytest.mark.parametrize("tag", ["", "text", "sh"])
def test_an_untagged_or_text_block_that_holds_a_command_is_a_problem(tag):
    document = blocks_of(f"```{tag}\n$ .venv/workflow/bin/snakemake -n\n```\n")
    [problem] = document.problems
    assert problem.startswith("docs/page.md:1: ") and "shows a command" in problem


def test_a_layout_table_in_a_text_block_is_no_command():
    assert blocks_of("```text\nSnakefile   wiring only\nscripts/hpcseq/\n```\n").problems == []


def test_a_console_block_without_a_command_is_a_problem():
    [problem] = blocks_of("```console\nsome output\n```\n").problems
    assert "without a `$ ` command" in problem


def test_profile_commands_are_counted_not_run():
    document = blocks_of(
        """\
        ```bash
        .venv/workflow/bin/snakemake --profile slurm \\
            --config cluster=local   # Slurm jobs
        echo after
        ```

        ```bash
        snakemake --profile slurm --config cluster=jureca-dc
        ```
        """
    )
    mixed, profile_only = document.blocks
    [in_a_comment] = blocks_of("```bash\nsnakemake --cores 2   # or: --profile slurm\n```\n").blocks[0].commands
    assert not in_a_comment.is_profile_command
    assert [c.is_profile_command for c in mixed.commands] == [True, False]
    assert mixed.commands[0].profile_example == ".venv/workflow/bin/snakemake --profile slurm --config cluster=local"
    assert bash_script(mixed) == "set -euo pipefail\n:\n\necho after\n"
    assert mixed.runnable and not profile_only.runnable


def test_training_environment_commands_are_found():
    document = blocks_of("```bash\n.venv/train/bin/python -m hpcseq generate results/x --seed a\n```\n")
    assert document.blocks[0].needs_training_environment


# The shown output ---------------------------------------------------------------------------------


def test_shown_lines_occur_in_order_with_ellipses():
    output = 'WorkflowError in file "/tmp/x/workflow/rules/common.smk", line 31:\ninvalid configuration:  \n  - a\n'
    assert (
        missing_output(['WorkflowError in file ".../workflow/rules/common.smk", line 31:', "...", "  - a"], output)
        is None
    )
    assert missing_output(["invalid configuration:"], output) is None  # trailing whitespace ignored


def test_a_shown_line_that_does_not_occur_fails():
    assert missing_output(["  - b"], "  - a\n") == "shown line not in the output:   - b"
    assert missing_output(["  - a", "invalid"], "invalid\n  - a\n") == "shown line out of order: invalid"
    assert missing_output(["- a"], "  - a\n") == "shown line not in the output: - a"  # leading whitespace counts


# Running blocks -----------------------------------------------------------------------------------


def test_blocks_run_in_the_scratch_copy_with_the_workflow_environment_first(tmp_path):
    document = blocks_of(FIXTURE)
    bash, console, *_ = document.blocks
    assert run_block(bash, tmp_path).problems == []
    outcome = run_block(console, tmp_path)
    assert outcome.problems == [], outcome.report()
    path = command_environment(tmp_path)["PATH"]
    assert path.startswith(f"{tmp_path}/.venv/workflow/bin:")


def test_a_bash_block_that_fails_is_reported(tmp_path):
    [block] = blocks_of("```bash\necho fine\nfalse\necho never\n```\n").blocks
    outcome = run_block(block, tmp_path)
    assert outcome.problems == ["docs/page.md:1: the bash block failed (exit status 1)"]
    assert "never" not in outcome.report()


def test_a_console_command_whose_shown_output_does_not_occur_is_reported(tmp_path):
    [block] = blocks_of("```console\n$ echo real\nshown\n$ false\n```\n").blocks
    outcome = run_block(block, tmp_path)
    assert outcome.problems == [
        "docs/page.md:2: `echo real`: shown line not in the output: shown",
        "docs/page.md:4: `false`: failed (exit status 1) and the docs show no output",
    ]
