"""A job script's lines around its steps: their environment, the trap for Slurm's warning, first and last line.

The environment the steps run in: shell options, the variables the job's paths use, the working
directory, the cluster's software. The trap catches Slurm's warning before the time limit. The
job's own first and last lines of output say which job ran, and that it ended.
"""

from __future__ import annotations

import shlex

from hpcseq.cluster.clusters import or_stop, setup_lines, software_check
from hpcseq.cluster.jobscript_request import ScriptRequest, requeues
from hpcseq.cluster.validators import path_variables, quote_path
from hpcseq.events import SCRIPT_DONE, SCRIPT_START, SHELL_TIMESTAMP

WHERE_TO_SUBMIT = (
    "submit the job from the top directory of the repository, or write it with hpcseq sbatch --workdir DIR"
)


def environment(request: ScriptRequest) -> list[str]:
    """Shell options, the variables the job's paths use (checked, they expand here, on the cluster),
    the working directory with the config in it, and the cluster's software environment."""
    config = quote_path(request.config_path)
    return [
        "",
        "set -uo pipefail",
        *_required_variables(request),
        or_stop(f"cd {quote_path(request.workdir)}"),
        f"[ -f {config} ] || {{ printf 'hpcseq: no %s in %s: %s\\n' {config} \"$PWD\" {shlex.quote(WHERE_TO_SUBMIT)} "
        ">&2; exit 1; }",
        "",
        "# software environment",
        *setup_lines(request.plan.cluster, request.plan.geometry),
        software_check(request.plan.cluster, request.python),
        "# srun >= 22.05 does not inherit --cpus-per-task from the job: pass it on explicitly",
        'export SRUN_CPUS_PER_TASK="${SLURM_CPUS_PER_TASK:-1}"',
        "",
    ]


def _required_variables(request: ScriptRequest) -> list[str]:
    """A line per environment variable that the job's paths use (working directory, config, venv,
    interpreter, results): the job stops at once, naming it, if it is not set where it runs
    (`jutil env activate -p <project>` sets $PROJECT and $SCRATCH on JSC systems)."""
    cluster = request.plan.cluster
    software = (cluster.container.image, *cluster.container.binds) if cluster.in_container else (cluster.venv or "",)
    paths = (request.workdir, request.config_path, *software, request.python, request.results_dir)
    names: list[str] = []
    for path in paths:
        names += [name for name in path_variables(path) if name != "HOME" and name not in names]
    return [f': "${{{name}:?is not set, and a path of this job uses it}}"' for name in names]


def warning_trap(request: ScriptRequest) -> list[str]:
    """From the job's start on, Slurm's warning (SIGUSR1 to this shell) is caught: remembered while
    the data steps run (bash's default for USR1 would end the job), passed on once training runs."""
    if not requeues(request.plan):
        return []
    return [
        "# Slurm signals this shell (SIGUSR1) before the time limit: remember it, pass it on to training",
        "warned=0",
        'trap \'warned=1; [ -n "${train_pid:-}" ] && kill -USR1 "$train_pid"\' USR1',
    ]


def start() -> list[str]:
    """The job's first line of output: which job, on which nodes, after how many requeues."""
    return [
        echo(
            SCRIPT_START.text(job="${SLURM_JOB_ID}", nodes="${SLURM_JOB_NODELIST}", restart="${SLURM_RESTART_COUNT:-0}")
        )
    ]


def end() -> list[str]:
    """The job's last line of output, and the script's final newline."""
    return [echo(SCRIPT_DONE.text()), ""]


def echo(text: str) -> str:
    """A timestamped line of the script's own (events.SCRIPT_*), with its shell variables expanded."""
    return f'echo "{SHELL_TIMESTAMP} {text}"'
