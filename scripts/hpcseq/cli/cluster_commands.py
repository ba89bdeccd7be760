"""The cluster commands: `hpcseq launch` (a command on N ranks), `hpcseq sbatch` (job scripts for
users who submit by hand), `hpcseq smoke-test` (a cluster's software route) and `hpcseq config`
(the resolved config, and with --jobs each stage's Slurm job)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hpcseq.cli.arguments import add_command, add_config_arguments, preset_override, read_config
from hpcseq.cli.sbatch_scripts import LeftOut, SbatchOptions, sbatch_scripts
from hpcseq.cluster.job_location import job_location, named_cluster, one_config_file
from hpcseq.cluster.job_table import profile_job_table
from hpcseq.cluster.jobscript import render_smoke_script, smoke_request
from hpcseq.cluster.launch import launch
from hpcseq.cluster.limits import ACCOUNT_VARIABLE
from hpcseq.cluster.options import OPTION_BY_NAME, SLURM_SETTING_KEYS
from hpcseq.cluster.submit import submit_job_script
from hpcseq.config import experiment_settings
from hpcseq.errors import ConfigError
from hpcseq.events import SMOKE_JOB_NAME
from hpcseq.io import write_text
from hpcseq.paths import job_script_file


def cmd_launch(args) -> int:
    command = args.command_line[1:] if args.command_line[:1] == ["--"] else args.command_line
    if not command:
        raise ConfigError("launch", "give the command to start after --")
    launch(
        command,
        args.ranks,
        args.nodes,
        args.tasks_per_node or args.ranks,
        args.srun,
        args.local_launcher,
        args.cpus_per_task,
        args.slurm_setup,
        args.slurm_container,
    )
    return 0  # not reached: launch() replaces this process


def cmd_sbatch(args) -> int:
    options = SbatchOptions(
        config_file=one_config_file(args.configfile),
        config_values=tuple(args.config or ()),
        cluster=args.cluster,
        experiment=args.experiment,
        preset=args.preset,
        slurm={key: getattr(args, key) for key in SLURM_SETTING_KEYS if getattr(args, key) is not None},
        time=args.time,
        partition=args.partition,
        training_python=args.training_python,
        dependency=args.dependency,
        data_steps=not args.no_data_steps,
        data_only=args.data_only,
        nodes=args.nodes,
        workdir=args.workdir,
        output_dir=args.output_dir,
    )
    for script in sbatch_scripts(options):
        if isinstance(script, LeftOut):
            print(
                f"hpcseq sbatch: no script for {script.experiment} on {script.cluster}: {script.reason}",
                file=sys.stderr,
            )
            continue
        _write_script(args.stdout, script.path, script.text)
        if script.note:
            print(f"hpcseq sbatch: note: {script.note}", file=sys.stderr)
    return 0


def cmd_smoke_test(args) -> int:
    """Write (and with --submit, submit) the smoke test of a cluster's software route."""
    if args.expect_gpus is not None and args.expect_gpus < 0:
        raise ConfigError("--expect-gpus", f"{args.expect_gpus} is not a whole number >= 0")
    config_path = one_config_file(args.configfile)
    config = read_config(args, {"slurm": {"account": args.account}} if args.account else {})
    cluster = named_cluster(args.cluster or config.get("cluster"))
    workdir, config_in_job = job_location(args.workdir, Path(config_path))
    request = smoke_request(config, cluster, workdir, config_in_job, python=args.training_python)
    target = job_script_file(args.output_dir, cluster, SMOKE_JOB_NAME)
    _write_script(args.stdout, target, render_smoke_script(request, args.expect_gpus))
    if args.stdout:
        return 0
    if not args.submit:
        print(f"submit it from here with `sbatch {target}`; then `hpcseq logs <jobid>` shows the result")
        return 0
    job = submit_job_script(target)
    print(f"submitted job {job}; `hpcseq logs {job}` shows the result (10 minutes at most once it runs)")
    return 0


def _write_script(to_stdout: bool, target: Path, text: str) -> None:
    """A job script to its file (atomically), or to standard output with --stdout."""
    if to_stdout:
        sys.stdout.write(text)
        return
    write_text(target, text)
    print(target)


def cmd_config(args) -> int:
    config = read_config(args, preset_override(args))
    if args.jobs:
        experiments = sorted(config["experiments"].items())
        default_run = [name for name, experiment in experiments if experiment["default_target"]]
        names = [args.experiment] if args.experiment else default_run
        print(profile_job_table(config, names))
    elif args.experiment:
        print(json.dumps(experiment_settings(config, args.experiment), indent=2))
    else:
        print(json.dumps(config, indent=2))
    return 0


def add_launch_command(sub) -> None:
    launch = add_command(
        sub, "launch", cmd_launch, help="start a command on N ranks: srun inside Slurm, else horovodrun/mpirun"
    )
    launch.add_argument("--ranks", type=int, required=True)
    launch.add_argument("--nodes", type=int, default=1)
    launch.add_argument("--tasks-per-node", type=int)
    launch.add_argument("--cpus-per-task", type=int)
    launch.add_argument(
        "--srun",
        default="srun",
        help="srun and its flags, used inside a Slurm allocation "
        "(empty: run the command directly, for single-process stages already inside a job step)",
    )
    launch.add_argument("--slurm-setup", default="", help="shell lines run first inside Slurm (modules, venv)")
    launch.add_argument(
        "--slurm-container",
        default="",
        help="inside Slurm, the shell words that run the command in the cluster's container "
        "(its container route: env ... apptainer exec ... IMAGE), between the launcher and the command",
    )
    launch.add_argument("--local-launcher", default="horovodrun", choices=["horovodrun", "mpirun"])
    launch.add_argument("command_line", nargs=argparse.REMAINDER)


def add_sbatch_command(sub) -> None:
    sbatch = add_command(
        sub, "sbatch", cmd_sbatch, help="write Juelich-style sbatch scripts (jobs/<cluster>/<experiment>.sbatch)"
    )
    add_config_arguments(sbatch)  # the job's steps get the same --configfile and --config
    sbatch.add_argument("--cluster", help="a cluster of the config, or `all` (default: the config's `cluster`)")
    sbatch.add_argument("--experiment", help="an experiment, or `all` (the default)")
    sbatch.add_argument("--preset")
    for key in SLURM_SETTING_KEYS:
        option = OPTION_BY_NAME[key]
        default = f"the config's slurm.{key}" + (f", else ${ACCOUNT_VARIABLE}" if key == "account" else "")
        sbatch.add_argument(option.flag, help=f"{option.argparse_help} (default: {default})")
    sbatch.add_argument("--time", help="training time limit (default: slurm.time.train)")
    sbatch.add_argument("--partition", choices=["gpu", "gpu_devel"], help="which GPU partition of the cluster")
    sbatch.add_argument(
        "--training-python",
        help="interpreter on the cluster (default: the cluster's training_python, else the config's)",
    )
    sbatch.add_argument("--dependency", help="e.g. afterok:12345 (with --no-data-steps after a data job)")
    sbatch.add_argument("--no-data-steps", action="store_true", help="leave preprocessing and vocabulary out")
    sbatch.add_argument(
        "--data-only",
        action="store_true",
        help="write <experiment>-data.sbatch instead: preprocessing and vocabulary as one CPU job, for a "
        "training script written with --no-data-steps to depend on",
    )
    sbatch.add_argument(
        "--nodes",
        type=int,
        help="train on this many whole nodes: ranks = NODES x the cluster's GPUs per node (default: the "
        "experiment's ranks); the job's steps get the same ranks",
    )
    sbatch.add_argument(
        "--workdir",
        help="the repository on the cluster, e.g. '$PROJECT/$USER/hpcseq' (variables expand in the job; "
        "default: the directory the job is submitted from, $SLURM_SUBMIT_DIR)",
    )
    sbatch.add_argument("--output-dir", default="jobs")
    sbatch.add_argument("--stdout", action="store_true", help="print instead of writing files")


def add_smoke_test_command(sub) -> None:
    smoke = add_command(
        sub,
        "smoke-test",
        cmd_smoke_test,
        help="a 10-minute two-node job that checks a cluster's software route (TensorFlow, GPUs, Horovod)",
        description="Writes jobs/<cluster>/hpcseq-smoke-test.sbatch: two whole nodes of the cluster's development "
        "partition, one rank per GPU, started as training is (setup lines, srun flags, the container on the "
        "container route), each rank running `python -m hpcseq.cluster.smoke`: TensorFlow and Horovod import, "
        "TensorFlow sees the GPUs, Horovod initialises on all ranks of both nodes, one allreduce gives the right "
        "sum. Choose the route with --config 'clusters={<cluster>: {software: container}}'.",
    )
    add_config_arguments(smoke)
    smoke.add_argument("--cluster", help="a cluster of the config (default: the config's `cluster`)")
    smoke.add_argument("--account", help="account (compute budget) the job is charged to (default: slurm.account)")
    smoke.add_argument(
        "--expect-gpus",
        type=int,
        help="GPUs TensorFlow should see on each rank (default: the node's; 0 on a cluster without real GPUs)",
    )
    smoke.add_argument("--training-python", help="interpreter on the cluster (default: as for training)")
    smoke.add_argument("--workdir", help="the repository on the cluster (default: where the job is submitted)")
    smoke.add_argument("--output-dir", default="jobs")
    smoke.add_argument("--stdout", action="store_true", help="print instead of writing the file")
    smoke.add_argument("--submit", action="store_true", help="submit the written script with sbatch")


def add_config_command(sub) -> None:
    text = "validate the config and print it resolved (defaults, preset and --config values applied)"
    show = add_command(sub, "config", cmd_config, help=text)
    add_config_arguments(show)
    show.add_argument("--experiment", help="print this experiment's resolved settings (with --jobs: its jobs)")
    show.add_argument("--preset")
    show.add_argument(
        "--jobs",
        action="store_true",
        help="print each stage's Slurm job under `--profile slurm` on the config's cluster (--config cluster=NAME): "
        "where it runs, partition, time, nodes, account, QoS, reservation; of the default run's experiments",
    )
