"""Juelich-style sbatch scripts for users who submit by hand: a pure, deterministic function of
a ScriptRequest; every value from the config is validated and shell-quoted, so a job name such as
`x; rm -rf ~` or `$(id)` never reaches a shell as code: it is refused, or at worst quoted as a literal.
"""

from __future__ import annotations

import shlex
import textwrap
from dataclasses import dataclass

from hpcseq.cluster.clusters import container_prefix, or_stop, setup_lines, software_check
from hpcseq.cluster.launch import training_step_options
from hpcseq.cluster.options import render_directives, sbatch_options
from hpcseq.cluster.resources import JobPlan, plan_job, smoke_plan, training_interpreter
from hpcseq.cluster.validators import ConfigChecks, path_value, path_variables, quote_path, signal_spec, slurm_name
from hpcseq.errors import REQUEUE_EXIT_CODE, WARNED_WHILE_STARTING_EXIT_CODE
from hpcseq.events import (
    REQUEUE_CHECKPOINTED,
    REQUEUE_WARNED_WHILE_STARTING,
    SCRIPT_DONE,
    SCRIPT_REQUEUE,
    SCRIPT_START,
    SCRIPT_TRAINING_FAILED,
    SHELL_TIMESTAMP,
    SMOKE_CHECKS,
    SMOKE_JOB_NAME,
)
from hpcseq.paths import job_output_pattern

ONE_TASK_STEP = ("srun", "--nodes=1", "--ntasks=1")
# Where a job runs unless the script is written for another directory (`hpcseq sbatch --workdir`):
# the directory it was submitted from, which Slurm names in the job. A script never holds the
# absolute path of the machine that wrote it: it may be written on a laptop and run on JSC.
SUBMIT_DIR = "$SLURM_SUBMIT_DIR"


@dataclass(frozen=True)
class ScriptRequest:
    """Everything a generated job script depends on (rendering is a pure function of this)."""

    experiment: str
    model: str
    plan: JobPlan
    workdir: str  # the repository on the cluster ($SLURM_SUBMIT_DIR, or e.g. $PROJECT/hpcseq); the job runs there
    config_path: str  # relative to workdir (or absolute)
    python: str  # the training interpreter (relative to workdir, absolute, or a name on PATH)
    preset: str | None = None
    data_steps: bool = True  # preprocessing and vocabulary first, in the same job
    evaluate: bool = True
    dependency: str | None = None
    config_values: tuple[str, ...] = ()  # `--config KEY=VALUE` overrides, passed on to every step
    results_dir: str = "results"  # as configured: its variables expand in the steps, on the cluster


def script_request(
    config: dict,
    cluster_name: str,
    experiment: str,
    workdir: str,
    config_path: str,
    data_steps: bool = True,
    dependency: str | None = None,
    python: str | None = None,
    config_values: tuple[str, ...] = (),
) -> ScriptRequest:
    """python: an explicit interpreter (command line) instead of the cluster's or the config's;
    config_values: the `--config KEY=VALUE` overrides the config was read with (the steps read the
    same config file with the same overrides, so the job runs what the workflow would)."""
    plan = plan_job(config, cluster_name, experiment, "train")
    return _experiment_request(
        config,
        plan,
        experiment,
        workdir,
        config_path,
        python,
        config_values,
        data_steps=data_steps,
        dependency=dependency,
    )


def _experiment_request(config, plan, experiment, workdir, config_path, python, config_values, **fields):
    """The ScriptRequest of one experiment's job on `plan`, its working directory checked (it
    reaches a comment and a `cd` of the script: one line, quoted there)."""
    _check_workdir(workdir)
    return ScriptRequest(
        experiment=experiment,
        model=config["experiments"][experiment]["model"],
        plan=plan,
        workdir=workdir,
        config_path=config_path,
        python=python or training_interpreter(config, plan.cluster.name),
        preset=config.get("preset"),
        config_values=tuple(config_values),
        results_dir=config["results_dir"],
        **fields,
    )


def _check_workdir(workdir: str) -> None:
    checks = ConfigChecks()
    checks.value(path_value, workdir, "--workdir")
    checks.raise_errors()


def render_job_script(request: ScriptRequest) -> str:
    """A Juelich-style sbatch script, assembled from its sections in the order they run."""
    if request.plan.geometry is None:
        raise ValueError("job scripts are rendered for the training stage")
    sections = (
        _header(request),
        _environment(request),
        _warning_trap(request),
        _start(),
        _data_steps(request),
        _training(request),
        _evaluation(request),
        _end(),
    )
    return "\n".join(line for section in sections for line in section)


# --------------------------------------------------------------------------- the data job

DATA_JOB_SUFFIX = "-data"  # jobs/<cluster>/<experiment>-data.sbatch, job <experiment>-data


def data_request(
    config: dict,
    cluster_name: str,
    experiment: str,
    workdir: str,
    config_path: str,
    python: str | None = None,
    config_values: tuple[str, ...] = (),
) -> ScriptRequest:
    """Preprocessing and vocabulary as a job of their own on the CPU partition (`hpcseq sbatch
    --data-only`), for a training script written with --no-data-steps to depend on: data that takes
    longer than a login node should be busy, prepared once for several training jobs."""
    plan = plan_job(config, cluster_name, experiment, "data")
    return _experiment_request(config, plan, experiment, workdir, config_path, python, config_values, evaluate=False)


def data_job_cost_note(request: ScriptRequest) -> str | None:
    """What a data job costs where that is a surprise: on a cluster that charges whole nodes and whose
    CPU partition is a GPU one (JUWELS Booster has no other), a whole node with its GPUs for work on
    one core; and what to do instead. None elsewhere."""
    plan = request.plan
    cluster = plan.cluster
    gpu_partitions = {cluster.partitions.get(role) for role in ("gpu", "gpu_devel")}
    if not cluster.charges_whole_nodes or plan.partition not in gpu_partitions:
        return None
    return (
        f"{plan.partition} is a GPU partition of {cluster.name}, which charges whole nodes: this job pays for a "
        f"node with {cluster.gpus_per_node} GPUs for work on one CPU core. Rather run both steps on the login "
        f"node (`hpcseq preprocess --experiment {request.experiment}`, then `hpcseq vocab --experiment "
        f"{request.experiment}`) and write the training script with --no-data-steps, or leave them in the "
        "training job (the default), where they take seconds of an allocation paid for anyway."
    )


def _output_text(name: str) -> str:
    """Where a job's output goes, for the script's header: <name>_out.<jobid> and <name>_err.<jobid>."""
    return " and ".join(job_output_pattern(name, kind).replace("%j", "<jobid>") for kind in ("out", "err"))


def render_data_script(request: ScriptRequest) -> str:
    """A data job's script: header, environment, the two data steps, nothing else."""
    plan = request.plan
    name = slurm_name(request.experiment + DATA_JOB_SUFFIX)
    note = data_job_cost_note(request)
    header = [
        "#!/bin/bash",
        f"# hpcseq: preprocessing and vocabulary of experiment {request.experiment} on {plan.cluster.name}, "
        f"partition {plan.partition}, one task.",
        *(f"# {line}" for line in textwrap.wrap(f"Cost: {note}", 98) if note),
        f"# Generated by `hpcseq sbatch --data-only` from {request.config_path}; regenerate it rather than editing it.",
        "# Submit it, then the training script (written with --no-data-steps) to start once it succeeded:",
        f"#   id=$(sbatch --parsable <this file>) && sbatch --dependency=afterok:$id <{request.experiment}.sbatch>",
        f"# Its output goes to {_output_text(name)} in the directory you submit from.",
        *render_directives(_sbatch_options(request, name)),
    ]
    steps = _data_steps(request, "# preprocessing and vocabulary, one task each")
    return "\n".join([*header, *_environment(request), *_start(), *steps, *_end()])


# --------------------------------------------------------------------------- the smoke test


def smoke_request(config: dict, cluster_name: str, workdir: str, config_path: str, python: str | None = None):
    """The smoke test's job (`hpcseq smoke-test`) as a ScriptRequest: the plan of resources.smoke_plan,
    run where training would run (the same directory, interpreter and software route)."""
    _check_workdir(workdir)
    return ScriptRequest(
        experiment=SMOKE_JOB_NAME,
        model="smoke test",
        plan=smoke_plan(config, cluster_name),
        workdir=workdir,
        config_path=config_path,
        python=python or training_interpreter(config, cluster_name),
        data_steps=False,
        evaluate=False,
        results_dir="",
    )


def render_smoke_script(request: ScriptRequest, expect_gpus: int | None = None) -> str:
    """The smoke test's job script: the header, environment and start of a training job's script,
    then one step on every rank that runs hpcseq.cluster.smoke as training would run (srun flags,
    counts, the container on its route). expect_gpus: the GPUs TensorFlow should see on each rank
    (default: the node's, which the job asks for)."""
    plan, geometry = request.plan, request.plan.geometry
    gpus = geometry.gpus_per_node if expect_gpus is None else expect_gpus
    name = slurm_name(request.experiment)
    route = plan.cluster.software
    header = [
        "#!/bin/bash",
        f"# hpcseq smoke test of the {route} route on {plan.cluster.name}: {geometry.ranks} Horovod rank(s), "
        f"{geometry.nodes} node(s) x {geometry.tasks_per_node} GPU(s), partition {plan.partition}.",
        f"# Checks, one line each (`hpcseq smoke-test PASS|FAIL <check>: ...`): {', '.join(SMOKE_CHECKS)}.",
        "# Generated by `hpcseq smoke-test`; regenerate it rather than editing it. Submit it from the",
        "# repository's top directory (or see --workdir); `hpcseq logs <jobid>` shows the result.",
        *render_directives(_sbatch_options(request, name)),
    ]
    srun = [
        "srun",
        *plan.cluster.training_srun_flags(),
        *training_step_options(geometry.nodes, geometry.ranks, geometry.tasks_per_node),
    ]
    command = [
        request.python,
        "-m",
        "hpcseq.cluster.smoke",
        f"--expect-ranks={geometry.ranks}",
        f"--expect-nodes={geometry.nodes}",
        f"--expect-gpus={gpus}",
    ]
    step = [
        "# the checks on every rank, started as training is",
        _step(srun, request, command),
        "status=$?",
        f"[ $status -eq 0 ] && {_echo(SCRIPT_DONE.text())}",
        "exit $status",
        "",
    ]
    return "\n".join([*header, *_environment(request), *_start(), *step])


def _header(request: ScriptRequest) -> list[str]:
    """What the script is and how to submit it, then its #SBATCH directives."""
    plan, geometry = request.plan, request.plan.geometry
    name = slurm_name(request.experiment)
    return [
        "#!/bin/bash",
        f"# hpcseq: experiment {name} ({request.model}) on {plan.cluster.name}: {geometry.ranks} Horovod rank(s),"
        f" {geometry.nodes} node(s) x {geometry.tasks_per_node} GPU(s).",
        f"# Generated by `hpcseq sbatch` from {request.config_path}; regenerate it rather than editing it.",
        *(
            ["# Submit it from the repository's top directory (`sbatch <this file>`): the job runs there."]
            if request.workdir == SUBMIT_DIR
            else [f"# The job runs in {request.workdir} (`hpcseq sbatch --workdir`); submit it from anywhere."]
        ),
        f"# Its output goes to {_output_text(name)} in the directory you submit from.",
        *render_directives(_sbatch_options(request, name)),
    ]


def _sbatch_options(request: ScriptRequest, name: str) -> dict:
    """The plan's options, with log files named after the experiment; a job warned before its time
    limit is requeued (and appends to its logs), and the warning goes to the batch shell."""
    plan = request.plan
    requeue = _requeues(plan)
    options = {
        **plan.options(job_name=name, output=job_output_pattern(name, "out"), error=job_output_pattern(name, "err")),
        **sbatch_options(
            {"requeue": requeue, "open_mode": "append" if requeue else None, "dependency": request.dependency}
        ),
    }
    if "signal" in options:
        # in a script the batch shell gets the warning and passes it to the training step only
        options["signal"] = signal_spec("B:" + options["signal"])
    return options


def _requeues(plan: JobPlan) -> bool:
    """Slurm warns the job before its time limit: training checkpoints and the job is requeued."""
    return bool(plan.extra.get("signal"))


def _environment(request: ScriptRequest) -> list[str]:
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


WHERE_TO_SUBMIT = (
    "submit the job from the top directory of the repository, or write it with hpcseq sbatch --workdir DIR"
)


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


def _start() -> list[str]:
    """The job's first line of output: which job, on which nodes, after how many requeues."""
    return [
        _echo(
            SCRIPT_START.text(job="${SLURM_JOB_ID}", nodes="${SLURM_JOB_NODELIST}", restart="${SLURM_RESTART_COUNT:-0}")
        )
    ]


def _warning_trap(request: ScriptRequest) -> list[str]:
    """From the job's start on, Slurm's warning (SIGUSR1 to this shell) is caught: remembered while
    the data steps run (bash's default for USR1 would end the job), passed on once training runs."""
    if not _requeues(request.plan):
        return []
    return [
        "# Slurm signals this shell (SIGUSR1) before the time limit: remember it, pass it on to training",
        "warned=0",
        'trap \'warned=1; [ -n "${train_pid:-}" ] && kill -USR1 "$train_pid"\' USR1',
    ]


def _data_steps(
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


def _training(request: ScriptRequest) -> list[str]:
    """The training step, then the end of the job if it failed."""
    command = _training_step(request)
    steps = _training_until_requeued(command) if _requeues(request.plan) else _training_once(command)
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
        "    " + _echo(SCRIPT_REQUEUE.text(why=why, job="${SLURM_JOB_ID}")),
        '    scontrol requeue "${SLURM_JOB_ID}"',
        "    exit 0",
    ]


def _evaluation(request: ScriptRequest) -> list[str]:
    if not request.evaluate:
        return []
    return ["# evaluation and samples (one task)", _one_task_step(request, "evaluate")]


def _end() -> list[str]:
    """The job's last line of output, and the script's final newline."""
    return [_echo(SCRIPT_DONE.text()), ""]


# --------------------------------------------------------------------------- commands


def _one_task_step(request: ScriptRequest, subcommand: str) -> str:
    """A single-process stage as a one-task job step; the job ends if it fails."""
    return f"{_step(ONE_TASK_STEP, request, _hpcseq_command(request, subcommand))} || exit 1"


def _step(srun: tuple[str, ...] | list[str], request: ScriptRequest, command: list[str]) -> str:
    """A job step: srun and its flags, then the command (inside the cluster's container on the
    container route)."""
    return " ".join(filter(None, (shlex.join(srun), container_prefix(request.plan.cluster), _quoted_command(command))))


def _training_step(request: ScriptRequest) -> str:
    """The training ranks as one job step: the cluster's srun flags, then the step's end on a failed
    rank and explicit counts."""
    geometry = request.plan.geometry
    srun = [
        "srun",
        *request.plan.cluster.training_srun_flags(),
        *training_step_options(geometry.nodes, geometry.ranks, geometry.tasks_per_node),
    ]
    return _step(srun, request, _hpcseq_command(request, "train"))


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


def _echo(text: str) -> str:
    """A timestamped line of the script's own (events.SCRIPT_*), with its shell variables expanded."""
    return f'echo "{SHELL_TIMESTAMP} {text}"'


def _quoted_command(words: list[str]) -> str:
    return " ".join([quote_path(words[0])] + [shlex.quote(w) for w in words[1:]])
