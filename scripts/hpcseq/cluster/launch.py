"""Start a stage's command with the launcher that fits where it runs.

Inside a Slurm allocation (a rule under `snakemake --profile slurm`, or an salloc session):
  * the cluster's environment setup (modules, venv, variables, network interfaces) runs first,
    in the same shell;
  * training ranks start with the cluster's srun line (e.g. `srun --mpi=pmix --cpu-bind=none`),
    --kill-on-bad-exit=1 (TRAINING_STEP_FLAGS) and explicit node, task and CPU counts, because
    the Snakemake Slurm job step strips the SLURM_* variables srun would otherwise read them from;
  * with an empty srun line (single-process stages, which the Slurm plugin already runs inside
    `srun -n1`) the command runs directly;
  * on a cluster's container route the command runs inside its image, the launcher in front:
    `srun ... env PMIX_SECURITY_MODE=native apptainer exec --nv ... IMAGE python -m hpcseq ...`,
    the words in between made by clusters.container_prefix, the same as in job scripts.
Outside Slurm the ranks start with horovodrun (Gloo) or mpirun on this machine, and a single
rank runs as a plain process.

The launcher replaces this process (exec), so signals from Slurm or the user reach it directly.
"""

from __future__ import annotations

import os
import shlex
import shutil
import string
from pathlib import Path

from hpcseq.errors import ConfigError, EnvironmentSetupError
from hpcseq.events import HOROVODRUN_MISSING, INTERPRETER_MISSING

# The training rule's command (workflow/rules/common.smk), a Snakemake shell template: `hpcseq
# launch` starts the ranks, in a Slurm job with the cluster's setup and srun line, elsewhere with
# horovodrun or mpirun. `make benchmark` runs the same command (rule_command).
TRAIN_COMMAND = (
    "{params.workflow_python:q} -m hpcseq launch --ranks {params.ranks} --nodes {resources.nodes} "
    "--tasks-per-node {resources.tasks_per_node} --cpus-per-task {resources.cpus_per_task} "
    "--srun={params.srun:q} --slurm-setup={params.setup:q} --slurm-container={params.container:q} "
    "--local-launcher {params.launcher} "
    "-- {params.python:q} -m hpcseq train --settings {params.settings:q} --results-dir {params.results:q} "
    "--model-dir {params.model_dir:q} --horovod-timeline={params.timeline:q} --foreign-checkpoints set-aside"
)


class _RuleFormatter(string.Formatter):
    """Snakemake's shell formatting of `{name}` and `{name:q}` (the value shell-quoted)."""

    def format_field(self, value, format_spec):
        if format_spec == "q":
            return shlex.quote(str(value))
        return super().format_field(value, format_spec)


def rule_command(template: str, **namespaces) -> list[str]:
    """The words a rule's shell command `template` runs with these values (`params=...,
    resources=...`: objects with the placeholders' attributes), outside Snakemake."""
    return shlex.split(_RuleFormatter().format(template, **namespaces))


def in_slurm_allocation(environ=None) -> bool:
    env = os.environ if environ is None else environ
    return bool(env.get("SLURM_JOB_ID"))


def _horovodrun_for(python: str) -> str:
    sibling = Path(python).parent / "horovodrun"
    if sibling.is_file():
        return str(sibling)
    found = shutil.which("horovodrun")
    if not found:
        raise EnvironmentSetupError(
            HOROVODRUN_MISSING.text(python=python, advice="set local_launcher: mpirun, or run `make setup`")
        )
    return found


# A training step ends as soon as one rank exits with an error: Slurm's default (KillOnBadExit=0)
# lets srun wait for the other ranks, which wait forever in their collectives for the one that is
# gone. A rank that hangs is ended this way too: the watchdog of another rank (training/watchdog.py)
# exits with HANG_EXIT_CODE. Ranks that stop on a signal exit only once the checkpoint is complete.
TRAINING_STEP_FLAGS = ("--kill-on-bad-exit=1",)


def srun_counts(nodes: int, ranks: int, tasks_per_node: int) -> list[str]:
    """srun's explicit node and task counts of a training step (job scripts and `hpcseq launch`)."""
    return [f"--nodes={nodes}", f"--ntasks={ranks}", f"--ntasks-per-node={tasks_per_node}"]


def training_step_options(nodes: int, ranks: int, tasks_per_node: int) -> list[str]:
    """What srun gets after the cluster's srun flags for the training ranks (job scripts and
    `hpcseq launch`): the step's end on a failed rank, then the explicit counts."""
    return [*TRAINING_STEP_FLAGS, *srun_counts(nodes, ranks, tasks_per_node)]


# Open MPI's ranks spin while they wait in a collective: right for a cluster node with a core per
# rank, wrong on one machine, where TensorFlow's threads want those cores. mpirun outside Slurm
# makes a waiting rank yield (measured: 2 ranks on 2 cores, a test training 28.7 s -> 16.0 s and
# its CPU time 57 s -> 28 s). It may start more ranks than cores, and binds none of them.
MPIRUN_LOCAL_FLAGS = ("--oversubscribe", "--bind-to", "none", "--mca", "mpi_yield_when_idle", "1")


def local_mpirun(ranks: int, is_root: bool | None = None) -> list[str]:
    """mpirun's words in front of the command, for `ranks` ranks on this machine."""
    root = os.geteuid() == 0 if is_root is None else is_root
    return ["mpirun", *(["--allow-run-as-root"] if root else []), *MPIRUN_LOCAL_FLAGS, "-np", str(ranks)]


def build_launch_command(
    command: list[str],
    ranks: int,
    nodes: int,
    tasks_per_node: int,
    srun: str,
    local_launcher: str,
    cpus_per_task: int | None = None,
    environ=None,
    is_root: bool | None = None,
) -> list[str]:
    """The argv that starts `command` on `ranks` ranks (pure: tests call it with any environment)."""
    if ranks < 1 or nodes < 1 or tasks_per_node < 1:
        raise ConfigError("ranks", f"ranks {ranks}, nodes {nodes}, tasks per node {tasks_per_node} must be >= 1")
    if in_slurm_allocation(environ):
        if not srun.strip():
            if ranks > 1:
                raise ConfigError("ranks", f"{ranks} ranks need an srun line to start them inside Slurm")
            return list(command)
        if nodes * tasks_per_node != ranks:
            raise ConfigError("ranks", f"{ranks} ranks do not fill {nodes} node(s) x {tasks_per_node} tasks")
        cpus = [f"--cpus-per-task={cpus_per_task}"] if cpus_per_task else []
        return [*shlex.split(srun), *training_step_options(nodes, ranks, tasks_per_node), *cpus, *command]
    if ranks == 1:
        return list(command)
    if local_launcher == "horovodrun":
        return [_horovodrun_for(command[0]), "-np", str(ranks), "-H", f"localhost:{ranks}", "--gloo", *command]
    if local_launcher == "mpirun":
        return [*local_mpirun(ranks, is_root), *command]
    raise ConfigError("local_launcher", f"{local_launcher!r} is not horovodrun or mpirun")


def with_setup(
    argv: list[str], setup: str, environ=None, container: str = "", command: list[str] | None = None
) -> list[str]:
    """Inside Slurm: the cluster's setup lines first (they load modules, activate a venv), and on
    its container route `command` (the end of argv) inside the container: `container` holds the
    shell words of clusters.container_prefix, put between the launcher and the command and
    expanded by this shell, where the job runs."""
    if not in_slurm_allocation(environ) or not (setup.strip() or container):
        return argv
    line = shlex.join(argv)
    if container.strip() and command:
        launcher = argv[: len(argv) - len(command)]
        line = " ".join(filter(None, (shlex.join(launcher), container, shlex.join(command))))
    return ["bash", "-c", "\n".join(["set -e", *([setup] if setup.strip() else []), f"exec {line}"])]


def check_interpreter(python: str) -> None:
    if not Path(python).exists() and not shutil.which(python):
        raise EnvironmentSetupError(
            INTERPRETER_MISSING.text(
                python=python,
                advice="run `make setup` (which builds .venv/train), or set `training_python` in the "
                "config to your TensorFlow 2.15 + Horovod environment",
            )
        )


def launch(
    command: list[str],
    ranks: int,
    nodes: int,
    tasks_per_node: int,
    srun: str,
    local_launcher: str,
    cpus_per_task: int | None = None,
    setup: str = "",
    container: str = "",
) -> None:
    if not ((setup.strip() or container.strip()) and in_slurm_allocation()):
        check_interpreter(command[0])  # with a setup or a container, it may only exist there
    argv = build_launch_command(command, ranks, nodes, tasks_per_node, srun, local_launcher, cpus_per_task)
    argv = with_setup(argv, setup, container=container, command=command)
    print("hpcseq launch: " + shlex.join(argv), flush=True)
    os.execvp(argv[0], argv)
