"""The names the documentation mentions, read from its Markdown: what each must name that exists.

- modules: `scripts/hpcseq/...` paths and dotted `hpcseq.x.y` names (a module, a package, or a
  name defined at the top of one: `hpcseq.cli.build_parser`);
- `hpcseq <subcommand>`, `make <target>`, `snakemake ... <target>`: in the commands of shell
  blocks (marked ones too: a JSC command names real subcommands) and in inline code that starts
  with a command;
- repository paths: inline code without spaces whose first part is a top-level entry of the
  repository (`config/whole-nodes.yaml`, `workflow/rules/*.smk`); they must exist, unless Git
  ignores them (generated outputs: results/, logs/, jobs/<cluster>/, data/downloads/, ...).
Words standing for the reader's values (`<name>`, `{x}`, `$VAR`) are not names.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from tests.docs.blocks import FENCE, Document, closes_fence

INLINE_CODE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
MODULE_NAME = re.compile(r"(?<![\w./-])hpcseq(?:\.[a-z_][a-z0-9_]*)+")
MODULE_PATH = re.compile(r"(?<![\w.-])scripts/hpcseq(?:/[A-Za-z_][\w]*)*(?:\.py|/)?")
SHELL_OPERATORS = {"&&", "||", ";", "|", "&"}
PLACEHOLDER = re.compile(r"[<>{}$*\[\]]|\.\.\.")


@dataclass(frozen=True)
class Mention:
    """A name as the documentation writes it, and where ('file:line')."""

    where: str
    name: str


def prose_lines(document_text: str) -> list[tuple[int, str]]:
    """(line number, line) of the text outside fenced blocks."""
    lines, fence = [], None
    for number, line in enumerate(document_text.splitlines(), start=1):
        opening = FENCE.match(line)
        if fence is None and opening:
            fence = opening["fence"]
        elif fence is not None and closes_fence(fence, line):
            fence = None
        elif fence is None:
            lines.append((number, line))
    return lines


def command_texts(document: Document) -> list[tuple[str, str]]:
    """('file:line', command) of every command of its shell blocks and every inline code span."""
    found = [
        (f"{document.path}:{command.line}", command.text)
        for block in document.blocks
        if block.is_shell
        for command in block.commands
    ]
    for number, line in prose_lines(document.text):
        found += [(f"{document.path}:{number}", span.strip()) for span in INLINE_CODE.findall(line)]
    return found


def words_of(command: str) -> list[str]:
    try:
        return shlex.split(command, comments=True)
    except ValueError:
        return command.split()


def simple_commands(words: list[str]) -> list[list[str]]:
    """The words split at shell operators (`a && b; c | d`)."""
    commands, current = [], []
    for word in words:
        if word in SHELL_OPERATORS:
            commands.append(current)
            current = []
        else:
            current.append(word)
    return [command for command in [*commands, current] if command]


def _program(word: str) -> str:
    return word.rsplit("/", 1)[-1]


def hpcseq_subcommands(command: str) -> list[str]:
    """The subcommands of `hpcseq X`, `python -m hpcseq X`, `.venv/.../hpcseq X` in a command."""
    named = []
    for words in simple_commands(words_of(command)):
        for index, word in enumerate(words):
            if _program(word) == "hpcseq" and (index == 0 or words[index - 1] == "-m" or "=" in words[index - 1]):
                following = next((w for w in words[index + 1 :] if not w.startswith("-")), None)
                if following and not PLACEHOLDER.search(following) and following not in ("help",):
                    named.append(following)
                break
    return named


def make_targets(command: str) -> list[str]:
    """The targets of `make X Y` (options and VAR=value left out)."""
    named = []
    for words in simple_commands(words_of(command)):
        if words[0] == "make":
            named += [w for w in words[1:] if not w.startswith("-") and "=" not in w and not PLACEHOLDER.search(w)]
    return named


def snakemake_arguments(command: str) -> list[list[str]]:
    """The arguments of every `snakemake` (or `.venv/workflow/bin/snakemake`) the command runs."""
    return [words[1:] for words in simple_commands(words_of(command)) if _program(words[0]) == "snakemake"]


def module_mentions(document: Document) -> list[Mention]:
    """`scripts/hpcseq/...` paths and `hpcseq.x.y` names anywhere in the file, as dotted names
    (a path ending in / or .py names a package or module)."""
    found = []
    for number, line in enumerate(document.text.splitlines(), start=1):
        where = f"{document.path}:{number}"
        found += [Mention(where, name) for name in MODULE_NAME.findall(line)]
        for path in MODULE_PATH.findall(line):
            dotted = path.removeprefix("scripts/").removesuffix(".py").strip("/").replace("/", ".")
            found.append(Mention(where, dotted))
    return found


def path_mentions(document: Document, top_level: set[str]) -> list[Mention]:
    """Inline code without spaces that starts with a top-level entry of the repository and a /."""
    found = []
    for number, line in prose_lines(document.text):
        for span in INLINE_CODE.findall(line):
            span = span.strip()
            if " " in span or "/" not in span or span.startswith(("/", "./", "../")):
                continue
            if span.split("/", 1)[0] in top_level:
                found.append(Mention(f"{document.path}:{number}", span))
    return found
