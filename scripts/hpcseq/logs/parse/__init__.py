"""What the programs wrote, read back: lines of log files, hpcseq's console lines (progress,
checkpoints, errors), the generated job script's own lines, Snakemake's per-job Slurm logs and
its logs of a run, and the per-epoch metrics file. Pure functions of text, so tests feed them
excerpts.

    lines           LogLine: a line of a log file (rank prefix taken off); the results folder lines name
    progress        training progress from the console lines and metrics.jsonl; Checkpoint
    snakemake_logs  a job step's Slurm log (SnakemakeLog) and a run's own log (SnakemakeRun)
    job_script      the generated job script's own lines (ScriptOutput); the smoke test's rule name
"""

from hpcseq.logs.parse.job_script import SMOKE_RULE, ScriptOutput, parse_script_output
from hpcseq.logs.parse.lines import LogLine, lines_from_text, read_lines, results_dir_from, results_dir_from_lines
from hpcseq.logs.parse.progress import (
    Checkpoint,
    Progress,
    TrainingProgress,
    console_epochs,
    console_progress,
    merge_progress,
    records_between,
    timestamp,
)
from hpcseq.logs.parse.snakemake_logs import (
    USER_STOP,
    SnakemakeJob,
    SnakemakeLog,
    SnakemakeRun,
    parse_snakemake_log,
    parse_snakemake_run,
    snakemake_time,
)

__all__ = [
    "SMOKE_RULE",
    "USER_STOP",
    "Checkpoint",
    "LogLine",
    "Progress",
    "ScriptOutput",
    "SnakemakeJob",
    "SnakemakeLog",
    "SnakemakeRun",
    "TrainingProgress",
    "console_epochs",
    "console_progress",
    "lines_from_text",
    "merge_progress",
    "parse_script_output",
    "parse_snakemake_log",
    "parse_snakemake_run",
    "read_lines",
    "records_between",
    "results_dir_from",
    "results_dir_from_lines",
    "snakemake_time",
    "timestamp",
]
