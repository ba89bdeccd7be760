"""Why a job ended the way it did: log lines and Slurm's state -> Diagnosis(kind, summary,
evidence, next step).

The diagnoses are a table, tried in order, most specific first: a cause that explains the others
wins (an out-of-memory kill explains the rank that died; a rank that died explains the Horovod
stall; a stall explains the time limit that followed). Each entry gets the job's Facts (its log
lines, Slurm's state and exit code, its last checkpoint) and returns a Diagnosis with the line that
proves it (file:line and text) and what to do next, or None. A failure no entry explains gets
`unknown` with the last error-like lines, never a guess.

Each family keeps its entries in a table of its own, RULES, and PRIORITY below orders the kinds:

    facts          Facts, Diagnosis, Evidence and the advice all share (checkpoint, how to continue)
    rules          the two kinds of entry: LineRule (a pattern, its summary and next step; the line
                   it matches is the evidence) and Rule (a function, for a diagnosis that needs logic)
    slurm_states   interrupted, preempted, cancelled; pending reasons in words
    environment    the smoke test's verdict; modules, interpreter, imports, venv, shared libraries
    resources      GPU and host out of memory
    nodes          a node that failed
    mpi_horovod    collective mismatch, NCCL/CUDA errors, MPI launch, Horovod's stall
    ranks          a rank that hung or died
    python_errors  tracebacks, the exception that ended the program, hpcseq's own errors
    time_limits    the time limit, and the clean stop before it
    noise          lines that explain nothing, and `unknown`

To add a diagnosis: add its entry to its family's RULES (a LineRule where one line proves it and
the text is fixed, else a function wrapped in a Rule), and, for a new kind, the kind's place in
PRIORITY; add the log excerpt it comes from to tests/unit/logs/excerpts.py (verbatim, with where it
comes from), the entry's example to EXAMPLES in tests/unit/logs/test_diagnose_rules.py (which fails
for an entry without one), and a test of what it says to tests/unit/logs/test_diagnose.py.
"""

from __future__ import annotations

from collections.abc import Iterable

from hpcseq.logs.diagnose import (
    environment,
    mpi_horovod,
    nodes,
    python_errors,
    ranks,
    resources,
    slurm_states,
    time_limits,
)
from hpcseq.logs.diagnose.facts import (
    ACTIVE_STATES,
    FAILURE_STATES,
    Diagnosis,
    Evidence,
    Facts,
    checkpoint_text,
    how_to_continue,
    stage_of,
)
from hpcseq.logs.diagnose.mpi_horovod import horovod_stall
from hpcseq.logs.diagnose.nodes import node_failure
from hpcseq.logs.diagnose.noise import is_noise, unknown
from hpcseq.logs.diagnose.python_errors import TRACEBACK, display_path, tracebacks
from hpcseq.logs.diagnose.ranks import HOROVODRUN_EXIT
from hpcseq.logs.diagnose.resources import HOST_OOM
from hpcseq.logs.diagnose.rules import DiagnosisRule, LineRule, Rule
from hpcseq.logs.diagnose.slurm_states import CANCEL_MARKER, pending_reason

__all__ = [
    "ACTIVE_STATES",
    "CANCEL_MARKER",
    "FAILURE_STATES",
    "HOROVODRUN_EXIT",
    "HOST_OOM",
    "PRIORITY",
    "RULES",
    "TRACEBACK",
    "Diagnosis",
    "DiagnosisRule",
    "Evidence",
    "Facts",
    "LineRule",
    "Rule",
    "checkpoint_text",
    "diagnose",
    "display_path",
    "how_to_continue",
    "is_noise",
    "node_failure",
    "pending_reason",
    "stage_of",
    "tracebacks",
]

# The kinds, most specific first (see the docstring above).
PRIORITY = (
    "interrupted",  # a local run's Snakemake stopped: its word is the last
    "smoke_test",  # the smoke test's own verdict on what it checked
    "gpu_out_of_memory",
    "host_out_of_memory",
    "node_failure",
    "preempted",
    "collective_mismatch",
    "nccl_cuda",
    "environment",
    "mpi_launch",
    "rank_hung",  # unless the rank had an error of its own: the others' errors follow from it
    "python_exception",
    "hpcseq_error",
    "rank_died",
    "horovod_stall",
    "time_limit",
    "cancelled",
)


def _in_priority_order(tables: Iterable[tuple[DiagnosisRule, ...]]) -> tuple[DiagnosisRule, ...]:
    """The families' entries ordered by PRIORITY; entries of one kind keep their table's order."""
    rules = [rule for table in tables for rule in table]
    unplaced = sorted({rule.kind for rule in rules} - set(PRIORITY))
    if unplaced:
        raise ValueError(f"diagnosis kinds without a place in PRIORITY: {', '.join(unplaced)}")
    return tuple(sorted(rules, key=lambda rule: PRIORITY.index(rule.kind)))


RULES = _in_priority_order(
    (
        slurm_states.RULES,
        environment.RULES,
        resources.RULES,
        nodes.RULES,
        mpi_horovod.RULES,
        ranks.RULES,
        python_errors.RULES,
        time_limits.RULES,
    )
)


def diagnose(facts: Facts) -> Diagnosis | None:
    """The cause of a job's end, or None for a job that completed, is waiting or runs normally.
    A running job is checked for a Horovod stall only (the one problem visible while it runs)."""
    if facts.state in ("PENDING", "REQUEUE_HOLD", "CONFIGURING"):
        return None
    if facts.state in ACTIVE_STATES:
        return horovod_stall(facts)
    if facts.state == "COMPLETED":
        return None
    for rule in RULES:
        found = rule(facts)
        if found is not None:
            return found
    return unknown(facts) if facts.failed else None
