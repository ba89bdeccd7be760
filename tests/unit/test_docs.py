"""The words a new user reads first: what README.md, the documentation site (docs/), envs/README.md
and `make help` promise exists (issue 11, item 10; issue 25: a README read in five minutes)."""

from __future__ import annotations

import re
import subprocess

import pytest

from hpcseq import cli
from hpcseq.config import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
ENVS_README = (REPO_ROOT / "envs" / "README.md").read_text(encoding="utf-8")
MAKEFILE = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
DOCS = {path: path.read_text(encoding="utf-8") for path in sorted((REPO_ROOT / "docs").rglob("*.md"))}
DOCUMENTS = [README, ENVS_README, (REPO_ROOT / "CHANGELOG.md").read_text(encoding="utf-8"), *DOCS.values()]
README_MAX_LINES = 250  # issue 25: the quick start, what hpcseq is, the site's contents; the rest is in docs/
TARGETS = set(re.findall(r"^([a-z][a-z-]*):", MAKEFILE, flags=re.MULTILINE))


def test_the_header_make_help_prints_names_real_targets():
    """(The targets the documents name: tests/docs/test_names.py.)"""
    named = set(re.findall(r"make ([a-z][a-z-]*)", MAKEFILE.split("SHELL :=")[0]))
    assert named, "the Makefile's header names no make target"
    assert named <= TARGETS, f"named but not in the Makefile: {sorted(named - TARGETS)}"


def test_make_help_lists_every_target_with_what_it_does():
    result = subprocess.run(["make", "-s", "help"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    listed = set(re.findall(r"^  make ([a-z-]+)\s+\S", result.stdout, flags=re.MULTILINE))
    assert listed == TARGETS


def test_the_readmes_point_at_nothing_outside_the_repository():
    for text in DOCUMENTS:
        assert "../shared" not in text and "STACK.md" not in text
        assert not re.search(r"(?<![\w.])/(?:work|home|root)/", text), "a developer's absolute path"


def test_the_readme_is_short_and_starts_with_the_quick_start():
    lines = README.splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines: move the detail into docs/"
    headings = [line for line in lines if line.startswith("## ")]
    assert headings[0] == "## Quick start", headings
    for target in ("make run", "make test", "results/summary.md", "results/report.html"):
        assert target in README


def test_the_readmes_links_into_the_site_point_at_pages_that_exist():
    links = re.findall(r"\]\(((?:docs|envs|data)/[^)#]+|CHANGELOG\.md)", README)
    assert any(link.startswith("docs/") for link in links), links
    missing = [link for link in links if not (REPO_ROOT / link).is_file()]
    assert not missing, f"README.md links to files that do not exist: {missing}"


def test_every_page_of_the_site_is_in_its_navigation():
    mkdocs = (REPO_ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    listed = set(re.findall(r":\s*([\w/.-]+\.md)\s*$", mkdocs, flags=re.MULTILINE))
    pages = {str(path.relative_to(REPO_ROOT / "docs")) for path in DOCS}
    assert pages == listed, (
        f"pages not in mkdocs.yml's nav: {sorted(pages - listed)}; nav without a page: {sorted(listed - pages)}"
    )


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
