"""The arguments every stage reads its settings through, and what they give: the config
(--configfile, --config, as Snakemake has them) or resolved JSON (--settings); and add_command,
which adds every subcommand with the function that runs it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hpcseq.errors import ConfigError
from hpcseq.paths import ExperimentPaths


def add_config_arguments(parser) -> None:
    """--configfile and --config, as Snakemake has them: the same for every subcommand."""
    parser.add_argument(
        "--configfile",
        type=Path,
        nargs="+",
        help="the config file (default: config/config.yaml); several are merged in order, as Snakemake "
        "merges them (config/config.yaml config/whole-nodes.yaml)",
    )
    parser.add_argument(
        "--config",
        nargs="+",
        metavar="KEY=VALUE",
        help="override config keys as `snakemake --config` does, e.g. preset=lecture "
        "'experiments={shakespeare_char_rnn: {ranks: 4}}'",
    )


def add_command(sub, name: str, function, **parser_options) -> argparse.ArgumentParser:
    """A subcommand whose parsed arguments `function` runs with; `parser_options` (help, description,
    ...) as argparse's add_parser takes them."""
    command = sub.add_parser(name, **parser_options)
    command.set_defaults(function=function)
    return command


def add_stage_command(sub, name: str, function, text: str) -> argparse.ArgumentParser:
    """A stage of the workflow (preprocess, vocab, train, evaluate): one experiment's settings."""
    command = add_command(sub, name, function, help=text, description=text)
    source = command.add_argument_group("settings (one of)")
    source.add_argument("--settings", help="resolved experiment settings as JSON (what the Snakemake rules pass)")
    source.add_argument("--experiment", help="an experiment of the config (--configfile, --config)")
    add_config_arguments(source)
    source.add_argument("--preset", help="override the config's preset (e.g. quick, lecture)")
    command.add_argument("--results-dir", type=Path, help="default: the config's results_dir, or results/")
    return command


def read_config(args, overrides: dict | None = None) -> dict:
    """The config of --configfile with --config values and then `overrides` merged in, validated."""
    # imported here: the config package (JSON schema validation) costs a data stage given its
    # --settings a tenth of a second of its start, and Snakemake starts one per experiment
    from hpcseq.config import DEFAULT_CONFIG_PATH, load_config, parse_command_line_values

    command_line = parse_command_line_values(args.config)
    return load_config(args.configfile or [DEFAULT_CONFIG_PATH], overrides, command_line)


def preset_override(args) -> dict | None:
    """--preset as a config override."""
    return {"preset": args.preset} if args.preset else None


def json_option(text: str, option: str):
    """The value of an option given as JSON (--settings)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(option, f"not valid JSON: {error}") from None


def settings_and_paths(args) -> tuple[dict, ExperimentPaths]:
    """A stage's experiment settings (--settings, or --experiment of the config) and its paths."""
    if args.settings:
        settings = json_option(args.settings, "--settings")
        results_dir = args.results_dir or Path("results")
    else:
        from hpcseq.cluster.validators import expand_path
        from hpcseq.config import experiment_settings

        if not args.experiment:
            raise ConfigError("--experiment", "give --experiment NAME (with --configfile FILE), or --settings JSON")
        config = read_config(args, preset_override(args))
        settings = experiment_settings(config, args.experiment)
        # $SCRATCH and the like expand here, where the stage runs (a job script's step on the cluster)
        results_dir = args.results_dir or Path(expand_path(config["results_dir"], "results_dir"))
    return settings, ExperimentPaths.of(results_dir, settings["name"])
