"""What a generated job script depends on (ScriptRequest), made from the config.

One request for each of the three scripts `hpcseq` writes: an experiment's training job, its data
job, the smoke test. Every value that reaches a script is validated here or when the config is
read; hpcseq.cluster.jobscript renders the request.
"""

from __future__ import annotations

from dataclasses import dataclass

from hpcseq.cluster.resources import JobPlan, plan_job, smoke_plan, training_interpreter
from hpcseq.cluster.validators import ConfigChecks, path_value
from hpcseq.events import SMOKE_JOB_NAME

# Where a job runs unless the script is written for another directory (`hpcseq sbatch --workdir`):
# the directory it was submitted from, which Slurm names in the job. A script never holds the
# absolute path of the machine that wrote it: it may be written on a laptop and run on JSC.
SUBMIT_DIR = "$SLURM_SUBMIT_DIR"
DATA_JOB_SUFFIX = "-data"  # jobs/<cluster>/<experiment>-data.sbatch, job <experiment>-data


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


def requeues(plan: JobPlan) -> bool:
    """Slurm warns the job before its time limit: training checkpoints and the job is requeued."""
    return bool(plan.extra.get("signal"))


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
