"""Python's own errors: tracebacks (also two ranks' interleaved line by line), the exception that
ended the program and the project's code line it came from, and hpcseq's own `error:` lines
(an input or config error a stage reports without a traceback)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hpcseq.events import STAGE_ERROR, STOPPED_ON_SIGNAL
from hpcseq.logs.diagnose.facts import Diagnosis, Evidence, Facts, how_to_continue, join_sentences
from hpcseq.logs.diagnose.rules import Rule
from hpcseq.logs.parse import LogLine

TRACEBACK = re.compile(r"^Traceback \(most recent call last\):\s*$")
FRAME = re.compile(r'^\s+File "(?P<path>[^"]+)", line (?P<line>\d+), in (?P<function>.+)$')
EXCEPTION = re.compile(
    r"^(?P<type>(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Exit|Interrupt|Warning|Failure))"
    r"(?::\s?(?P<message>.*))?$"
)
CHAINED = re.compile(r"^(?:During handling of the above exception|The above exception was the direct cause)")
CONSEQUENCES = re.compile(
    r"HorovodInternalError|Horovod has been shut down|Horovod detected that one or more "
    r"processes exited|KeyboardInterrupt|SystemExit|BrokenPipeError"
)
PROJECT_CODE = re.compile(r"(?:^|/)scripts/hpcseq/")


@dataclass
class Frame:
    path: str
    line: int
    function: str
    log_line: LogLine
    code: str | None = None


@dataclass
class Traceback:
    type: str
    message: str
    exception_line: LogLine
    frames: list[Frame]
    chained_from: Traceback | None = None

    @property
    def user_frame(self) -> Frame | None:
        """The last frame in the project's own code (scripts/hpcseq/), else the last frame outside
        site-packages and the standard library, else the last frame."""
        for frame in reversed(self.frames):
            if PROJECT_CODE.search(frame.path):
                return frame
        for frame in reversed(self.frames):
            if not _library_path(frame.path):
                return frame
        return self.frames[-1] if self.frames else None


def _library_path(path: str) -> bool:
    return (
        "site-packages" in path
        or "dist-packages" in path
        or path.startswith("<")
        or re.search(r"/lib(?:64)?/python\d+\.\d+/", path) is not None
    )


def display_path(path: str) -> str:
    """`/work/main/scripts/hpcseq/vocab.py` -> `scripts/hpcseq/vocab.py`."""
    match = re.search(r"scripts/hpcseq/.*$", path)
    return match.group(0) if match else path


def tracebacks(lines: list[LogLine]) -> list[Traceback]:
    """Python tracebacks in log lines, also when two ranks' tracebacks are interleaved line by line
    (both ranks write to the same stderr): frames collect from the first `Traceback` header to the
    exception line; an identical exception line right after it is the other rank's copy."""
    found: list[Traceback] = []
    frames: list[Frame] | None = None
    chained = False
    for index, line in enumerate(lines):
        text = line.text
        if TRACEBACK.match(text):
            if frames is None:
                frames = []
            continue
        if CHAINED.match(text):
            chained = True
            continue
        if frames is None:
            continue
        frame = FRAME.match(text)
        if frame:
            code = (
                lines[index + 1].text.strip()
                if index + 1 < len(lines) and not FRAME.match(lines[index + 1].text)
                else None
            )
            frames.append(
                Frame(frame.group("path"), int(frame.group("line")), frame.group("function").strip(), line, code)
            )
            continue
        exception = EXCEPTION.match(text)
        if exception and frames:
            message = (exception.group("message") or "").strip()
            previous = found[-1] if chained and found else None
            found.append(Traceback(exception.group("type"), message, line, frames, previous))
            frames, chained = None, False
    return found


def chosen_traceback(facts: Facts) -> Traceback | None:
    """The first traceback that is not a consequence of another failure (Horovod shutting down
    after a rank died, a KeyboardInterrupt on cancel); of a chain, the exception that ended it."""
    candidates = [tb for tb in tracebacks(facts.lines) if not CONSEQUENCES.search(f"{tb.type}: {tb.message}")]
    if not candidates:
        return None
    first = candidates[0]
    # a chain continues in the following tracebacks that are chained to this one
    for tb in candidates[1:]:
        if tb.chained_from is first:
            first = tb
    return first


EXCEPTION_HINTS = (
    (
        re.compile(r"mmap length is greater than file size|cannot reshape array|buffer is smaller than requested size"),
        "A data file is shorter than its index says (cut off, or rewritten while the job ran): rerun the stage that "
        "writes it (vocabulary for results/<experiment>/encoded/), then training.",
    ),
    (
        re.compile(r"^(?:FileNotFoundError|IsADirectoryError)"),
        "A file is missing: run the stage that writes it first (snakemake does this in order), or fix the path.",
    ),
    (re.compile(r"^MemoryError"), "The process ran out of host memory: ask for more memory (--mem) or use less."),
    (re.compile(r"^PermissionError"), "Check the permissions of the file or folder named in the message."),
)


def python_exception(facts: Facts) -> Diagnosis | None:
    tb = chosen_traceback(facts)
    if tb is None:
        return None
    frame = tb.user_frame
    location = f"{display_path(frame.path)}:{frame.line}" if frame else None
    where = f" in {display_path(frame.path)}, line {frame.line} ({frame.function})" if frame else ""
    message = f": {tb.message}" if tb.message else ""
    rank = f" on rank {tb.exception_line.rank}" if tb.exception_line.rank is not None else ""
    hint = next((advice for pattern, advice in EXCEPTION_HINTS if pattern.search(f"{tb.type}: {tb.message}")), "")
    also = [Evidence.of(frame.log_line)] if frame else []
    if frame and frame.code:
        also.append(Evidence(frame.log_line.path, frame.log_line.number + 1, frame.code))
    return Diagnosis(
        "python_exception",
        f"{tb.type}{message}{rank}{where}",
        Evidence.of(tb.exception_line),
        join_sentences(
            f"Look at {location} ({frame.function}): the error is raised there or in what it calls." if frame else "",
            hint,
            "Fix the cause, then run it again.",
            how_to_continue(facts),
        ),
        location=location,
        also=also,
    )


def hpcseq_error(facts: Facts) -> Diagnosis | None:
    for index, line in enumerate(facts.lines):
        match = STAGE_ERROR.match(line.text)
        if not match or STOPPED_ON_SIGNAL.search(match.group("message")):
            continue
        message = match.group("message")
        for following in facts.lines[index + 1 : index + 21]:  # ConfigErrors list one problem per line
            if following.path != line.path or not following.text.startswith((" ", "\t")):
                break
            message += "\n" + following.text.rstrip()
        stage = match.group("stage")
        config = "config key" in message or message.startswith("invalid configuration")
        advice = (
            "Correct the config key(s) named above (`hpcseq config` prints the resolved config), then rerun."
            if config
            else "The message names the file or setting to fix; fix it, then rerun."
        )
        return Diagnosis(
            "hpcseq_error",
            f"hpcseq {stage} stopped with an input or config error: {message}",
            Evidence.of(line),
            join_sentences(advice, how_to_continue(facts) if facts.snakemake else ""),
        )
    return None


RULES = (Rule("python_exception", python_exception), Rule("hpcseq_error", hpcseq_error))
