"""The words a new user reads first: what README.md, envs/README.md and `make help` promise exists
(issue 11, item 10)."""

from __future__ import annotations

import re
import subprocess

import pytest

from hpcseq import cli
from hpcseq.config import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
ENVS_README = (REPO_ROOT / "envs" / "README.md").read_text(encoding="utf-8")
MAKEFILE = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
TARGETS = set(re.findall(r"^([a-z][a-z-]*):", MAKEFILE, flags=re.MULTILINE))


def test_every_make_target_the_documents_name_exists():
    named = set(re.findall(r"`make ([a-z][a-z-]*)", README + ENVS_README))
    named |= set(re.findall(r"make ([a-z][a-z-]*)", MAKEFILE.split("SHELL :=")[0]))  # the header `make help` prints
    assert named, "the documents name no make target"
    assert named <= TARGETS, f"named but not in the Makefile: {sorted(named - TARGETS)}"


def test_make_help_lists_every_target_with_what_it_does():
    result = subprocess.run(["make", "-s", "help"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    listed = set(re.findall(r"^  make ([a-z-]+)\s+\S", result.stdout, flags=re.MULTILINE))
    assert listed == TARGETS


def test_the_readmes_point_at_nothing_outside_the_repository():
    for text in (README, ENVS_README):
        assert "../shared" not in text and "STACK.md" not in text
        assert not re.search(r"(?<![\w.])/(?:work|home|root)/", text), "a developer's absolute path"


def test_the_declared_licence_is_in_the_repository():
    pyproject = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'license = "MIT"' in pyproject
    assert (REPO_ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


def test_the_wheel_cache_is_where_envs_readme_says():
    build = (REPO_ROOT / "envs" / "horovod" / "build.sh").read_text(encoding="utf-8")
    assert 'CACHE="${HPCSEQ_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hpcseq}"' in build
    assert 'dir="$CACHE/wheels/$key"' in build
    assert "`$HPCSEQ_CACHE/wheels/<key>/` (`HPCSEQ_CACHE` defaults to\n`~/.cache/hpcseq`)" in ENVS_README


@pytest.mark.parametrize("command", sorted(cli.build_parser()._subparsers._group_actions[0].choices))
def test_every_subcommand_answers_help(command, capsys):
    with pytest.raises(SystemExit) as done:
        cli.build_parser().parse_args([command, "--help"])
    assert done.value.code == 0
    assert "usage: hpcseq" in capsys.readouterr().out
