"""A job script's steps: data (one task each), training (requeued after Slurm's warning), evaluation.

Preprocessing and vocabulary run one task each; training runs on every rank, requeued after
Slurm's warning where the plan asks for it; then evaluation; the smoke test's checks run as
training would. Each step is an srun line with the hpcseq command, shell-quoted, inside the
cluster's container on the container route.
"""

from __future__ import annotations

import shlex

from hpcseq.cluster.clusters import container_prefix
from hpcseq.cluster.jobscript_request import ScriptRequest, requeues
from hpcseq.cluster.jobscript_setup import echo
from hpcseq.cluster.launch import training_step_options
from hpcseq.cluster.validators import quote_path
from hpcseq.errors import REQUEUE_EXIT_CODE, WARNED_WHILE_STARTING_EXIT_CODE
from hpcseq.events import (
    REQUEUE_CHECKPOINTED,
    REQUEUE_WARNED_WHILE_STARTING,
    SCRIPT_DONE,
    SCRIPT_REQUEUE,
    SCRIPT_TRAINING_FAILED,
)

ONE_TASK_STEP = ("srun", "--nodes=1", "--ntasks=1")


def data_steps(
    request: ScriptRequest,
    comment: str = "# preprocessing and vocabulary (fast, one task); skip them with `hpcseq sbatch --no-data-steps`",
) -> list[str]:
    if not request.data_steps:
        return []
    return [
        comment,
        _one_task_step(request, "preprocess"),
        _one_task_step(request, "vocab"),
    ]


def training(request: ScriptRequest) -> list[str]:
    """The training step, then the end of the job if it failed."""
    command = _training_step(request)
    steps = _training_until_requeued(command) if requeues(request.plan) else _training_once(command)
    return [
        *steps,
        f'if [ $status -ne 0 ]; then echo "{SCRIPT_TRAINING_FAILED.text(code="$status")}" >&2; exit $status; fi',
    ]


def _training_once(command: str) -> list[str]:
    return [
        "# training: one rank per GPU; a rerun continues from the last checkpoint",
        command,
        "status=$?",
    ]


def _training_until_requeued(command: str) -> list[str]:
    """Training in the background, so that the shell can pass Slurm's warning on to it, and a
    requeue once it has checkpointed and exited with REQUEUE_EXIT_CODE."""
    return [
        "# training: one rank per GPU; a rerun continues from the last checkpoint. Slurm signals this",
        "# shell (SIGUSR1) before the time limit; it is passed on to the ranks, which checkpoint and",
        f"# exit {REQUEUE_EXIT_CODE}; then the job is requeued and continues where it stopped.",
        '[ "$warned" -eq 1 ] && export HPCSEQ_TIME_LIMIT_WARNING=1  # it came during the steps above',
        command + " &",
        "train_pid=$!",
        '[ "$warned" -eq 1 ] && [ -z "${HPCSEQ_TIME_LIMIT_WARNING:-}" ] && kill -USR1 "$train_pid"',
        'wait "$train_pid"; status=$?',
        'while kill -0 "$train_pid" 2>/dev/null; do wait "$train_pid"; status=$?; done',
        f"# {REQUEUE_EXIT_CODE}: checkpointed on the warning; {WARNED_WHILE_STARTING_EXIT_CODE}: the warning "
        "ended the ranks while they started (nothing to save)",
        f"if [ $status -eq {REQUEUE_EXIT_CODE} ]; then",
        *_requeue(REQUEUE_CHECKPOINTED),
        f'elif [ $status -eq {WARNED_WHILE_STARTING_EXIT_CODE} ] && [ "$warned" -eq 1 ]; then',
        *_requeue(REQUEUE_WARNED_WHILE_STARTING),
        "fi",
    ]


def _requeue(why: str) -> list[str]:
    return [
        "    " + echo(SCRIPT_REQUEUE.text(why=why, job="${SLURM_JOB_ID}")),
        '    scontrol requeue "${SLURM_JOB_ID}"',
        "    exit 0",
    ]


def evaluation(request: ScriptRequest) -> list[str]:
    if not request.evaluate:
        return []
    return ["# evaluation and samples (one task)", _one_task_step(request, "evaluate")]


def smoke_checks(request: ScriptRequest, expect_gpus: int | None = None) -> list[str]:
    """One step on every rank that runs hpcseq.cluster.smoke as training would run (srun flags,
    counts, the container on its route), and the job's end with its status. expect_gpus: the GPUs
    TensorFlow should see on each rank (default: the node's, which the job asks for)."""
    geometry = request.plan.geometry
    gpus = geometry.gpus_per_node if expect_gpus is None else expect_gpus
    command = [
        request.python,
        "-m",
        "hpcseq.cluster.smoke",
        f"--expect-ranks={geometry.ranks}",
        f"--expect-nodes={geometry.nodes}",
        f"--expect-gpus={gpus}",
    ]
    return [
        "# the checks on every rank, started as training is",
        _step(_training_srun(request), request, command),
        "status=$?",
        f"[ $status -eq 0 ] && {echo(SCRIPT_DONE.text())}",
        "exit $status",
        "",
    ]


# --------------------------------------------------------------------------- commands


def _one_task_step(request: ScriptRequest, subcommand: str) -> str:
    """A single-process stage as a one-task job step; the job ends if it fails."""
    return f"{_step(ONE_TASK_STEP, request, _hpcseq_command(request, subcommand))} || exit 1"


def _step(srun: tuple[str, ...] | list[str], request: ScriptRequest, command: list[str]) -> str:
    """A job step: srun and its flags, then the command (inside the cluster's container on the
    container route)."""
    return " ".join(filter(None, (shlex.join(srun), container_prefix(request.plan.cluster), _quoted_command(command))))


def _training_srun(request: ScriptRequest) -> list[str]:
    """srun for the training ranks: the cluster's srun flags, then the step's end on a failed rank
    and explicit counts."""
    geometry = request.plan.geometry
    return [
        "srun",
        *request.plan.cluster.training_srun_flags(),
        *training_step_options(geometry.nodes, geometry.ranks, geometry.tasks_per_node),
    ]


def _training_step(request: ScriptRequest) -> str:
    """The training ranks as one job step."""
    return _step(_training_srun(request), request, _hpcseq_command(request, "train"))


def _hpcseq_command(request: ScriptRequest, subcommand: str) -> list[str]:
    command = [
        request.python,
        "-m",
        "hpcseq",
        subcommand,
        "--configfile",
        request.config_path,
        *(["--config", *request.config_values] if request.config_values else []),
        "--experiment",
        request.experiment,
    ]
    if request.preset:
        command += ["--preset", request.preset]
    if subcommand == "train":  # after a change of settings (another preset): keep the old checkpoints, start afresh
        command += ["--foreign-checkpoints", "set-aside"]
    return command


def _quoted_command(words: list[str]) -> str:
    return " ".join([quote_path(words[0])] + [shlex.quote(w) for w in words[1:]])
