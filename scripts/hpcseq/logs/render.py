"""What `hpcseq logs` prints: one JobRecord per job, as a table, a detailed view or JSON, and the
--follow loop that redraws the table until no job is pending or running."""

from __future__ import annotations

import dataclasses
import json
import sys
import textwrap
import time
from collections.abc import Callable
from typing import TextIO

from hpcseq.durations import format_time
from hpcseq.events import ranks_by_host_text
from hpcseq.logs.charges import (
    CHARGE_LEGEND,
    CHARGE_RULE,
    Charges,
    ChargesTotal,
    cell_text,
    charges_text,
    total_charges,
)
from hpcseq.logs.parse.job_script import SMOKE_RULE
from hpcseq.logs.parse.progress import TrainingProgress
from hpcseq.logs.record import EarlierRun, JobRecord

__all__ = ["EarlierRun", "JobRecord", "follow", "render_detail", "render_details", "render_json", "render_table"]

# -------------------------------------------------------------------------------- formatting


def clock(seconds: int | None) -> str:
    """A duration as Slurm writes it (durations.format_time), "-" when not known."""
    return "-" if seconds is None else format_time(seconds)


def number(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def pair(first: float | None, second: float | None, digits: int = 3) -> str:
    if first is None and second is None:
        return "-"
    return f"{number(first, digits)}/{number(second, digits)}"


def epochs_text(progress: TrainingProgress) -> str:
    if progress.epochs_done is None:
        return "-" if progress.epochs_planned is None else f"0/{progress.epochs_planned}"
    return f"{progress.epochs_done}/{progress.epochs_planned if progress.epochs_planned is not None else '?'}"


def ranks_text(record: JobRecord) -> str:
    if record.ranks is None and not record.gpus:
        return "-"
    return f"{record.ranks if record.ranks is not None else '-'}/{record.gpus if record.gpus is not None else '-'}"


def nodes_text(record: JobRecord) -> str:
    if not record.nodes and not record.node_list:
        return "-"
    if record.node_list and record.nodes in (None, 0, 1):
        return record.node_list
    return f"{record.nodes} {record.node_list}" if record.node_list else str(record.nodes)


# ------------------------------------------------------------------------------------- table

COLUMNS = (
    "JOB",
    "RULE",
    "EXPERIMENT",
    "STATE",
    "ELAPSED/LIMIT",
    "NODES",
    "RANKS/GPUS",
    "EPOCHS",
    "LOSS/VAL",
    "ACC/VAL",
    "SAMPLES/S",
    "NODE-H",
    "GPU-H",
)


def table_row(record: JobRecord) -> list[str]:
    progress = record.progress
    return [
        record.job_id,
        record.rule or "-",
        record.experiment or "-",
        record.state_text,
        f"{clock(record.elapsed_seconds)}/{clock(record.limit_seconds)}",
        nodes_text(record),
        ranks_text(record),
        epochs_text(progress),
        pair(progress.loss, progress.val_loss),
        pair(progress.accuracy, progress.val_accuracy),
        "-" if progress.samples_per_second is None else f"{progress.samples_per_second:.0f}",
        *charge_cells(record.charges),
    ]


def charge_cells(charges: Charges | ChargesTotal | None) -> list[str]:
    """NODE-H and GPU-H of a row: `?` unknown, `-` a local job, `+` still growing (charges.cell_text)."""
    if charges is None:
        return ["?", "?"]
    return [cell_text(charges.node_hours, charges), cell_text(charges.gpu_hours, charges)]


def records_total(records: list[JobRecord]) -> ChargesTotal:
    """The charges of all jobs shown, summed (charges.total_charges)."""
    return total_charges([record.charges or Charges(None, None, None) for record in records])


def total_row(records: list[JobRecord]) -> list[str]:
    """The table's last row: the jobs' charges summed (the other columns empty)."""
    return ["total", *([""] * (len(COLUMNS) - 3)), *charge_cells(records_total(records))]


NO_JOBS = (
    "no jobs found: no Snakemake Slurm logs (.snakemake/slurm_logs/), job script output (<job>_out.<id>) "
    "or rule logs of a local run (<logs_dir>/<stage>/<experiment>.log)"
)


def render_table(records: list[JobRecord], notes: list[str] | None = None) -> str:
    if not records:
        return NO_JOBS + "\n" + "".join(f"note: {note}\n" for note in notes or [])
    rows = [list(COLUMNS)] + [table_row(record) for record in records]
    slurm_jobs = any(not record.local for record in records)
    if len(records) > 1 and slurm_jobs:
        rows.append(total_row(records))
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines += [CHARGE_LEGEND] if slurm_jobs else []
    explained = [text for record in records if (text := _explanation(record))]
    if explained:
        lines.append("")
        lines += [textwrap.shorten(text, 160, placeholder=" ...") for text in explained]
        diagnosed = [record for record in records if record.diagnosis]
        how = [
            *(["hpcseq logs <JOB>"] if any(not record.local for record in diagnosed) else []),
            *(["hpcseq logs <LOG FILE> (a local run's job)"] if any(record.local for record in diagnosed) else []),
        ]
        if how:
            lines.append(f"Details, evidence and what to do: {' or '.join(how)}")
    lines += [f"note: {note}" for note in notes or []]
    return "\n".join(lines) + "\n"


def _explanation(record: JobRecord) -> str | None:
    """The line under the table for a job: its diagnosis, or why it waits."""
    if record.diagnosis is not None:
        return f"{record.label}: {record.diagnosis.kind}: {record.diagnosis.summary.splitlines()[0]}"
    if record.state == "pending" and (record.reason_text or record.expected_start):
        start = f", expected start {record.expected_start}" if record.expected_start else ""
        return f"{record.label}: pending: {record.reason_text or record.reason}{start}"
    return None


# ------------------------------------------------------------------------------ detailed view


def _wrapped(label: str, text: str, width: int = 100) -> list[str]:
    out = []
    for index, paragraph in enumerate(text.splitlines() or [""]):
        wrapped = textwrap.wrap(paragraph, width - 12, break_long_words=False, break_on_hyphens=False) or [""]
        for number_, part in enumerate(wrapped):
            prefix = label.ljust(11) if index == 0 and number_ == 0 else " " * 11
            out.append(prefix + part)
    return out


def _heading(record: JobRecord) -> list[str]:
    if record.local:
        return [f"local run: rule {record.rule or '-'}, experiment {record.experiment or '-'} (Snakemake, no Slurm)"]
    if record.rule == SMOKE_RULE:
        what = "smoke test of the software route (hpcseq smoke-test)"
    elif record.rule not in (None, "sbatch"):
        what = f"rule {record.rule}, experiment {record.experiment or '-'} (Snakemake)"
    elif record.rule == "sbatch":
        what = f"experiment {record.experiment or '-'} (job script)"
    else:
        what = f"{record.experiment or 'Slurm job'} (no log files)"
    return [f"job {record.job_id}: {what}"]


def _state(record: JobRecord) -> list[str]:
    state = record.state_text
    if record.slurm_state:
        exit_code = f", exit code {record.exit_code}" if record.exit_code is not None else ""
        state += f" (Slurm: {record.slurm_state}{exit_code})"
    elif record.local and record.exit_code:
        state += f" (exit code {record.exit_code})"
    if record.reason_text:
        state += f": {record.reason_text}"
    if record.expected_start:
        state += f"; expected start {record.expected_start}"
    return _wrapped("state", state)


def _time(record: JobRecord) -> list[str]:
    times = f"{clock(record.elapsed_seconds)} of {clock(record.limit_seconds)}"
    if record.local:  # no time limit
        times = clock(record.elapsed_seconds)
    if record.started:
        times += f", started {record.started}"
    if record.ended:
        times += f", ended {record.ended}"
    lines = _wrapped("time", times)
    if record.runs > 1:
        lines += _wrapped("runs", f"{record.runs} (requeued under the same job id)")
    return lines


def _resources(record: JobRecord) -> list[str]:
    gpus = record.gpus if record.gpus is not None else "-"
    lines = _wrapped("resources", f"nodes {nodes_text(record)}; ranks {record.ranks or '-'}; GPUs {gpus}")
    return lines + (_wrapped("hosts", ranks_by_host_text(record.rank_hosts)) if record.rank_hosts else [])


def _charges(record: JobRecord) -> list[str]:
    """What the job was charged, and the rule (charges.CHARGE_RULE); nothing for a local job."""
    if record.charges is None or record.charges.outside_slurm:
        return []
    return _wrapped("charged", charges_text(record.charges)) + _wrapped("", f"({CHARGE_RULE})")


def _training(record: JobRecord) -> list[str]:
    progress = record.progress
    if progress.epochs_done is None and progress.epochs_planned is None:
        return []
    training = f"epoch {epochs_text(progress)}"
    if progress.epochs_this_job and progress.epochs_done is not None:
        first = progress.epochs_done - progress.epochs_this_job + 1
        epochs = f"epochs {first}-{progress.epochs_done}" if first != progress.epochs_done else f"epoch {first}"
        training += f" (this job: {epochs}, from {progress.source})"
    return _wrapped("training", training)


def _checkpoint(record: JobRecord) -> list[str]:
    return _wrapped("checkpoint", f"{record.checkpoint} ({record.checkpoint_path})") if record.checkpoint else []


def _metrics(record: JobRecord) -> list[str]:
    progress = record.progress
    if progress.loss is None and progress.val_loss is None:
        return []
    metrics = f"loss {number(progress.loss)}, val_loss {number(progress.val_loss)}"
    if progress.accuracy is not None or progress.val_accuracy is not None:
        metrics += f", accuracy {number(progress.accuracy)}, val_accuracy {number(progress.val_accuracy)}"
    return _wrapped("metrics", metrics)


def _speed(record: JobRecord) -> list[str]:
    progress = record.progress
    if progress.samples_per_second is None:
        return []
    speed = f"{progress.samples_per_second:.0f} samples/s"
    if progress.epoch_seconds is not None:
        speed += f", {progress.epoch_seconds:.1f} s per epoch"
    return _wrapped("speed", speed + " (median over this job's epochs)")


def _chain(record: JobRecord) -> list[str]:
    chain = []
    if record.previous_job:
        chain.append(f"continues job {record.previous_job}")
    if record.next_job:
        chain.append(f"continued by job {record.next_job}")
    return _wrapped("chain", "; ".join(chain)) if chain else []


def _files(record: JobRecord) -> list[str]:
    lines = []
    for index, path in enumerate(record.files or ["(no log files found)"]):
        lines += _wrapped("files" if index == 0 else "", path)
    if record.results_dir:
        lines += _wrapped("results", record.results_dir)
    return lines


def _smoke_checks(record: JobRecord) -> list[str]:
    """The smoke test's result, a line per check as its rank 0 printed them."""
    if not record.smoke_checks:
        return []
    lines = [""]
    for index, text in enumerate(record.smoke_checks):
        lines += _wrapped("checks" if index == 0 else "", text.removeprefix("hpcseq smoke-test "))
    return lines


def _diagnosis(record: JobRecord) -> list[str]:
    diagnosis = record.diagnosis
    if diagnosis is None:
        return []
    lines = ["", *_wrapped("diagnosis", f"{diagnosis.kind}: {diagnosis.summary}")]
    if diagnosis.location:
        lines += _wrapped("code", diagnosis.location)
    if diagnosis.evidence is not None:
        lines += _wrapped("evidence", str(diagnosis.evidence))
    for item in diagnosis.also:
        lines += _wrapped("", str(item))
    return lines + _wrapped("next step", diagnosis.next_step)


def _earlier_runs(record: JobRecord) -> list[str]:
    """Why each earlier run of a requeued job ended (diagnosed ones only: the others are a note)."""
    lines = []
    for number, run in enumerate(record.earlier_runs, start=1):
        diagnosis = run.diagnosis
        if diagnosis is None:
            continue
        title = f"run {number} of {record.runs} ({run.state}, {run.started or '-'} to {run.ended or '-'})"
        lines += ["", *_wrapped("earlier run", f"{title}: {diagnosis.kind}: {diagnosis.summary}")]
        if diagnosis.evidence is not None:
            lines += _wrapped("evidence", str(diagnosis.evidence))
        for item in diagnosis.also:
            lines += _wrapped("", str(item))
        lines += _wrapped("then", diagnosis.next_step)
    return lines


def _last_lines(record: JobRecord) -> list[str]:
    lines = []
    for path, tail in record.last_lines.items():
        if tail:
            lines += ["", f"last lines of {path}:", *(f"  {text}" for text in tail)]
    return lines


# The detailed view of one job, section after section (each is empty when it has nothing to say).
DETAIL_SECTIONS: tuple[Callable[[JobRecord], list[str]], ...] = (
    _heading,
    _state,
    _time,
    _resources,
    _charges,
    _training,
    _checkpoint,
    _metrics,
    _speed,
    _chain,
    _files,
    _smoke_checks,
    _earlier_runs,
    _diagnosis,
    _last_lines,
)


def render_detail(record: JobRecord, notes: list[str] | None = None) -> str:
    lines = [line for section in DETAIL_SECTIONS for line in section(record)]
    lines += [f"note: {note}" for note in record.notes + (notes or [])]
    return "\n".join(lines) + "\n"


def render_details(records: list[JobRecord], notes: list[str] | None = None) -> str:
    """The detailed view of each job, one after the other."""
    return "".join(render_detail(record, notes) for record in records)


def render_json(records: list[JobRecord], notes: list[str] | None = None) -> str:
    """{"jobs": [...], "total": {node_hours, gpu_hours, jobs, unknown_jobs, so_far}, "notes": [...]}."""
    document = {
        "jobs": [record.to_json() for record in records],
        "total": dataclasses.asdict(records_total(records)),
        "notes": notes or [],
    }
    return json.dumps(document, indent=1) + "\n"


# --------------------------------------------------------------------------------- following

CLEAR = "\x1b[H\x1b[2J"


def follow(
    collect: Callable[[], tuple[list[JobRecord], list[str]]],
    render: Callable[[list[JobRecord], list[str]], str],
    interval: float,
    out: TextIO = sys.stdout,
    sleep: Callable[[float], None] = time.sleep,
    clear: bool | None = None,
) -> list[JobRecord]:
    """Redraw until no job is pending or running; returns the last records.
    On a terminal the screen is cleared between rounds, otherwise rounds follow each other."""
    if clear is None:
        clear = out.isatty()
    while True:
        records, notes = collect()
        if clear:
            out.write(CLEAR)
        out.write(render(records, notes))
        active = [record for record in records if record.active]
        if not active:
            out.flush()
            return records
        out.write(
            f"-- {time.strftime('%H:%M:%S')}: {len(active)} job(s) pending or running; next refresh in "
            f"{interval:g} s (Ctrl-C stops)\n"
        )
        out.flush()
        sleep(interval)
