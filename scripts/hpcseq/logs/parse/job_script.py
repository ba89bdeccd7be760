"""The generated job script's own lines, read back: its start (job, nodes, restart), a requeue, a
training failure, its end; for the smoke test, its result lines."""

from __future__ import annotations

from dataclasses import dataclass, field

from hpcseq import events
from hpcseq.logs.parse.lines import LogLine

# What `hpcseq logs` calls the job of `hpcseq smoke-test` (its rule column; job name events.SMOKE_JOB_NAME).
SMOKE_RULE = "smoke-test"


@dataclass
class ScriptOutput:
    """What the generated sbatch script itself printed (start, requeue, training failure, done),
    and for the smoke test its result lines (events.SMOKE_CHECK)."""

    job_id: str | None = None
    nodes: str | None = None
    restarts: int | None = None
    started: str | None = None
    requeue_line: LogLine | None = None
    training_exit_code: int | None = None
    done: bool = False
    smoke: list[LogLine] = field(default_factory=list)

    @property
    def smoke_failed(self) -> bool:
        return any(events.SMOKE_CHECK.search(line.text).group("result") == "FAIL" for line in self.smoke)


def parse_script_output(lines: list[LogLine]) -> ScriptOutput:
    output = ScriptOutput()
    for line in lines:
        text = line.text
        if match := events.SCRIPT_START.match(text):
            output.job_id, output.nodes = match.group("job"), match.group("nodes")
            output.restarts, output.started = int(match.group("restart")), match.group("time")
            # a requeued job appends to the same files: what counts is its latest run
            output.requeue_line, output.training_exit_code, output.done = None, None, False
            output.smoke = []
        elif events.SCRIPT_REQUEUE.search(text):
            output.requeue_line = line
        elif match := events.SCRIPT_TRAINING_FAILED.match(text):
            output.training_exit_code = int(match.group("code"))
        elif events.SCRIPT_DONE.match(text):
            output.done = True
        elif events.SMOKE_CHECK.search(text):
            output.smoke.append(line)
    return output
