"""The time limit: Slurm's `CANCELLED ... DUE TO TIME LIMIT`, a TIMEOUT or DEADLINE state, and the
clean stop before it (Slurm's warning, SIGUSR1: training checkpoints, exits with REQUEUE_EXIT_CODE
and the job is requeued or resubmitted), also when the warning came while the ranks were starting."""

from __future__ import annotations

import re

from hpcseq.durations import format_time
from hpcseq.errors import REQUEUE_EXIT_CODE  # checkpointed before the time limit
from hpcseq.events import SCRIPT_REQUEUE, STOPPED_ON_SIGNAL
from hpcseq.logs.diagnose.facts import (
    Diagnosis,
    Evidence,
    Facts,
    checkpoint_text,
    find_first,
    how_to_continue,
    how_to_resume,
    join_sentences,
    stage_of,
)
from hpcseq.logs.diagnose.ranks import SRUN_TASK, SRUN_WARNING_DEATH, tasks_text
from hpcseq.logs.diagnose.rules import Rule
from hpcseq.logs.diagnose.slurm_states import job_marker
from hpcseq.logs.parse import LogLine


def time_limit(facts: Facts) -> Diagnosis | None:
    marker = job_marker(facts, "TIME LIMIT")
    stopped = next(
        (
            (line, m)
            for line in facts.lines
            if (m := STOPPED_ON_SIGNAL.search(line.text)) and m.group("signal") == "SIGUSR1"
        ),
        None,
    )
    requeue = find_first(facts.lines, SCRIPT_REQUEUE.pattern)
    warned_while_starting = _warned_while_starting(facts)
    early_stop = (
        stopped
        or requeue
        or warned_while_starting
        or (facts.exit_code == REQUEUE_EXIT_CODE and (facts.training_started or stage_of(facts.rule) == "train"))
    )
    if not marker and facts.state not in ("TIMEOUT", "DEADLINE") and not early_stop:
        return None
    raise_limit = _raise_limit(facts)
    if marker or facts.state in ("TIMEOUT", "DEADLINE"):
        return _reached_limit(facts, marker, bool(stopped or requeue), raise_limit)
    if warned_while_starting and not stopped:
        line, match = warned_while_starting
        how = (
            f"Slurm's warning before the time limit (SIGUSR1) ended {tasks_text(match)} while starting, "
            "before hpcseq could catch it (nothing was trained in this job)"
        )
        return _clean_stop(facts, line, bool(requeue), raise_limit, how)
    line = (requeue or stopped)[0] if (requeue or stopped) else None
    return _clean_stop(facts, line, bool(requeue), raise_limit)


def _raise_limit(facts: Facts) -> str:
    """How to give the stage more time: its key in the config, or the script generator's option."""
    raise_limit = f"To finish in one job, raise the time limit: slurm.time.{stage_of(facts.rule)} in the config" + (
        f" (or experiments.{facts.experiment}.slurm.time)"
        if stage_of(facts.rule) == "train" and facts.experiment
        else ""
    )
    if not facts.snakemake:
        raise_limit += ", or `hpcseq sbatch --time HH:MM:SS` when generating the script"
    raise_limit += " (at most the partition's limit: max_time of the cluster in the config)."
    return raise_limit


def _reached_limit(
    facts: Facts, marker: tuple[LogLine, re.Match] | None, signal_stopped: bool, raise_limit: str
) -> Diagnosis:
    """Slurm stopped the job at its time limit (its cancel line, or sacct's TIMEOUT/DEADLINE)."""
    limit = f" of {format_time(facts.limit_seconds)}" if facts.limit_seconds else ""
    progress = ""
    if facts.epochs_done is not None:
        planned = f" of {facts.epochs_planned}" if facts.epochs_planned else ""
        progress = f" after epoch {facts.epochs_done}{planned}"
    summary = f"The job reached its time limit{limit}{progress}; Slurm stopped it."
    evidence = Evidence.of(marker[0]) if marker else None
    signal_hint = (
        ""
        if signal_stopped
        else "With slurm.signal_seconds_before_limit (default 120 s) training gets SIGUSR1 before the "
        "limit, checkpoints and is resubmitted by itself."
    )
    return Diagnosis(
        "time_limit",
        summary,
        evidence,
        join_sentences(how_to_resume(facts), raise_limit, signal_hint),
    )


def _warned_while_starting(facts: Facts) -> tuple[LogLine, re.Match] | None:
    """srun's `task N: User defined signal 1`: see SRUN_WARNING_DEATH."""
    return next(
        (
            (line, match)
            for line in facts.lines
            if (match := SRUN_TASK.match(line.text)) and match.group("how").startswith(SRUN_WARNING_DEATH)
        ),
        None,
    )


def _clean_stop(
    facts: Facts, line: LogLine | None, requeued: bool, raise_limit: str, how: str | None = None
) -> Diagnosis:
    """Slurm's warning before the time limit did what it is there for: training wrote a checkpoint
    and exited with REQUEUE_EXIT_CODE (or, warned while starting, ended with nothing to save), and
    the job is requeued or resubmitted to continue from its checkpoint."""
    checkpoint = f"checkpoint {facts.checkpoint.describe()}" if facts.checkpoint else "its last checkpoint"
    if requeued:
        then = f"the job script requeued the job to continue from {checkpoint}."
    elif facts.next_job:
        then = f"job {facts.next_job} continues from {checkpoint}."
    else:
        then = f"a rerun continues from {checkpoint}."
    how = how or f"Stopped before the time limit (SIGUSR1, exit code {REQUEUE_EXIT_CODE}), as designed"
    return Diagnosis(
        "time_limit",
        f"{how}: {then}",
        Evidence.of(line) if line else None,
        join_sentences(
            checkpoint_text(facts),
            how_to_continue(facts)
            if not requeued
            else "Slurm runs it again under the same job id; training continues from that checkpoint.",
            raise_limit,
        ),
    )


RULES = (Rule("time_limit", time_limit),)
