"""What a Slurm job was charged: node-hours and GPU-hours, from sacct.

The rule is stated once, here (CHARGE_RULE), and job_charges() is the only place that applies it:
the table, the detailed view and the JSON of `hpcseq logs`, and results/summary.md all use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from hpcseq.logs.diagnose import ACTIVE_STATES

if TYPE_CHECKING:
    from hpcseq.logs.sources.accounting import SlurmJob

CHARGE_RULE = (
    "Charged node-hours = AllocNodes x ElapsedRaw / 3600 and GPU-hours = the GPUs allocated (gres/gpu in "
    "AllocTRES) x ElapsedRaw / 3600, from sacct's allocation line of each run of the job (not its steps), "
    "summed over every run that `sacct -D` lists: earlier and requeued runs included; a job still running "
    "counts its elapsed time so far. On whole-node clusters such as JSC's, Slurm allocates whole nodes and "
    "AllocNodes counts them, so node-hours are what the budget pays: a job that holds only some GPUs of a "
    "node (slurm.allow_partial_node) still pays the whole node, while its GPU-hours count the GPUs it held "
    "(on a shared cluster, node-hours are an upper bound). Without accounting data (sacct fails or does "
    "not know the job) both are unknown, never 0."
)
# the table's legend for its two columns
CHARGE_LEGEND = (
    "NODE-H/GPU-H: charged node-hours and GPU-hours over all runs of each job (+ so far: not ended, or jobs of "
    "unknown charge left out; ? unknown: no accounting data; the rule: hpcseq logs JOB)"
)
# Slurm states of a job that has not ended: its figures grow ("so far"); pending ones may run again
NOT_ENDED_STATES = ACTIVE_STATES | {"PENDING", "REQUEUE_HOLD", "REQUEUED", "REQUEUE_FED"}


@dataclass(frozen=True)
class Charges:
    """One job's charge; node_hours and gpu_hours are None when unknown (never 0 for unknown)."""

    node_hours: float | None
    gpu_hours: float | None
    runs: int | None  # runs counted (sacct -D); None: unknown
    so_far: bool = False  # the job has not ended: its time so far
    outside_slurm: bool = False  # a local run (no Slurm job): nothing charged
    unknown_why: str | None = None

    @property
    def known(self) -> bool:
        return self.node_hours is not None and self.gpu_hours is not None


OUTSIDE_SLURM = Charges(0.0, 0.0, 0, outside_slurm=True)


def unknown(why: str) -> Charges:
    return Charges(None, None, None, unknown_why=why)


def job_charges(job: SlurmJob | None, accounting_note: str | None = None) -> Charges:
    """CHARGE_RULE applied to a job as sacct tells it (with its earlier runs); unknown without an
    answer of sacct (`accounting_note`: why sacct gave none)."""
    if job is None or job.source != "sacct":
        return unknown(f"no accounting data ({accounting_note})" if accounting_note else "sacct does not know the job")
    runs = [*job.earlier_runs, job]
    node_seconds = gpu_seconds = 0
    for run in runs:
        elapsed = run.elapsed_seconds
        if elapsed == 0:
            continue  # a run that never started (pending: no AllocTRES yet) costs nothing
        if elapsed is None or run.alloc_nodes is None or run.gpus is None:
            return unknown(f"sacct gave no AllocNodes, ElapsedRaw or AllocTRES for a run of job {job.job_id}")
        node_seconds += run.alloc_nodes * elapsed
        gpu_seconds += run.gpus * elapsed
    return Charges(node_seconds / 3600, gpu_seconds / 3600, len(runs), so_far=job.state in NOT_ENDED_STATES)


@dataclass(frozen=True)
class ChargesTotal:
    """The sum over several jobs; the unknown ones are counted, not summed."""

    node_hours: float | None  # None: every job's figure is unknown
    gpu_hours: float | None
    jobs: int  # Slurm jobs summed or unknown (local ones, charged nothing, are not counted)
    unknown_jobs: int = 0
    so_far: bool = False


def total_charges(charges: list[Charges]) -> ChargesTotal:
    slurm = [charge for charge in charges if not charge.outside_slurm]
    known = [charge for charge in slurm if charge.known]
    summed = bool(known) or not slurm
    return ChargesTotal(
        node_hours=sum(charge.node_hours for charge in known) if summed else None,
        gpu_hours=sum(charge.gpu_hours for charge in known) if summed else None,
        jobs=len(slurm),
        unknown_jobs=len(slurm) - len(known),
        so_far=any(charge.so_far for charge in known),
    )


# ------------------------------------------------------------------------------------ as text


def hours_text(hours: float | None) -> str:
    """`0.003`, `1.25`, `123`: three decimals below an hour (short test jobs stay visible)."""
    if hours is None:
        return "unknown"
    return f"{hours:.3f}" if hours < 1 else f"{hours:.2f}" if hours < 100 else f"{hours:.0f}"


def cell_text(hours: float | None, charges: Charges | ChargesTotal) -> str:
    """A table cell: the figure, `?` when unknown, `-` for a local job; `+` marks one still growing."""
    if isinstance(charges, Charges) and charges.outside_slurm:
        return "-"
    if hours is None:
        return "?"
    more = "+" if charges.so_far or (isinstance(charges, ChargesTotal) and charges.unknown_jobs) else ""
    return hours_text(hours) + more


def charges_text(charges: Charges) -> str:
    """`0.250 node-hours, 1.000 GPU-hours over 2 runs (so far: the job has not ended)`."""
    if charges.outside_slurm:
        return "none: ran outside Slurm"
    if not charges.known:
        return f"unknown: {charges.unknown_why}"
    runs = f" over {charges.runs} runs" if (charges.runs or 0) > 1 else ""
    text = f"{hours_text(charges.node_hours)} node-hours, {hours_text(charges.gpu_hours)} GPU-hours{runs}"
    return text + (" so far (the job has not ended)" if charges.so_far else "")


def total_text(total: ChargesTotal) -> str:
    """`0.500 node-hours, 2.000 GPU-hours (so far)`, naming the jobs left out as unknown."""
    if total.node_hours is None:
        return f"unknown (no accounting data for {total.jobs} job(s))"
    text = f"{hours_text(total.node_hours)} node-hours, {hours_text(total.gpu_hours)} GPU-hours"
    if total.so_far:
        text += " so far"
    if total.unknown_jobs:
        text += f", and {total.unknown_jobs} job(s) of unknown charge"
    return text
