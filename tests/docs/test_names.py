"""The modules, commands, targets and files the documentation names exist (names.py reads them):
a page that names a module after a split, a renamed subcommand or a removed make target fails
here, whether or not its block is run."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest
from snakemake.cli import get_argument_parser
from snakemake.exceptions import CliException

from hpcseq.cli import build_parser
from tests.conftest import REPO_ROOT, run_snakemake
from tests.docs.blocks import read_document
from tests.docs.conftest import DOCUMENTS
from tests.docs.names import (
    PLACEHOLDER,
    Mention,
    command_texts,
    hpcseq_subcommands,
    make_targets,
    module_mentions,
    path_mentions,
    snakemake_arguments,
)
from tests.docs.scratch import repository_files

PACKAGE_ROOT = REPO_ROOT / "scripts"
COMMANDS = [entry for document in DOCUMENTS for entry in command_texts(document)]


def listing(mentions: list[Mention]) -> str:
    return "\n".join(f"{mention.where}: {mention.name}" for mention in mentions)


def _module_file(dotted: str) -> Path | None:
    base = PACKAGE_ROOT.joinpath(*dotted.split("."))
    return next((path for path in (base.with_suffix(".py"), base / "__init__.py") if path.is_file()), None)


def _top_level_names(module: Path) -> set[str]:
    """The names a module defines or imports at its top."""
    names = set()
    for node in ast.parse(module.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {target.id for target in targets if isinstance(target, ast.Name)}
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return names


def module_exists(dotted: str) -> bool:
    """A module or package under scripts/, or a name defined at the top of one."""
    if _module_file(dotted):
        return True
    parent, _, name = dotted.rpartition(".")
    module = _module_file(parent) if parent else None
    return module is not None and name in _top_level_names(module)


def test_the_modules_the_documents_name_exist():
    mentions = [mention for document in DOCUMENTS for mention in module_mentions(document)]
    missing = [mention for mention in mentions if not module_exists(mention.name)]
    assert not missing, "no such module (under scripts/) or name in one:\n" + listing(missing)


def test_the_hpcseq_subcommands_the_documents_name_exist():
    choices = set(build_parser()._subparsers._group_actions[0].choices)
    named = [Mention(where, name) for where, text in COMMANDS for name in hpcseq_subcommands(text)]
    missing = [mention for mention in named if mention.name not in choices]
    assert not missing, f"no such hpcseq subcommand (there are: {', '.join(sorted(choices))}):\n" + listing(missing)


def test_the_make_targets_the_documents_name_exist():
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, flags=re.MULTILINE))
    named = [Mention(where, name) for where, text in COMMANDS for name in make_targets(text)]
    missing = [mention for mention in named if mention.name not in targets]
    assert not missing, "no such make target in the Makefile:\n" + listing(missing)


@pytest.fixture(scope="module")
def rules(tmp_path_factory) -> set[str]:
    listed = run_snakemake("--list-rules", cwd=tmp_path_factory.mktemp("rules"), timeout=300)
    return set(listed.stdout.split())


def snakemake_targets(arguments: list[str]) -> list[str] | None:
    """The targets Snakemake reads from the arguments; None where it refuses them ([] where it
    refuses only a value: `--cores N` in prose)."""
    try:
        return get_argument_parser().parse_args(arguments).targets or []
    except SystemExit:
        return None
    except CliException:
        return []


def test_the_snakemake_commands_and_targets_the_documents_name_exist(rules, capsys):
    refused, missing = [], []
    for where, text in COMMANDS:
        for arguments in snakemake_arguments(text):
            targets = snakemake_targets(arguments)
            if targets is None:
                refused.append(Mention(where, text))
                continue
            # a target with / names a file (the run of its block checks it); <name>: the reader's
            named = [t for t in targets if "/" not in t and "." not in t and not PLACEHOLDER.search(t)]
            missing += [Mention(where, target) for target in named if target not in rules]
    capsys.readouterr()  # what Snakemake's parser printed on refusing
    assert not refused, "Snakemake does not accept these arguments:\n" + listing(refused)
    assert not missing, "no such Snakemake rule:\n" + listing(missing)


def _ignored_by_git(paths: list[str]) -> set[str]:
    if not paths:
        return set()
    checked = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin"],
        cwd=REPO_ROOT,
        input="\n".join(paths),
        capture_output=True,
        text=True,
        check=False,
    )
    return set(checked.stdout.split())


def path_exists(path: str) -> bool:
    """The path, its placeholders (<name>, {x}, *) as wildcards, matches a file or folder."""
    pattern = re.sub(r"<[^>]*>|\{[^}]*\}", "*", path).rstrip("/")
    return any(REPO_ROOT.glob(pattern)) if "*" in pattern else (REPO_ROOT / pattern).exists()


def test_the_repository_paths_the_documents_name_exist():
    files = repository_files() or []
    top_level = {name.split("/", 1)[0] for name in files}
    mentions = [mention for document in DOCUMENTS for mention in path_mentions(document, top_level)]
    absent = [mention for mention in mentions if not path_exists(mention.name)]
    ignored = _ignored_by_git([mention.name for mention in absent])
    missing = [mention for mention in absent if mention.name not in ignored]
    assert not missing, "no such file or folder (and not a generated one Git ignores):\n" + listing(missing)


# The readers of names, on a fixture ---------------------------------------------------------------

FIXTURE = """\
Run `make lint` and `hpcseq config --jobs`; the job scripts are in `jobs/<cluster>/`;
`hpcseq.cli.build_parser` reads `scripts/hpcseq/logs/` and `config/config.yaml`.

```bash
.venv/workflow/bin/snakemake scaling --cores 2 && make test PRESET=quick
.venv/train/bin/python -m hpcseq generate results/x --seed a  # `hpcseq logs` in a comment
```

```text
hpcseq.not_a_module in a text block still counts
```
"""


def test_names_are_read_from_commands_inline_code_and_module_mentions():
    document = read_document("docs/page.md", FIXTURE)
    commands = [text for _, text in command_texts(document)]
    assert [name for text in commands for name in hpcseq_subcommands(text)] == ["generate", "config"]
    assert [name for text in commands for name in make_targets(text)] == ["test", "lint"]
    assert [arguments for text in commands for arguments in snakemake_arguments(text)] == [["scaling", "--cores", "2"]]
    assert snakemake_targets(["scaling", "--cores", "2", "--config", "a=1"]) == ["scaling"]
    assert [m.name for m in module_mentions(document)] == [
        "hpcseq.cli.build_parser",
        "hpcseq.logs",
        "hpcseq.not_a_module",
    ]
    assert [(m.where, m.name) for m in path_mentions(document, {"jobs", "config", "scripts"})] == [
        ("docs/page.md:1", "jobs/<cluster>/"),
        ("docs/page.md:2", "scripts/hpcseq/logs/"),
        ("docs/page.md:2", "config/config.yaml"),
    ]
    assert module_exists("hpcseq.cli.build_parser") and module_exists("hpcseq.logs")
    assert not module_exists("hpcseq.not_a_module") and not module_exists("hpcseq.cli.no_such_name")
    assert path_exists("workflow/rules/<stage>.smk") and not path_exists("config/no-such.yaml")
    assert _ignored_by_git(["results/x/eval/metrics.json", "config/no-such.yaml"]) == {"results/x/eval/metrics.json"}
