"""Load, validate and resolve the hpcseq configuration.

One schema (workflow/schemas/config.schema.yaml) serves the Snakefile and the command line.
Validation reports every problem at once, each with the dotted key it concerns, and for an
unknown key the list of valid ones. An experiment names a model (`models:`, the course's named
models built in), whose task decides which keys the experiment has. Resolution merges, per
experiment, schema defaults < the preset's keys for its task < for its model < the experiment's
own keys (presets.py).

    files         the schema read, deep_merge (the paths come from hpcseq.paths, load_yaml from hpcseq.io)
    schema        the schema applied: named models wired in, defaults filled, errors by dotted key
    models        the named models (`models:`): tasks, layers, what training builds (architecture_of)
    datasets      `datasets:`, and which datasets an experiment's model reads
    experiments   `experiments:`, and the settings each stage reads (experiment_settings, stage_settings)
    presets       `preset:`, `presets:`, and an experiment resolved over its preset
    sweeps        `sweeps:`, and the config of one run of a sweep
    scaling       `scaling:`, and the config of one run of the scaling study
    slurm         the cluster and Slurm values, checked by hpcseq.cluster
    command_line  `--config KEY=VALUE`, read as Snakemake reads it and typed by the schema
    validation    validate_config and load_config: all of the above, in order

Each module imports only modules listed above it. hpcseq.config sits above hpcseq.cluster: slurm
asks cluster/ to check the Slurm values, and cluster/ must not import hpcseq.config (it reads the
resolved config as a mapping; `hpcseq sbatch`, which needs both, is hpcseq.cli.sbatch_scripts).
Nothing here imports training, evaluation, data, logs or the command line, and no TensorFlow.
"""

from __future__ import annotations

from hpcseq.config.command_line import YAML_NULLS, coerce_command_line_values, parse_command_line_values
from hpcseq.config.experiments import (
    STAGES,
    experiment_settings,
    experiment_task,
    global_batch_problem,
    stage_settings,
)
from hpcseq.config.files import DEFAULT_CONFIG_PATH, REPO_ROOT, SCHEMA_PATH, deep_merge, load_schema, load_yaml
from hpcseq.config.models import (
    ARCHITECTURE_KEYS,
    CHARACTER_TASKS,
    NON_RECURRENT_KEYS,
    PER_STEP_TASKS,
    RECURRENT_CELLS,
    RECURRENT_ONLY_KEYS,
    TASKS_WITH_IDS,
    architecture_of,
    bidirectional_layer_errors,
    filled_named_models,
    layers_of_their_kind,
    model_head_errors,
    model_layer_errors,
    named_models,
)
from hpcseq.config.scaling import scaling_run_config
from hpcseq.config.schema import schema_errors, schema_for_models
from hpcseq.config.sweeps import sweep_run_config
from hpcseq.config.validation import load_config, validate_config

__all__ = [
    "ARCHITECTURE_KEYS",
    "CHARACTER_TASKS",
    "DEFAULT_CONFIG_PATH",
    "NON_RECURRENT_KEYS",
    "PER_STEP_TASKS",
    "RECURRENT_CELLS",
    "RECURRENT_ONLY_KEYS",
    "REPO_ROOT",
    "SCHEMA_PATH",
    "STAGES",
    "TASKS_WITH_IDS",
    "YAML_NULLS",
    "architecture_of",
    "bidirectional_layer_errors",
    "coerce_command_line_values",
    "deep_merge",
    "experiment_settings",
    "experiment_task",
    "filled_named_models",
    "global_batch_problem",
    "layers_of_their_kind",
    "load_config",
    "load_schema",
    "load_yaml",
    "model_head_errors",
    "model_layer_errors",
    "named_models",
    "parse_command_line_values",
    "scaling_run_config",
    "schema_errors",
    "schema_for_models",
    "stage_settings",
    "sweep_run_config",
    "validate_config",
]
