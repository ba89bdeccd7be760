"""What each experiment's Slurm jobs were charged, for results/summary.md.

The jobs are those of the experiment's ledger (hpcseq.job_ledger: which ones count, LEDGER_RULE);
sacct is asked once for all of them, and each job's charge is hpcseq.logs.charges.job_charges(),
the rule `hpcseq logs` shows too (CHARGE_RULE).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hpcseq.job_ledger import LEDGER_RULE, jobs_of, read_ledger
from hpcseq.logs.charges import (
    CHARGE_RULE,
    Charges,
    ChargesTotal,
    hours_text,
    job_charges,
    total_charges,
    total_text,
)
from hpcseq.logs.sources import Slurm, job_id_key
from hpcseq.paths import ExperimentPaths


@dataclass
class ExperimentCost:
    jobs: dict[str, list[str]]  # job id -> the stages it ran (the ledger)
    charges: dict[str, Charges] = field(default_factory=dict)

    @property
    def total(self) -> ChargesTotal:
        return total_charges(list(self.charges.values()))


def experiment_costs(
    results_dir: str | Path, experiments: list[str], slurm: Slurm | None = None
) -> dict[str, ExperimentCost]:
    """Each experiment's ledger jobs with their charges, from one sacct call for all of them."""
    costs = {
        name: ExperimentCost(jobs_of(read_ledger(ExperimentPaths.of(results_dir, name).slurm_jobs)))
        for name in experiments
    }
    ids = sorted({job_id for cost in costs.values() for job_id in cost.jobs}, key=job_id_key)
    if not ids:
        return costs
    known, failure = (slurm or Slurm()).accounting(ids)
    for cost in costs.values():
        cost.charges = {job_id: job_charges(known.get(job_id), failure) for job_id in cost.jobs}
    return costs


def rules_paragraph(costs: dict[str, ExperimentCost]) -> list[str]:
    """The summary's opening lines on charges: all experiments' total, and the rules it follows."""
    total = total_charges([charge for cost in costs.values() for charge in cost.charges.values()])
    if not total.jobs:  # nothing ran in Slurm: each section says so
        return []
    return [
        f"*Charged on Slurm, all experiments below:* {total_text(total)}.",
        "",
        f"*How charges are counted:* {CHARGE_RULE} {LEDGER_RULE}",
        "",
    ]


def cost_line(cost: ExperimentCost | None, training: dict) -> str | None:
    """`*Charged* 0.012 node-hours, 0.024 GPU-hours. 2 Slurm job(s) (node-hours/GPU-hours): 101
    preprocess, vocab 0.002/0.000; 103 train, evaluate, 2 runs 0.010/0.024`; for an experiment without
    Slurm jobs recorded, whether it ran outside Slurm. None where no cost was asked for."""
    if cost is None:
        return None
    if not cost.jobs:
        slurm = ((training.get("provenance") or {}).get("slurm") or {}).get("SLURM_JOB_ID")
        if slurm:  # a training of before the ledger
            return f"*Charged* not known: no Slurm jobs recorded (its training ran in Slurm job {slurm})"
        return "*Charged* nothing: it ran outside Slurm (no charge)"
    count = f"{len(cost.jobs)} Slurm job(s)"
    if cost.total.node_hours is None:  # sacct gave nothing: one reason for all
        why = next(charge.unknown_why for charge in cost.charges.values())
        jobs = "; ".join(f"{job_id} {', '.join(stages)}" for job_id, stages in cost.jobs.items())
        return f"*Charged* unknown for {count} ({jobs}): {why}"
    jobs = "; ".join(_job_text(job_id, stages, cost.charges[job_id]) for job_id, stages in cost.jobs.items())
    return f"*Charged* {total_text(cost.total)}. {count} (node-hours/GPU-hours): {jobs}"


def _job_text(job_id: str, stages: list[str], charges: Charges) -> str:
    """`103 train, evaluate, 2 runs 0.010/0.024`."""
    if not charges.known:
        return f"{job_id} {', '.join(stages)} unknown ({charges.unknown_why})"
    runs = f", {charges.runs} runs" if (charges.runs or 0) > 1 else ""
    figures = f"{hours_text(charges.node_hours)}/{hours_text(charges.gpu_hours)}"
    return f"{job_id} {', '.join(stages)}{runs} {figures}{' so far' if charges.so_far else ''}"
