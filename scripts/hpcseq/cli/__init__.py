"""The `hpcseq` command: one subcommand per stage, plus sbatch script rendering and log inspection.

Every stage takes its settings either from the config (`--experiment NAME`, with `--configfile
FILE` and `--config KEY=VALUE ...` as in Snakemake: the form of hand-written and generated sbatch
scripts) or as resolved JSON (`--settings`, the form the Snakemake rules use, so that Snakemake
reruns a stage exactly when its settings change). `hpcseq sbatch` and `hpcseq config` read the
config the same way.

Each subcommand parses its arguments and calls the package that does the work:

    arguments         --configfile, --config, --settings: the config and an experiment's settings
    data_commands     preprocess, vocab, download
    model_commands    train, evaluate, generate (they alone load TensorFlow, when they run)
    result_commands   plot, summary, scaling, sweep
    cluster_commands  launch, sbatch, smoke-test, config
    logs_command      logs
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from hpcseq.cli import data_commands
from hpcseq.errors import HpcseqError
from hpcseq.events import STAGE_ERROR

__all__ = ["build_parser", "main"]

# Snakemake starts these once per experiment, and their start counts (a third of a second with
# every subcommand's imports): they parse with a parser of their own subcommands only, which
# reads and reports their arguments as the whole parser does.
DATA_STAGES = ("preprocess", "vocab")


def build_parser(data_stages_only: bool = False) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hpcseq", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    data_commands.add_data_stage_commands(sub)
    if data_stages_only:
        return parser
    from hpcseq.cli import cluster_commands, logs_command, model_commands, result_commands

    model_commands.add_model_stage_commands(sub)
    result_commands.add_plot_command(sub)
    result_commands.add_summary_command(sub)
    result_commands.add_scaling_command(sub)
    result_commands.add_sweep_command(sub)
    cluster_commands.add_launch_command(sub)
    cluster_commands.add_sbatch_command(sub)
    cluster_commands.add_smoke_test_command(sub)
    cluster_commands.add_config_command(sub)
    data_commands.add_download_command(sub)
    logs_command.add_logs_command(sub)
    model_commands.add_generate_command(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(data_stages_only=bool(argv) and argv[0] in DATA_STAGES)
    args = parser.parse_args(argv)
    _prepare_signals(args.command)
    try:
        return args.function(args)
    except HpcseqError as error:
        from hpcseq.training.signals import TrainingInterrupted

        print(STAGE_ERROR.text(stage=args.command, message=error), file=sys.stderr, flush=True)
        if isinstance(error, TrainingInterrupted):
            _exit_now(error.exit_code)
        return error.exit_code


def _prepare_signals(command: str) -> None:
    """Slurm's warning signal (SIGUSR1 before the time limit) must not kill a stage: training
    checkpoints and stops on it; the other stages are short and ignore it."""
    if command == "train":
        from hpcseq.training.signals import INTERRUPTIONS

        INTERRUPTIONS.install()
    elif command != "launch":  # launch execs the launcher, which handles its own signals
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)


def _exit_now(code: int) -> None:
    """Leave without interpreter teardown after a signal stop.

    The checkpoint is written (atomically) and every rank stopped at the same step, so nothing is
    left to do; but tearing down TensorFlow waits for the tf.data workers of the interrupted epoch,
    measured at 8 s with 2 ranks under mpirun and 18-35 s with 2 ranks on one CPU each under srun,
    time the job may not have before its limit.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
