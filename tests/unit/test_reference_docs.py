"""The generated pages of the documentation (the command line, the configuration keys, the
modules) are what hpcseq.devtools.reference writes from the code now: one fact, one place."""

from __future__ import annotations

from hpcseq.config import REPO_ROOT
from hpcseq.devtools import architecture, reference


def test_every_generated_page_is_what_the_tool_writes_now():
    stale = reference.stale()
    assert not stale, f"out of date: {', '.join(map(str, stale))}: run `make docs-reference`"


def test_the_generated_pages_cover_every_subcommand_key_and_module():
    pages = reference.pages()
    cli, configuration = pages[reference.CLI_PAGE], pages[reference.CONFIGURATION_PAGE]
    modules = pages[reference.MODULES_PAGE]
    for command in ("sbatch", "logs", "config", "smoke-test", "generate"):
        assert f"\n## {command}\n" in cli
    for key in ("`preset`", "`cluster`", "`hang_timeout_seconds`", "`reservation_stages`"):
        assert key in configuration
    assert "`hpcseq.devtools.reference`" in modules and "`hpcseq.events`" in modules


def test_a_page_that_differs_is_named(tmp_path):
    for path, text in reference.pages().items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text, encoding="utf-8")
    assert reference.stale(tmp_path) == []
    (tmp_path / reference.CLI_PAGE).write_text("edited by hand\n", encoding="utf-8")
    assert reference.stale(tmp_path) == [reference.CLI_PAGE]
    assert (REPO_ROOT / reference.CLI_PAGE).is_file()


def _package_block() -> str:
    """The architecture page's list of the package's parts: its ```text block after "The package"."""
    page = (REPO_ROOT / "docs" / "developing" / "architecture.md").read_text(encoding="utf-8")
    after = page[page.index("The package, `scripts/hpcseq/`") :]
    return after.split("```text\n", 1)[1].split("```", 1)[0]


def test_the_architecture_page_names_every_part_of_the_package_and_nothing_else():
    """Its hand-written list of packages and top-level modules cannot drift from the code."""
    listed = set()
    for line in _package_block().splitlines():
        if line and not line.startswith(" "):
            head = line.split("  ")[0]  # the names, before the description's column
            listed |= {name.strip().rstrip("/").removesuffix(".py") for name in head.split(",")}
    package = REPO_ROOT / "scripts" / "hpcseq"
    parts = {path.stem for path in package.glob("*.py") if path.stem not in ("__init__", "__main__")}
    parts |= {path.name for path in package.iterdir() if (path / "__init__.py").is_file()}
    assert listed == parts, (
        f"listed but not in the package: {sorted(listed - parts)}; not listed: {sorted(parts - listed)}"
    )


def test_the_modules_page_shows_the_import_rules_the_test_holds():
    modules = reference.pages()[reference.MODULES_PAGE]
    for importer, rules in architecture.FORBIDDEN.items():
        for forbidden in rules:
            assert f"| `{importer}` | `{forbidden}` |" in modules
