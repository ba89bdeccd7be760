"""The commands the documentation shows, read from its Markdown. The convention the documents
and this test share:

- A fenced block tagged ```` ```bash ```` is one bash script: every line that is not blank and not
  a `#` comment is a command (a trailing backslash continues it). It must exit 0.
- A block tagged ```` ```console ````: lines starting with `$ ` are commands, the lines after one
  (up to the next `$ ` line) the output the docs show. Every shown line must occur in the real
  output (stdout and stderr together), in order, trailing whitespace ignored; a line `...` only
  says that lines were left out, and `...` inside a line stands for any text there (a path of the
  reader's checkout, a time). The exit status may be anything, but a command that fails must show
  what it prints.
- Other fences are never run, and must not show a command (COMMAND_STARTS on their first line).
- A block the test cannot run is marked by the line before its fence (blank lines between
  allowed), visible to readers: `*Not run by the docs test: <why>.*`.
- `snakemake ... --profile slurm ...` commands are dry-run by tests/slurm/test_profile_examples.py;
  here they are counted, not run.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from tests.slurm.test_profile_examples import COMMAND as SNAKEMAKE_COMMAND

# The Markdown files in scope, relative to the repository's top directory.
DOCUMENTS = ("README.md", "CHANGELOG.md", "docs/**/*.md", "envs/README.md", "data/README.md")
RUN_TAGS = ("bash", "console")
# What the first line of an untagged (or text, yaml, ...) block must not start with: a command.
COMMAND_STARTS = (
    "make ",
    "snakemake",
    "hpcseq ",
    ".venv/",
    "python",
    "sbatch",
    "srun",
    "module ",
    "envs/",
    "tests/cluster/",
)
MARKER_WORDS = "Not run by the docs test"
MARKER = re.compile(r"^\*Not run by the docs test:(?P<why>.*)\*$")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
# tests/slurm/test_profile_examples.py dry-runs the snakemake commands (its COMMAND) with this
PROFILE = "--profile slurm"
TRAINING_ENVIRONMENT = ".venv/train/bin/"
PROMPT = "$ "
ELLIPSIS = "..."
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class Command:
    """One command of a block: `line` is its first line in the file, `lines` how many it spans
    (backslash continuations), `text` the continued lines joined; `shown` the output a console
    block shows after it."""

    line: int
    lines: int
    text: str
    shown: tuple[str, ...] = ()

    @property
    def words(self) -> list[str]:
        """The command's words as bash splits them, without a trailing `# comment`; [] where the
        quoting does not close (a command shown broken: its block fails when run)."""
        try:
            return shlex.split(self.text, comments=True)
        except ValueError:
            return []

    @property
    def is_profile_command(self) -> bool:
        return SNAKEMAKE_COMMAND.match(self.profile_example) is not None and PROFILE in self.profile_example

    @property
    def profile_example(self) -> str:
        """The command as tests/slurm/test_profile_examples.py lists it: a trailing comment
        dropped, whitespace made single."""
        return " ".join(re.split(r"\s+#\s", self.text)[0].split())


@dataclass(frozen=True)
class Block:
    """A fenced block: `line` the line of its opening fence (1-based), `tag` the first word of
    its info string ('' untagged), `body` its lines (the fence's indentation removed), `marker`
    the why of its `*Not run by the docs test: ...*` line (None: unmarked, '' marked without why)."""

    path: str
    line: int
    tag: str
    body: tuple[str, ...]
    marker: str | None = None

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def is_shell(self) -> bool:
        return self.tag in RUN_TAGS

    @property
    def commands(self) -> list[Command]:
        if self.tag == "bash":
            return bash_commands(self.body, self.line + 1)
        if self.tag == "console":
            return console_commands(self.body, self.line + 1)
        return []

    @property
    def runnable(self) -> bool:
        """Run by this test: a shell block, not marked, with a command that is no profile command."""
        return self.is_shell and self.marker is None and any(not c.is_profile_command for c in self.commands)

    @property
    def needs_training_environment(self) -> bool:
        return any(TRAINING_ENVIRONMENT in command.text for command in self.commands)


@dataclass
class Document:
    """A Markdown file's text, its blocks, and what breaks the convention in it (`problems`:
    'file:line: ...')."""

    path: str
    text: str
    blocks: list[Block] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def joined_lines(lines: tuple[str, ...] | list[str], first_line: int, continuation_prefix: str = ""):
    """(line number, number of lines, text) of each logical line: a trailing backslash joins the
    next line (without `continuation_prefix`, e.g. a console's `> `)."""
    index = 0
    while index < len(lines):
        start, text = index, lines[index].rstrip()
        while text.endswith("\\") and index + 1 < len(lines):
            index += 1
            following = lines[index].rstrip()
            if continuation_prefix and following.startswith(continuation_prefix):
                following = following[len(continuation_prefix) :]
            text = text[:-1].rstrip() + " " + following.strip()
        yield first_line + start, index - start + 1, text
        index += 1


def bash_commands(body: tuple[str, ...], first_line: int) -> list[Command]:
    return [
        Command(line, count, text.strip())
        for line, count, text in joined_lines(body, first_line)
        if text.strip() and not text.lstrip().startswith("#")
    ]


def console_commands(body: tuple[str, ...], first_line: int) -> list[Command]:
    """The `$ ` commands of a console block, each with the output lines shown after it."""
    commands: list[Command] = []
    logical = list(joined_lines(body, first_line, continuation_prefix="> "))
    for position, (line, count, text) in enumerate(logical):
        if not text.startswith(PROMPT):
            continue
        shown = []
        for _, _, following in logical[position + 1 :]:
            if following.startswith(PROMPT):
                break
            shown.append(following.rstrip())
        while shown and not shown[-1]:
            shown.pop()
        commands.append(Command(line, count, text[len(PROMPT) :].strip(), tuple(shown)))
    return commands


def closes_fence(fence: str, line: str) -> bool:
    """Whether `line` closes a block opened by `fence` (the same character, at least as many)."""
    return re.fullmatch(rf"\s*{re.escape(fence[0])}{{{len(fence)},}}\s*", line) is not None


def _marker_of(lines: list[str], fence_index: int) -> tuple[str | None, int | None]:
    """The why of the marker line before the fence at `fence_index` (blank lines between
    allowed), and the marker's index; (None, None) where there is none."""
    index = fence_index - 1
    while index >= 0 and not lines[index].strip():
        index -= 1
    if index < 0:
        return None, None
    found = MARKER.match(lines[index].strip())
    if found is None:
        return None, None
    return found["why"].strip().rstrip(".").strip(), index


def read_document(path: str, text: str) -> Document:
    """The fenced blocks of one Markdown file, and its breaches of the convention."""
    document = Document(path, text)
    lines = text.splitlines()
    used_markers: set[int] = set()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        end = index + 1
        while end < len(lines) and not closes_fence(fence, lines[end]):
            end += 1
        body = tuple(
            line[len(indent) :] if line.startswith(indent) else line.lstrip() for line in lines[index + 1 : end]
        )
        marker, marker_index = _marker_of(lines, index)
        if marker_index is not None:
            used_markers.add(marker_index)
        tag = (opening["info"].split() or [""])[0].strip("{}.")
        document.blocks.append(Block(path, index + 1, tag, body, marker))
        index = end + 1
    document.problems = _problems(document, lines, used_markers)
    return document


def _problems(document: Document, lines: list[str], used_markers: set[int]) -> list[str]:
    problems = []
    for number, line in enumerate(lines):
        if MARKER_WORDS not in line or number in used_markers:
            continue
        if MARKER.match(line.strip()):
            problems.append(f"{document.path}:{number + 1}: a marker with no fenced block after it: {line.strip()}")
        elif line.strip().startswith(("*" + MARKER_WORDS, MARKER_WORDS)):
            problems.append(
                f"{document.path}:{number + 1}: a marker not written `*{MARKER_WORDS}: <why>.*`: {line.strip()}"
            )
    for block in document.blocks:
        problems.extend(block_problems(block))
    return problems


def block_problems(block: Block) -> list[str]:
    """What breaks the convention in one block: a command in a block that is not run, a marker
    without a why, a console block without a `$ ` command."""
    where = block.id
    if block.marker == "":
        return [f"{where}: marked not run, but the marker gives no why (`*{MARKER_WORDS}: <why>.*`)"]
    if not block.is_shell:
        first = next((line.strip() for line in block.body if line.strip()), "")
        first = first.removeprefix(PROMPT)
        if first.startswith(COMMAND_STARTS):
            tag = f"```{block.tag}" if block.tag else "an untagged ```"
            return [f"{where}: {tag} block shows a command (tag it bash or console): {first}"]
        return []
    if block.tag == "console" and not block.commands and any(line.strip() for line in block.body):
        return [f"{where}: a console block without a `$ ` command (show output alone in a text block)"]
    return []


def read_documents(root: Path) -> list[Document]:
    """Every Markdown file in scope under `root` (DOCUMENTS), in a stable order."""
    paths = sorted({path for pattern in DOCUMENTS for path in root.glob(pattern) if path.is_file()})
    return [read_document(path.relative_to(root).as_posix(), path.read_text(encoding="utf-8")) for path in paths]


# The shown output ---------------------------------------------------------------------------------


def _shown_pattern(shown_line: str) -> re.Pattern:
    return re.compile(".*".join(re.escape(part) for part in shown_line.split(ELLIPSIS)))


def missing_output(shown: tuple[str, ...] | list[str], output: str) -> str | None:
    """None when every shown line occurs in `output` in order (trailing whitespace ignored, a line
    `...` skipped, `...` in a line any text); else what is wrong with the first line that does not."""
    actual = [ANSI_ESCAPE.sub("", line).rstrip() for line in output.splitlines()]
    position = 0
    for line in shown:
        line = line.rstrip()
        if not line or line == ELLIPSIS:
            continue
        pattern = _shown_pattern(line)
        found = next((i for i in range(position, len(actual)) if pattern.fullmatch(actual[i])), None)
        if found is not None:
            position = found + 1
            continue
        earlier = any(pattern.fullmatch(text) for text in actual[:position])
        return f"shown line {'out of order' if earlier else 'not in the output'}: {line}"
    return None
