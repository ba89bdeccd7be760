"""Write the documentation's generated references from the code, so that each fact has one place.

    python -m hpcseq.devtools.reference          (make docs-reference) writes them
    python -m hpcseq.devtools.reference --check  says which differ from what it would write

- docs/reference/cli.md: every `hpcseq` subcommand from hpcseq.cli.build_parser();
- docs/reference/configuration.md: every key of workflow/schemas/config.schema.yaml with its type,
  default and description;
- docs/developing/modules.md: every module of the package with its line count and the first
  line of its docstring.

tests/unit/test_reference_docs.py fails when a file differs from what this writes now.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

from hpcseq.cli import build_parser
from hpcseq.config import REPO_ROOT, load_schema
from hpcseq.devtools import architecture

PACKAGE = Path(__file__).resolve().parents[1]
CLI_PAGE = Path("docs/reference/cli.md")
CONFIGURATION_PAGE = Path("docs/reference/configuration.md")
MODULES_PAGE = Path("docs/developing/modules.md")
GENERATED = "<!-- Written by `make docs-reference` (hpcseq.devtools.reference) from {source}: do not edit. -->"
LONG_DEFAULT = 60  # characters: a longer default is shown by its keys (or its length)


def _cell(text: str) -> str:
    """Text for one cell of a Markdown table: one line, pipes escaped, and outside code spans the
    characters Markdown would read as HTML or emphasis (`<experiment>`, `*.txt`) escaped."""
    parts = " ".join(str(text).split()).split("`")
    for index in range(0, len(parts), 2):  # the even parts lie outside code spans
        parts[index] = parts[index].replace("<", "&lt;").replace(">", "&gt;").replace("*", "\\*").replace("|", "\\|")
    return "`".join(parts)


def _code(text: str) -> str:
    """Text as one code span on one line."""
    return "`" + " ".join(str(text).split()) + "`"


def _page_head(source: str, title: str, *paragraphs: list[str]) -> list[str]:
    """A generated page's first lines: that it is generated from `source` (do not edit), its title,
    and its opening paragraphs (each a list of lines), each followed by an empty line."""
    lines = [GENERATED.format(source=source), "", f"# {title}", ""]
    for paragraph in paragraphs:
        lines += [*paragraph, ""]
    return lines


# --- the command line ------------------------------------------------------------------------


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, tuple[argparse.ArgumentParser, str]]:
    """{name: (parser, its one-line help)} of the parser's subcommands, in the order they were added."""
    group = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    helps = {choice.dest: choice.help or "" for choice in group._choices_actions}
    return {name: (sub, helps.get(name, "")) for name, sub in group.choices.items()}


def _metavar(action: argparse.Action) -> str:
    if action.nargs == 0:
        return ""
    if action.choices is not None and action.metavar is None:
        return "{" + ",".join(str(choice) for choice in action.choices) + "}"
    name = action.metavar or (action.dest if not action.option_strings else action.dest.upper())
    if action.nargs in ("*", "+"):
        return f"{name} [{name} ...]"
    if action.nargs == "?":
        return f"[{name}]"
    if action.nargs == argparse.REMAINDER:
        return "..."
    return str(name)


def _synopsis(prog: str, parser: argparse.ArgumentParser) -> str:
    words = [prog]
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if not action.option_strings:
            words.append(_metavar(action))
            continue
        flag = " ".join(word for word in (action.option_strings[-1], _metavar(action)) if word)
        words.append(flag if action.required else f"[{flag}]")
    return " ".join(words)


def _help_of(action: argparse.Action) -> str:
    text = action.help or ""
    if "%(" in text:
        text = text % {**vars(action), "default": action.default}
    return text


def _default_of(action: argparse.Action) -> str:
    if action.nargs == 0 or action.default in (None, argparse.SUPPRESS) or action.required:
        return ""
    return f"`{action.default}`"


CLI_INTRO = [
    "Run it as `.venv/workflow/bin/python -m hpcseq <command> ...` (the training environment's",
    "`python -m hpcseq` for `train`, `evaluate` and `generate`); `--help` after a command prints",
    "the same as below.",
]


def cli_page() -> str:
    parser = build_parser()
    description = [_cell(parser.description or "")]
    lines = _page_head("hpcseq.cli.build_parser()", "The `hpcseq` command", description, CLI_INTRO)
    subcommands = _subcommands(parser)
    lines += ["| command | what it does |", "| --- | --- |"]
    lines += [f"| [`{name}`](#{name}) | {_cell(text)} |" for name, (_, text) in subcommands.items()]
    for name, (sub, text) in subcommands.items():
        lines += ["", f"## {name}", "", _code(_synopsis("hpcseq " + name, sub)), ""]
        lines += [_cell(sub.description or text), ""]
        actions = [action for action in sub._actions if not isinstance(action, argparse._HelpAction)]
        if not actions:
            continue
        lines += ["| argument | default | what it is |", "| --- | --- | --- |"]
        for action in actions:
            names = ", ".join(action.option_strings) or action.dest
            argument = " ".join(word for word in (names, _metavar(action)) if word)
            lines.append(f"| {_code(argument)} | {_default_of(action)} | {_cell(_help_of(action))} |")
    return "\n".join(lines) + "\n"


# --- the configuration -----------------------------------------------------------------------


def _resolve(schema: dict, root: dict) -> tuple[dict, str | None]:
    """The schema a `$ref` points to, merged with the keywords beside it, and the `$defs` entry it
    names when that entry is a section of its own (an object with properties)."""
    if "$ref" not in schema:
        return schema, None
    parts = schema["$ref"][2:].split("/")
    target = root
    for part in parts:
        target = target[part]
    merged = {**target, **{key: value for key, value in schema.items() if key != "$ref"}}
    section = parts[1] if len(parts) == 2 and "properties" in target else None
    if "$ref" in target:
        merged, section = _resolve({**target, **merged} if "$ref" in merged else merged, root)
    return merged, section


def _type_of(schema: dict, root: dict) -> str:
    schema, section = _resolve(schema, root)
    if section:
        return f"[{section}](#{section})"
    if "enum" in schema:
        return "one of " + ", ".join(f"`{json.dumps(value)}`" for value in schema["enum"])
    kinds = schema.get("type", "any")
    kinds = " or ".join(kinds) if isinstance(kinds, list) else kinds
    if "items" in schema:
        return f"{kinds} of {_type_of(schema['items'], root)}"
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict) and extra:
        return f"{kinds}: name → {_type_of(extra, root)}"
    return kinds


def _default(schema: dict, root: dict) -> str:
    schema, _ = _resolve(schema, root)
    if "default" not in schema:
        return ""
    value = schema["default"]
    shown = json.dumps(value, ensure_ascii=False)
    if len(shown) <= LONG_DEFAULT:
        return f"`{shown}`"
    if isinstance(value, dict):
        return "the entries " + ", ".join(f"`{key}`" for key in value)
    return f"{len(value)} entries" if isinstance(value, list) else f"`{shown[:LONG_DEFAULT]}...`"


def _rows(properties: dict, root: dict, prefix: str = "") -> list[str]:
    """One table row per key, the keys of an inline object after it under its dotted name."""
    rows = []
    for name, sub in properties.items():
        resolved, section = _resolve(sub, root)
        text = _cell(sub.get("description") or resolved.get("description", ""))
        rows.append(f"| `{prefix}{name}` | {_type_of(sub, root)} | {_cell(_default(sub, root))} | {text} |")
        if not section and "properties" in resolved:
            rows += _rows(resolved["properties"], root, f"{prefix}{name}.")
        extra = resolved.get("additionalProperties")
        if not section and isinstance(extra, dict) and "properties" in extra:
            rows += _rows(extra["properties"], root, f"{prefix}{name}.<name>.")
    return rows


TABLE_HEAD = ["| key | type | default | what it is |", "| --- | --- | --- | --- |"]
CONFIGURATION_INTRO = [
    "Every key of the config (`config/config.yaml`, `--configfile`, `--config`), from the schema",
    "it is validated against. A type that links to a section is an object whose keys that section",
    "lists; `name → ...` is an object of entries under names of your choice. An experiment's keys",
    "are those of its model's task (`<task>_experiment`); a preset's overrides per task or per",
    "named model are those of `<task>_overrides`.",
]


def configuration_page() -> str:
    schema = load_schema()
    description = [_cell(schema.get("description", ""))]
    lines = _page_head("workflow/schemas/config.schema.yaml", "Configuration keys", description, CONFIGURATION_INTRO)
    lines += ["## Top level", "", *TABLE_HEAD, *_rows(schema["properties"], schema)]
    for name, definition in schema["$defs"].items():
        if "properties" not in definition:
            continue
        lines += ["", f"## {name}", ""]
        if definition.get("description"):
            lines += [_cell(definition["description"]), ""]
        lines += [*TABLE_HEAD, *_rows(definition["properties"], schema)]
    return "\n".join(lines) + "\n"


# --- the package's modules -------------------------------------------------------------------


def _first_docstring_line(path: Path) -> str:
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return docstring.strip().splitlines()[0] if docstring.strip() else ""


MODULES_INTRO = [
    "Every module of the package `scripts/hpcseq/`, with its length in lines and the first line of its",
    "docstring. [Architecture](architecture.md) says how the packages depend on each other.",
]


def modules_page() -> str:
    lines = _page_head("scripts/hpcseq/", "Modules", MODULES_INTRO)
    lines += ["| module | lines | what it holds |", "| --- | ---: | --- |"]
    for path in sorted(PACKAGE.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        count = len(path.read_text(encoding="utf-8").splitlines())
        lines.append(f"| `{name}` | {count} | {_cell(_first_docstring_line(path))} |")
    return "\n".join([*lines, *_import_rules()]) + "\n"


def _import_rules() -> list[str]:
    """The rules tests/unit/test_architecture.py holds the imports to (hpcseq.devtools.architecture)."""
    lines = [
        "",
        "## Import rules",
        "",
        "Checked by `tests/unit/test_architecture.py`; written here from `scripts/hpcseq/devtools/architecture.py`.",
        "",
        "| package | must not import | why |",
        "| --- | --- | --- |",
    ]
    for importer, rules in architecture.FORBIDDEN.items():
        lines += [f"| `{importer}` | `{forbidden}` | {_cell(why)} |" for forbidden, why in rules.items()]
    lines += ["", "The top of the package, and the only modules that may import it:", ""]
    for top, allowed in architecture.TOP_LEVEL.items():
        lines.append(f"- `{top}`: " + (", ".join(f"`{module}`" for module in allowed) or "nothing"))
    tf_packages = " and ".join(f"`{package}`" for package in architecture.TF_PACKAGES)
    lines += [
        "",
        f"TensorFlow and Horovod belong to {tf_packages}; elsewhere only these import them, inside functions:",
        "",
    ]
    for module, (allowed, why) in architecture.LAZY_TENSORFLOW.items():
        lines.append(f"- `{module}` (" + ", ".join(f"`{name}`" for name in allowed) + f"): {why}")
    return lines


# --- writing ---------------------------------------------------------------------------------


def pages() -> dict[Path, str]:
    """{path relative to the repository: its text as generated now}."""
    return {CLI_PAGE: cli_page(), CONFIGURATION_PAGE: configuration_page(), MODULES_PAGE: modules_page()}


def stale(root: Path = REPO_ROOT) -> list[Path]:
    """The generated pages whose file differs from what would be written now (or is missing)."""
    return [
        path
        for path, text in pages().items()
        if not (root / path).is_file() or (root / path).read_text(encoding="utf-8") != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hpcseq.devtools.reference", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a page is out of date")
    arguments = parser.parse_args(argv)
    if arguments.check:
        out_of_date = stale()
        for path in out_of_date:
            print(f"{path} is out of date: run `make docs-reference`", file=sys.stderr)
        return 1 if out_of_date else 0
    for path, text in pages().items():
        (REPO_ROOT / path).parent.mkdir(parents=True, exist_ok=True)
        (REPO_ROOT / path).write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
