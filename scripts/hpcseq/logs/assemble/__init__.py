"""One JobRecord per job: its files and Slurm's answer put together.

collect() finds the jobs the command line names, asks Slurm about them once, links the attempts
of the same step (Snakemake retries, resubmissions) and builds each job's record, step by step:
its files and lines, the results folder, its training progress and checkpoint, Slurm's view and
its state, the diagnosis and the last lines of each file. The jobs of local runs (local.py) come
after the Slurm jobs, stage by stage.

    targets    the command line: job ids, `local`, log files, run directories; LogsError
    jobs       collect(): the jobs to show, Slurm asked once, the attempts of each step linked
    build      build_record(): one job's record, step by step, and the last lines of its files
    job_logs   JobContext (a job among its attempts) and JobLogs (what its files hold)
    training   a training job's progress, checkpoint, ranks and GPUs
    state      Slurm's view, a local job's, and the state its files tell without either
    diagnosis  the Facts handed to diagnose, and the earlier runs of a requeued job
"""

from hpcseq.logs.assemble.jobs import collect

__all__ = ["collect"]
