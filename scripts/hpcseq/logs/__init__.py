"""`hpcseq logs`: which jobs ran, which wait and why, how far training got, its metrics and speed,
and for a failed job the cause with its evidence and the next step; for Slurm jobs and for the
jobs of local runs (`snakemake --cores N`), one per rule log.

    sources      finds the files of each Slurm job and asks sacct/squeue (optional)
    local        finds the jobs of local runs: rule logs, Snakemake's own logs, locks, benchmarks
    local_state  how each local job stands: running, failed, completed, interrupted
    parse        reads console lines, Snakemake's logs, the job script's lines, metrics.jsonl
    diagnose     turns log lines and Slurm's state into a Diagnosis
    charges      what each job was charged (node-hours, GPU-hours): the rule, stated once
    assemble     puts them together: collect() gives one JobRecord per job (record.py)
    render       JobRecord as a table, a detailed view or JSON, and --follow
sources, parse, diagnose and assemble are packages: each one's docstring lists its modules.
No TensorFlow here: it runs in the workflow environment and on login nodes.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path

from hpcseq.logs.assemble.jobs import collect
from hpcseq.logs.assemble.targets import LogsError
from hpcseq.logs.local import stage_log
from hpcseq.logs.render import JobRecord, follow, render_details, render_json, render_table
from hpcseq.logs.sources.accounting import JOB_ID
from hpcseq.logs.sources.files import files_of_path
from hpcseq.logs.sources.slurm import Slurm

__all__ = ["JobRecord", "LogsError", "collect", "main"]


def main(args) -> int:
    """The `hpcseq logs` subcommand (arguments from cli.py)."""
    targets = list(args.targets or [])
    if args.interval <= 0:
        raise LogsError(f"--interval {args.interval:g}: give a number of seconds above 0")
    gather = functools.partial(collect, targets, results_dir=args.results_dir, slurm=Slurm())
    render = _renderer(args.json, targets)
    if args.follow:
        try:
            follow(gather, render, args.interval)
        except KeyboardInterrupt:
            sys.stdout.write("\n")
        return 0
    sys.stdout.write(render(*gather()))
    return 0


def _renderer(as_json: bool, targets: list[str]) -> Callable[[list[JobRecord], list[str]], str]:
    """JSON if asked for; the detailed view for a single job id or a local run's rule log; else the table."""
    if as_json:
        return render_json
    if len(targets) == 1 and JOB_ID.match(targets[0]) is not None and not Path(targets[0]).exists():
        return render_details
    if len(targets) == 1 and _local_rule_log(Path(targets[0])):
        return render_details
    return render_table


def _local_rule_log(path: Path) -> bool:
    return path.is_file() and files_of_path(path) is None and stage_log(path) is not None
