"""A config validated and resolved (validate_config, load_config), every problem reported at once.

First the schema's checks, then what the schema cannot say (references between sections and values
that must agree), then the Slurm values; each problem with the dotted key it concerns.
"""

from __future__ import annotations

from pathlib import Path

from hpcseq.config.command_line import coerce_command_line_values
from hpcseq.config.datasets import dataset_entry_errors, fill_download_paths
from hpcseq.config.experiments import experiment_errors
from hpcseq.config.files import DEFAULT_CONFIG_PATH, deep_merge, load_yaml
from hpcseq.config.models import (
    bidirectional_layer_errors,
    layers_of_their_kind,
    model_head_errors,
    model_layer_errors,
    named_models,
)
from hpcseq.config.presets import experiment_resolver, preset_errors
from hpcseq.config.scaling import scaling_errors
from hpcseq.config.schema import fill_defaults, schema_errors, schema_for_models
from hpcseq.config.slurm import cluster_errors
from hpcseq.config.sweeps import sweep_errors
from hpcseq.errors import ConfigError, ConfigErrors


def _semantic_errors(config: dict) -> list[ConfigError]:
    """What the schema cannot say: references between sections and values that must agree."""
    errors = preset_errors(config)
    datasets = config.get("datasets", {})
    for name, dataset in datasets.items():
        errors += dataset_entry_errors(name, dataset)
    errors += bidirectional_layer_errors(config.get("models", {}))
    errors += model_head_errors(config.get("models", {}))
    errors += model_layer_errors(config.get("models", {}))
    for name, experiment in config.get("experiments", {}).items():
        errors += experiment_errors(name, experiment, datasets, config.get("models", {}))
    errors += scaling_errors(config)
    return errors


def validate_config(raw: dict, command_line: dict | None = None) -> dict:
    """Validate a raw config mapping and return it resolved: defaults filled, presets applied.

    `command_line`: the values of `snakemake --config` (strings where Snakemake left them so,
    typed here where the schema asks for it). Raises ConfigErrors listing every problem with its key.
    """
    if not isinstance(raw, dict):
        raise ConfigErrors([ConfigError("", "the configuration must be a mapping of keys")])
    models = named_models(raw)
    if isinstance(raw.get("models"), (dict, type(None))):  # anything else stays, for the schema to refuse
        raw = {**raw, "models": models}
    schema = schema_for_models(models)
    if command_line:
        raw = coerce_command_line_values(raw, command_line, schema)
    errors = schema_errors(raw, schema)
    if errors:
        raise ConfigErrors(errors)
    config = fill_defaults(raw, schema, schema)
    resolved = experiment_resolver(raw, config, schema)
    config["experiments"] = {
        name: resolved(name, experiment["model"]) for name, experiment in config["experiments"].items()
    }
    errors = sweep_errors(config)
    if not errors:  # each model of a sweep resolved as its own experiment would be (sweep_run_config)
        for sweep in config["sweeps"].values():
            sweep["runs"] = {model: resolved(sweep["experiment"], model) for model in sweep["models"]}
    errors += _semantic_errors(config)
    errors += cluster_errors(config, earlier=errors)
    if errors:
        raise ConfigErrors(errors)
    for model in config["models"].values():
        model["layers"] = layers_of_their_kind(model["layers"])
    fill_download_paths(config)
    return config


def load_config(
    path: str | Path | list = DEFAULT_CONFIG_PATH, overrides: dict | None = None, command_line: dict | None = None
) -> dict:
    """A config file (or several, merged in order as Snakemake merges its --configfile files) with
    `command_line` values (strings, from `--config KEY=VALUE`, typed by the schema) and then
    `overrides` (typed values) merged in, validated and resolved."""
    raw: dict = {}
    for file in path if isinstance(path, list) else [path]:
        raw = deep_merge(raw, load_yaml(file))
    for values in (command_line, overrides):
        if values:
            raw = deep_merge(raw, values)
    return validate_config(raw, command_line=command_line)
