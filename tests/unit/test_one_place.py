"""One fact, one place: each layout and format below is written in exactly one line of the code
(scripts/ and the workflow's rules); everything else asks the function that line is in."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO_ROOT

SOURCES = [
    *sorted((REPO_ROOT / "scripts").rglob("*.py")),
    REPO_ROOT / "Snakefile",
    *sorted((REPO_ROOT / "workflow").rglob("*.smk")),
]

# fact -> (pattern of its literal in code, where it lives)
FACTS = {
    "a job script's Slurm output file, <name>_out.%j": (r"_\{?\w*\}?\.%j\"", "scripts/hpcseq/paths.py"),
    "a per-rank file, rank-<r>.json": (r"rank-\{", "scripts/hpcseq/records.py"),
    "a job script's path, <jobs>/<cluster>/<name>.sbatch": (r"\.sbatch\"", "scripts/hpcseq/paths.py"),
    "a Slurm duration, [D-]HH:MM:SS": (r":02d\}:\{", "scripts/hpcseq/durations.py"),
    "a rule's log, <logs_dir>/<stage>/<name>.log": (r"\}\.log\"", "scripts/hpcseq/paths.py"),
    "a rule's benchmark, <benchmarks_dir>/<stage>/<name>.tsv": (r"\}\.tsv\"", "scripts/hpcseq/paths.py"),
    "the cluster of a run, parsed from the config": (
        r"parse_cluster\(\w*,? ?config\[",
        "scripts/hpcseq/cluster/resources.py",
    ),
}


def code_lines(path):
    """The lines of a file that are code: docstrings and comments left out, roughly (lines that start
    a comment or sit between triple quotes)."""
    inside = False
    for number, line in enumerate(path.read_text().splitlines(), 1):
        quotes = line.count('"""')
        if not inside and not line.lstrip().startswith("#"):
            yield number, line
        if quotes % 2:
            inside = not inside


@pytest.mark.parametrize("fact", FACTS)
def test_each_fact_is_written_in_one_place(fact):
    pattern, home = FACTS[fact]
    found = [
        f"{path.relative_to(REPO_ROOT)}:{number}"
        for path in SOURCES
        for number, line in code_lines(path)
        if re.search(pattern, line)
    ]
    assert len(found) == 1 and found[0].startswith(home + ":"), (fact, found)
