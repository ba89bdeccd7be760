"""`hpcseq logs`: its arguments; hpcseq.logs does the rest."""

from __future__ import annotations

import argparse
from pathlib import Path

from hpcseq.cli.arguments import add_command
from hpcseq.logs import main as logs_main


def cmd_logs(args) -> int:
    return logs_main(args)


def add_logs_command(sub) -> None:
    logs = add_command(
        sub,
        "logs",
        cmd_logs,
        help="what happened to Slurm jobs and local runs: state, progress, metrics, cause of failures",
        description="State, progress, metrics and speed of the jobs of a run directory (Slurm jobs, and the\n"
        "jobs of local runs), and for a failed job the cause, its evidence and the next step. A single\n"
        "job id, or a local run's rule log, gives the detailed view.",
        epilog="""sources:
  .snakemake/slurm_logs/rule_<rule>/<experiment>/<id>.log
        Snakemake's Slurm logs: one per job of `snakemake --profile slurm` (rule, outputs, how it ended)
  <job>_out.<id>, <job>_err.<id>
        output files of the generated job scripts (jobs/<cluster>/<experiment>.sbatch) submitted by hand
  <logs_dir>/<stage>/<experiment>.log   (stage: preprocess, vocabulary, train, evaluate)
        the rule logs: each stage's own output; for a Slurm job, its program output; without Slurm
        (`snakemake --cores N`, `make run`) each is a row of its own (JOB `local`), its state from
        Snakemake's log of the run (.snakemake/log/), its lock and incomplete markers (.snakemake/),
        the stage's outputs, and its time from <benchmarks_dir>/<stage>/<experiment>.tsv
  <results_dir>/<experiment>/model/metrics.jsonl
        per-epoch metrics and speed of training (also checkpoints/ and ranks/ there)
  sacct, squeue
        Slurm's state, times, nodes, GPUs and pending reasons, when they answer
The folders are those of the run directory's config/config.yaml (defaults logs/, results/,
benchmarks/); --results-dir overrides the results folder.""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    logs.add_argument(
        "targets",
        nargs="*",
        metavar="JOB|local|FILE|DIR",
        help="job ids, `local` (only the jobs of local runs), log files or run directories "
        "(default: the current directory)",
    )
    logs.add_argument(
        "--results-dir",
        type=Path,
        help="default: the one the logs name, else the results_dir of the run directory's config/config.yaml, "
        "else its results/",
    )
    logs.add_argument("--json", action="store_true", help="machine-readable output")
    logs.add_argument("--follow", action="store_true", help="refresh until no job is pending or running")
    logs.add_argument("--interval", type=float, default=30.0, help="seconds between refreshes (default 30)")
