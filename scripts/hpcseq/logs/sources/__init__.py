"""Where a job's story is written: files in a run directory, and what Slurm remembers.

Files of Slurm jobs (local runs without Slurm: local.py):
  * Snakemake's Slurm logs `.snakemake/slurm_logs/rule_<rule>/<experiment>/<jobid>.log` (the
    job step's Snakemake output; its `log:` line names the rule's own log file, which holds the
    program's output and is overwritten by every attempt of the rule);
  * `<job>_out.<id>` / `<job>_err.<id>` of the generated sbatch scripts (job name = experiment);
  * under the results folder: `<experiment>/model/metrics.jsonl`, `ranks/rank-<r>.json`
    (SLURM_JOB_ID of the job that finished training), `checkpoints/epoch-*/state.json`.
Slurm: `sacct -P` (state, exit code, elapsed, limit, nodes allocated, tasks, GPUs; `-D` adds the
earlier runs of a requeued job) and `squeue` (pending reason). Both are optional: when they are missing,
or sacct fails (no accounting), the report says so and uses the files alone. These two are the
only subprocesses of `hpcseq logs`.

    files       JobFiles: the files of each job in a run directory, or named on the command line
    accounting  SlurmJob: sacct's, squeue's and sacctmgr's answers parsed; job ids
    slurm       Slurm: asks them (each optional) and merges their answers
"""

from hpcseq.logs.sources.accounting import (
    JOB_ID,
    SACCT_FIELDS,
    NodeEvent,
    SlurmAnswer,
    SlurmJob,
    SlurmStep,
    expand_node_list,
    gpus_of,
    job_id_key,
    parse_node_events,
    parse_sacct,
    parse_squeue,
    split_state,
)
from hpcseq.logs.sources.files import JobFiles, discover, files_from_slurm, files_of_path, script_of
from hpcseq.logs.sources.slurm import Slurm

__all__ = [
    "JOB_ID",
    "SACCT_FIELDS",
    "JobFiles",
    "NodeEvent",
    "Slurm",
    "SlurmAnswer",
    "SlurmJob",
    "SlurmStep",
    "discover",
    "expand_node_list",
    "files_from_slurm",
    "files_of_path",
    "gpus_of",
    "job_id_key",
    "parse_node_events",
    "parse_sacct",
    "parse_squeue",
    "script_of",
    "split_state",
]
