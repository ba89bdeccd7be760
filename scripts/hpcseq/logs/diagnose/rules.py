"""The two kinds of entry in the table of diagnoses.

A LineRule is declarative: the first log line its pattern matches proves it, and that line is the
evidence; its summary and next step are fixed text. A Rule is a function of the Facts, for a
diagnosis that needs logic (Slurm's state, several lines, what to leave out as a consequence).
Both are called with the Facts and return a Diagnosis of their kind, or None.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from hpcseq.logs.diagnose.facts import Diagnosis, Evidence, Facts, find_first
from hpcseq.logs.parse import LogLine


@dataclass(frozen=True)
class Rule:
    """A diagnosis that needs logic: `check` returns a Diagnosis of kind `name`, or None."""

    name: str
    check: Callable[[Facts], Diagnosis | None]

    @property
    def kind(self) -> str:
        return self.name

    def __call__(self, facts: Facts) -> Diagnosis | None:
        return self.check(facts)


@dataclass(frozen=True)
class LineRule:
    """A diagnosis that one line proves: the first line `pattern` matches is the evidence.

    `summary` may name `{what}`: the pattern's group `what` (or its whole match, for a pattern
    without one), stripped; where that is empty (Lmod puts the module names on the next line),
    the next non-empty line after it, else the whole line.
    """

    name: str  # unique in the table; several entries may share a kind
    kind: str
    pattern: re.Pattern
    summary: str
    next_step: str
    before_training: bool = False  # only until training started: after that, its lines follow from another failure

    def __call__(self, facts: Facts) -> Diagnosis | None:
        if self.before_training and facts.training_started:
            return None
        found = find_first(facts.lines, self.pattern)
        if not found:
            return None
        line, match = found
        what = _what(facts.lines, line, match)
        return Diagnosis(
            self.kind, self.summary.format(what=what or line.text.strip()), Evidence.of(line), self.next_step
        )


def _what(lines: list[LogLine], line: LogLine, match: re.Match) -> str:
    what = ((match.group("what") if "what" in match.re.groupindex else match.group(0)) or "").strip()
    if not what:  # Lmod puts the module names on the next line
        index = lines.index(line)
        what = next((after.text.strip() for after in lines[index + 1 : index + 3] if after.text.strip()), "")
    return what


DiagnosisRule = Rule | LineRule  # an entry of the table
