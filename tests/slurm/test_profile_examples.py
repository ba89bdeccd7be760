"""Every `snakemake ... --profile slurm ...` command the documentation shows (README, docs/, the
other READMEs, the comments of the config, the profile and the rules) run as written, as a dry run
(`-n`: the JSC clusters cannot be reached from here), in a run directory with the checkout's config
and data: it plans its jobs, or, where the text says the command is refused, it is refused with
the fix named."""

from __future__ import annotations

import re
import shlex
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, SLURM_PROFILE, run_snakemake

DOCUMENTS = (
    "README.md",
    "docs/**/*.md",
    "envs/README.md",
    "data/README.md",
    "config/*.yaml",
    "slurm/config.yaml",
    "Snakefile",
    "workflow/rules/*.smk",
)
# Words of an example that stand for the reader's own values.
PLACEHOLDERS = {"<budget>": "training2543", "<name>": "shakespeare_char_rnn"}
# Examples the text shows being refused, and what the refusal must name (the fix).
REFUSED = {
    "snakemake --profile slurm --config cluster=jureca-dc": "--configfile config/config.yaml config/whole-nodes.yaml",
}
COMMAND = re.compile(r"(?:\.venv/workflow/bin/)?snakemake\b")


def _logical_lines(text: str) -> list[str]:
    """The lines of a file without comment markers, lines continued by a backslash joined."""
    lines, current = [], ""
    for raw in text.splitlines():
        line = re.sub(r"^\s*#\s?", "", raw) if raw.lstrip().startswith("#") else raw
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        lines.append(current + line)
        current = ""
    return lines


def _commands_of(text: str) -> list[str]:
    """The profile commands of a document: inline code spans, and lines that start with snakemake
    (code blocks, comments) up to a trailing comment."""
    prose = re.sub(r"```.*?```", "", text, flags=re.DOTALL)  # code blocks: read line by line below
    found = [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose)]
    for line in _logical_lines(text):
        stripped = line.strip()
        if COMMAND.match(stripped):
            found.append(" ".join(re.split(r"\s+#\s", stripped)[0].split()))
    return [command for command in found if COMMAND.match(command) and "--profile slurm" in command]


def documented_examples() -> list[tuple[str, str]]:
    """(file, command) for every profile command of the documentation, each command once."""
    examples: dict[str, str] = {}
    for pattern in DOCUMENTS:
        for path in sorted(REPO_ROOT.glob(pattern)):
            for command in _commands_of(path.read_text()):
                examples.setdefault(command, str(path.relative_to(REPO_ROOT)))
    return [(where, command) for command, where in examples.items()]


EXAMPLES = documented_examples()


def as_dry_run(command: str) -> list[str]:
    """The example's arguments for run_snakemake: the profile by its path, placeholders filled, -n."""
    for placeholder, value in PLACEHOLDERS.items():
        command = command.replace(placeholder, value)
    words = shlex.split(command)[1:]
    words = [str(SLURM_PROFILE) if word == "slurm" and previous == "--profile" else word
             for previous, word in zip(["", *words], words, strict=False)]  # fmt: skip
    return ["-n", *words]


def test_the_documentation_shows_the_profile_examples_the_issue_names():
    commands = [command for _, command in EXAMPLES]
    assert len(commands) >= 5, commands
    assert any("whole-nodes.yaml" in command and "reservation" in command for command in commands), commands
    assert all(command in commands for command in REFUSED), sorted(REFUSED)


@pytest.fixture(scope="module")
def dry_runs(local_slurm, tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """Every example's dry run, three at a time (each is a Snakemake process of a few CPU seconds)."""
    root = tmp_path_factory.mktemp("profile_examples")

    def dry_run(numbered: tuple[int, str]) -> subprocess.CompletedProcess:
        number, command = numbered
        return run_snakemake(*as_dry_run(command), cwd=root / str(number), check=False, timeout=300)

    commands = [command for _, command in EXAMPLES]
    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(zip(commands, pool.map(dry_run, enumerate(commands)), strict=True))


@pytest.mark.parametrize(("where", "command"), EXAMPLES, ids=[f"{w}: {c[:70]}" for w, c in EXAMPLES])
def test_every_documented_profile_example_works_as_written(where, command, dry_runs):
    run = dry_runs[command]
    output = run.stdout + run.stderr
    if command in REFUSED:
        assert run.returncode != 0, f"{where}: {command} was not refused"
        assert REFUSED[command] in output, f"{where}: the refusal does not name the fix:\n{output[-3000:]}"
        return
    assert run.returncode == 0, f"{where}: {command}\n{output[-4000:]}"
    assert "This was a dry-run" in output


def test_examples_are_read_from_comments_code_blocks_and_inline_code(tmp_path):
    text = (
        "Run `snakemake --profile slurm --config cluster=local`.\n"
        "```bash\n.venv/workflow/bin/snakemake --profile slurm \\\n    --config cluster=local  # a comment\n```\n"
        "#   snakemake --profile slurm --configfile config/config.yaml \\\n#       --config x=1\n"
        "`snakemake --cores 2` has no profile\n"
    )
    assert _commands_of(text) == [
        "snakemake --profile slurm --config cluster=local",
        ".venv/workflow/bin/snakemake --profile slurm --config cluster=local",
        "snakemake --profile slurm --configfile config/config.yaml --config x=1",
    ]
    assert as_dry_run("snakemake --profile slurm --config 'slurm={account: <budget>}'") == [
        "-n", "--profile", str(SLURM_PROFILE), "--config", "slurm={account: training2543}",
    ]  # fmt: skip
    assert Path(SLURM_PROFILE).name == "slurm"
