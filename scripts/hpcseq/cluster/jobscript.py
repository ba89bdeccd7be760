"""Juelich-style sbatch scripts for users who submit by hand: a pure, deterministic function of
a ScriptRequest; every value from the config is validated and shell-quoted, so a job name such as
`x; rm -rf ~` or `$(id)` never reaches a shell as code: it is refused, or at worst quoted as a literal.

A script is assembled from its sections in the order they run, each in a module of its own:
    jobscript_request  what a script depends on (ScriptRequest), made from the config
    jobscript_header   what the job is, what it costs, how to submit it; its #SBATCH directives
    jobscript_setup    shell options, paths' variables, working directory, software; the job's
                       first and last lines and the trap for Slurm's warning
    jobscript_steps    the job steps: data, training (requeued after the warning), evaluation
"""

from __future__ import annotations

from hpcseq.cluster.jobscript_header import data_header, data_job_cost_note, smoke_header, training_header
from hpcseq.cluster.jobscript_request import (
    DATA_JOB_SUFFIX,
    SUBMIT_DIR,
    ScriptRequest,
    data_request,
    script_request,
    smoke_request,
)
from hpcseq.cluster.jobscript_setup import WHERE_TO_SUBMIT, end, environment, start, warning_trap
from hpcseq.cluster.jobscript_steps import ONE_TASK_STEP, data_steps, evaluation, smoke_checks, training

__all__ = [
    "DATA_JOB_SUFFIX",
    "ONE_TASK_STEP",
    "SUBMIT_DIR",
    "WHERE_TO_SUBMIT",
    "ScriptRequest",
    "data_job_cost_note",
    "data_request",
    "render_data_script",
    "render_job_script",
    "render_smoke_script",
    "script_request",
    "smoke_request",
]


def render_job_script(request: ScriptRequest) -> str:
    """A Juelich-style sbatch script, assembled from its sections in the order they run."""
    if request.plan.geometry is None:
        raise ValueError("job scripts are rendered for the training stage")
    sections = (
        training_header(request),
        environment(request),
        warning_trap(request),
        start(),
        data_steps(request),
        training(request),
        evaluation(request),
        end(),
    )
    return "\n".join(line for section in sections for line in section)


def render_data_script(request: ScriptRequest) -> str:
    """A data job's script: header, environment, the two data steps, nothing else."""
    steps = data_steps(request, "# preprocessing and vocabulary, one task each")
    return "\n".join([*data_header(request), *environment(request), *start(), *steps, *end()])


def render_smoke_script(request: ScriptRequest, expect_gpus: int | None = None) -> str:
    """The smoke test's job script: the header, environment and start of a training job's script,
    then one step on every rank that runs hpcseq.cluster.smoke as training would run (srun flags,
    counts, the container on its route). expect_gpus: the GPUs TensorFlow should see on each rank
    (default: the node's, which the job asks for)."""
    return "\n".join([*smoke_header(request), *environment(request), *start(), *smoke_checks(request, expect_gpus)])
