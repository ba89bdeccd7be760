"""The result commands: plots, the summary of evaluated experiments, the scaling study's and a
sweep's tables, from what the stages wrote."""

from __future__ import annotations

from pathlib import Path

from hpcseq.cli.arguments import add_command, add_config_arguments, json_option, read_config
from hpcseq.errors import ConfigError
from hpcseq.evaluation.plots import plot_from_files
from hpcseq.evaluation.scaling import write_study
from hpcseq.evaluation.summary import write_summary
from hpcseq.evaluation.sweep import sweep_description, write_sweep
from hpcseq.paths import ScalingPaths, SweepPaths


def cmd_plot(args) -> int:
    source = args.metrics if args.kind == "curves" else args.evaluation
    if source is None:
        raise ConfigError("plot", "curves need --metrics FILE, confusion needs --evaluation FILE")
    plot_from_files(args.kind, source, args.title, args.output)
    return 0


def cmd_summary(args) -> int:
    write_summary(args.results_dir or Path("results"), args.experiments, args.output)
    return 0


def cmd_sweep(args) -> int:
    if args.settings:
        sweep = json_option(args.settings, "--settings")
    elif args.sweep:
        sweep = sweep_description(read_config(args), args.sweep)
    else:
        raise ConfigError("--sweep", "give --sweep NAME (with --configfile FILE), or --settings JSON")
    results_dir = args.results_dir or Path("results")
    write_sweep(sweep, results_dir)
    paths = SweepPaths.of(results_dir, sweep["name"])
    print(f"wrote {paths.table_json}, {paths.table_md}, {paths.plot}")
    return 0


def cmd_scaling(args) -> int:
    write_study(args.results_dir or Path("results"), args.experiment, args.ranks)
    paths = ScalingPaths.of(args.results_dir or Path("results"), args.experiment)
    print(f"wrote {paths.table_json}, {paths.table_md}, {paths.plot}")
    return 0


def add_plot_command(sub) -> None:
    plot = add_command(sub, "plot", cmd_plot, help="training curves (from metrics.jsonl) or a confusion matrix as PNG")
    plot.add_argument("kind", choices=["curves", "confusion"])
    plot.add_argument("--metrics", type=Path, help="model/metrics.jsonl (curves)")
    plot.add_argument("--evaluation", type=Path, help="eval/metrics.json (confusion)")
    plot.add_argument("--title", default="")
    plot.add_argument("--output", type=Path, required=True)


def add_summary_command(sub) -> None:
    summary = add_command(sub, "summary", cmd_summary, help="summarise evaluated experiments (Markdown)")
    summary.add_argument("--results-dir", type=Path)
    summary.add_argument("--output", type=Path, required=True)
    summary.add_argument("experiments", nargs="+")


def add_scaling_command(sub) -> None:
    scaling = add_command(
        sub,
        "scaling",
        cmd_scaling,
        help="the scaling study's table, JSON and plot (results/scaling/<experiment>.*) from its runs",
        description="Samples per second, speedup, efficiency and Horovod's communication share of an "
        "experiment's runs at each rank count (results/scaling/<experiment>/ranks-<n>/, trained by "
        "`snakemake scaling`), with Horovod's timelines (results/scaling/<experiment>.timeline/).",
    )
    scaling.add_argument("--results-dir", type=Path, help="default: results/")
    scaling.add_argument("--ranks", type=int, nargs="+", required=True, help="the rank counts of the runs")
    scaling.add_argument("--experiment", required=True)


def add_sweep_command(sub) -> None:
    sweep = add_command(
        sub,
        "sweep",
        cmd_sweep,
        help="a sweep's comparison table, JSON and plot (results/sweeps/<sweep>.*) from its runs",
        description="Each model's test metrics beside the experiment's baselines, from the runs of "
        "`snakemake sweeps` (results/sweeps/<sweep>/<model>/).",
    )
    sweep.add_argument("--results-dir", type=Path, help="default: results/")
    sweep.add_argument("--sweep", help="a sweep of the config (`sweeps:`)")
    sweep.add_argument("--settings", help="the sweep as JSON (name, experiment, models: descriptions; the rule's form)")
    add_config_arguments(sweep)
