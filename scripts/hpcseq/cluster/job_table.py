"""What each stage of each experiment asks Slurm for under `snakemake --profile slurm` on the
config's cluster, as a table (`hpcseq config --jobs`): where the stage runs (the login node, a job
of its own, the training job), and that job's partition, time, nodes, budget, QoS and reservation;
and the one line a run prints for a cluster whose job scripts it leaves out."""

from __future__ import annotations

import re

from hpcseq.cluster.resources import plan_job, profile_jobs
from hpcseq.durations import format_time
from hpcseq.errors import ConfigError

COLUMNS = ("experiment", "stage", "runs in", "partition", "time", "nodes x GPUs", "account", "QoS", "reservation")
NONE = "-"


def where_text(stage: str, kind: str | None) -> str:
    """Where a stage runs, for people: the login node, its own job, or a job of several stages."""
    if kind is None:
        return "login node (Snakemake)"
    if kind == stage:
        return "own job"
    return "training job" if "train" in kind else f"{kind} job"


def stage_rows(config: dict, experiment: str) -> list[tuple[str, ...]]:
    """One row per stage of an experiment: where it runs and what its job asks for."""
    rows = []
    for stage, kind in profile_jobs(config).items():
        if kind is None:
            rows.append((experiment, stage, where_text(stage, kind), *[NONE] * 6))
            continue
        plan = plan_job(config, config["cluster"], experiment, kind)
        geometry = plan.geometry
        size = f"{geometry.nodes} x {geometry.gpus_per_node}" if geometry else "1 x 0"
        site = plan.site
        rows.append(
            (
                experiment,
                stage,
                where_text(stage, kind),
                plan.partition,
                format_time(plan.time_seconds),
                size,
                site.get("account", NONE),
                site.get("qos", NONE),
                site.get("reservation", NONE),
            )
        )
    return rows


def profile_job_table(config: dict, experiments: list[str]) -> str:
    """The table of every stage of `experiments` under the profile on the config's cluster, with
    the rules that decide where each runs; a ConfigError when the config names no cluster."""
    rows = [COLUMNS] + [row for name in experiments for row in stage_rows(config, name)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    slurm = config["slurm"]
    notes = [
        f"Jobs of `snakemake --profile slurm` on cluster {config['cluster']}; a job that trains has "
        "training's time limit, its evaluation included where it runs there.",
        f"QoS for the jobs of the stages {', '.join(slurm['qos_stages']) or '(none)'} (slurm.qos_stages); "
        f"reservation for those of {', '.join(slurm['reservation_stages']) or '(none)'} (slurm.reservation_stages).",
    ]
    return "\n".join([*notes, "", *lines])


def left_out_line(cluster: str, left_out: dict[str, list[ConfigError]], total: int) -> str:
    """One line for the job scripts a run does not write for a cluster (the workflow's `jobs/`):
    which experiments, and each distinct reason once, cut at its first clause (the experiment's
    name generalised); `hpcseq sbatch --cluster <name>` gives the whole reasons with what to do."""
    names = sorted(left_out)
    which = "all" if len(names) == total else ", ".join(names)
    reasons: dict[str, None] = {}
    for experiment, problems in left_out.items():
        for problem in problems:
            key = problem.key.replace(f".{experiment}.", ".<experiment>.")
            detail = re.sub(rf"(?<![\w.-]){re.escape(experiment)}(?![\w-])", "<experiment>", problem.detail)
            reasons[f"{key}: {re.split(r'[:;]', detail, maxsplit=1)[0].strip()}"] = None
    return (
        f"no job scripts for {cluster} ({len(names)} of {total} experiments: {which}): {'; '.join(reasons)} "
        f"(`hpcseq sbatch --cluster {cluster}` says what to do)"
    )
