"""Load, validate and resolve the hpcseq configuration.

One schema (workflow/schemas/config.schema.yaml) serves the Snakefile and the command line.
Validation reports every problem at once, each with the dotted key it concerns, and for an
unknown key the list of valid ones. An experiment names a model (`models:`, the course's named
models built in), whose task decides which keys the experiment has. Resolution merges, per
experiment:

    schema defaults  <  presets.<preset>.tasks.<task>  <  presets.<preset>.models.<model>
                     <  the experiment's own keys

so the shipped experiments carry no epoch counts and the preset decides how long they run,
while anything a user writes into an experiment wins.
"""

from __future__ import annotations

import copy
import difflib
import re
from pathlib import Path
from typing import Any

import yaml

from hpcseq.errors import ConfigError, ConfigErrors
from hpcseq.paths import TASK_SOURCE_FORMATS, TASK_STAGE_FORMAT

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"
DEFAULT_CONFIG_PATH = REPO_ROOT / "config" / "config.yaml"

# What a named model holds besides its task and description: what training builds.
ARCHITECTURE_KEYS = ("embedding", "spatial_dropout", "layers", "pooling", "dense", "output_dropout")
RECURRENT_CELLS = ("simple_rnn", "gru", "lstm")
# Keys of a layer that only a recurrent layer reads, with their defaults (schema recurrent_layer).
RECURRENT_ONLY_KEYS = {
    "bidirectional": False,
    "dropout": 0,
    "recurrent_dropout": 0,
    "unroll": False,
    "dropout_after": 0,
}
NON_RECURRENT_KEYS = ("activation", "kernel_size", "pool_size")
# Tasks whose inputs are ids (an embedding needed); sequence_regression reads numbers (none).
TASKS_WITH_IDS = tuple(task for task, stage in TASK_STAGE_FORMAT.items() if stage != "time_series")
STAGES = ("preprocess", "vocabulary", "hyperparameters", "training", "evaluation", "slurm")

_schema_cache: dict | None = None


def load_schema() -> dict:
    global _schema_cache
    if _schema_cache is None:
        with open(SCHEMA_PATH, encoding="utf-8") as handle:
            _schema_cache = yaml.safe_load(handle)
    return _schema_cache


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError("", f"config file {path} does not exist")
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except yaml.YAMLError as error:
        raise ConfigError("", f"{path} is not valid YAML: {error}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("", f"{path} must hold a mapping of keys, not a {type(data).__name__}")
    return data


# ----------------------------------------------------------------------------------------------
# schema helpers


def _resolve_ref(schema: dict, root: dict) -> dict:
    """Follow local `$ref`s ("#/$defs/...") and merge sibling keywords such as `default`."""
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local $ref supported, got {ref}")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        siblings = {key: value for key, value in schema.items() if key != "$ref"}
        schema = {**target, **siblings}
        seen += 1
        if seen > 50:
            raise ValueError(f"$ref loop at {ref}")
    return schema


def named_models(raw: dict | None = None) -> dict:
    """The course's named models (the schema's default of `models`) with a config's own entries
    merged in: a config adds models or changes a named one key by key."""
    built_in = copy.deepcopy(load_schema()["properties"]["models"]["default"])
    own = (raw or {}).get("models")
    return deep_merge(built_in, own) if isinstance(own, dict) else built_in


def filled_named_models(raw: dict | None = None) -> dict:
    """named_models with their schema defaults filled in: what training builds each from."""
    schema = load_schema()
    return _fill_defaults(named_models(raw), schema["properties"]["models"], schema)


def schema_for_models(models: dict, schema: dict | None = None) -> dict:
    """The schema with the named models wired in: an experiment's `model` must name one, and its
    keys (and a preset's overrides for it) are those of the model's task. JSON Schema cannot look
    a name up elsewhere in the document, so one if/then per named model is added here."""
    effective = copy.deepcopy(schema or load_schema())
    tasks = effective["$defs"]["task"]["enum"]
    task_of = {name: model["task"] for name, model in models.items() if isinstance(model, dict)}
    task_of = {name: task for name, task in task_of.items() if task in tasks}
    experiment = effective["$defs"]["experiment"]
    experiment["properties"]["model"] = {"enum": sorted(models)} if models else {"type": "string"}
    experiment["allOf"] = [
        {"if": {"properties": {"model": {"const": name}}}, "then": {"$ref": f"#/$defs/{task}_experiment"}}
        for name, task in sorted(task_of.items())
    ]
    effective["$defs"]["preset"]["properties"]["models"] = {
        **effective["$defs"]["preset"]["properties"]["models"],
        "properties": {name: {"$ref": f"#/$defs/{task}_overrides"} for name, task in sorted(task_of.items())},
        "additionalProperties": False,
    }
    return effective


def _experiment_schema(experiment: dict, schema: dict, root: dict) -> dict | None:
    """The branch of an experiment's schema (schema_for_models) that its model selects."""
    model = experiment.get("model") if isinstance(experiment, dict) else None
    for branch in schema.get("allOf", []):
        if branch["if"]["properties"]["model"].get("const") == model:
            return _resolve_ref(branch["then"], root)
    return None


def _fill_defaults(instance: Any, schema: dict, root: dict) -> Any:
    """Return a copy of `instance` with every missing key that has a schema default filled in."""
    schema = _resolve_ref(schema, root)
    if isinstance(instance, list) and isinstance(schema.get("items"), dict):
        return [_fill_defaults(item, schema["items"], root) for item in instance]
    if not isinstance(instance, dict):
        return instance
    if "allOf" in schema and "properties" in schema and "model" in schema["properties"]:
        # an experiment: the task of its model decides which sub-schema applies
        sub = _experiment_schema(instance, schema, root)
        if sub is not None:
            schema = sub
    result = dict(instance)
    properties = schema.get("properties", {})
    for key, subschema in properties.items():
        subschema = _resolve_ref(subschema, root)
        if key not in result and "default" in subschema:
            result[key] = copy.deepcopy(subschema["default"])
        if key in result:
            result[key] = _fill_defaults(result[key], subschema, root)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for key in result:
            if key not in properties:
                result[key] = _fill_defaults(result[key], extra, root)
    return result


def _dotted(path) -> str:
    return ".".join(str(part) for part in path)


def _format_schema_error(error, root: dict) -> ConfigError:
    key = _dotted(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(_resolve_ref(error.schema, root).get("properties", {}))
        unknown = sorted(k for k in error.instance if k not in allowed)
        valid = ", ".join(sorted(allowed)) or "(none)"
        errors = []
        for name in unknown:
            close = difflib.get_close_matches(str(name), sorted(allowed), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            errors.append(
                ConfigError(f"{key}.{name}" if key else str(name), f"unknown key{hint}; valid keys here are: {valid}")
            )
        if len(errors) == 1:
            return errors[0]
        return ConfigError(key, f"unknown keys {', '.join(unknown)}; valid keys here are: {valid}")
    if error.validator == "required":
        return ConfigError(key, error.message.replace("is a required property", "is required"))
    if error.validator == "enum":
        allowed = ", ".join(repr(v) for v in error.validator_value)
        return ConfigError(key, f"{error.instance!r} is not one of {allowed}")
    if error.validator == "pattern":
        return ConfigError(key, f"{error.instance!r} does not match the pattern {error.validator_value}")
    return ConfigError(key, error.message)


def schema_errors(config: dict, schema: dict | None = None) -> list[ConfigError]:
    import jsonschema

    schema = schema or load_schema()
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    formatted: list[ConfigError] = []
    seen = set()
    for error in errors:
        # if/then branches report the same problem twice (once for the failed `then`): keep leaves
        if error.validator in ("allOf", "if", "then"):
            continue
        item = _format_schema_error(error, schema)
        if str(item) not in seen:
            seen.add(str(item))
            formatted.append(item)
    return formatted


# ----------------------------------------------------------------------------------------------
# merging


def deep_merge(base: dict, override: dict) -> dict:
    """`override` wins; nested mappings merge key by key; lists and scalars are replaced."""
    result = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def _semantic_errors(config: dict) -> list[ConfigError]:
    """What the schema cannot say: references between sections and values that must agree."""
    errors: list[ConfigError] = []
    preset = config.get("preset")
    presets = config.get("presets", {})
    if preset is not None and preset not in presets:
        valid = ", ".join(sorted(presets)) or "(none defined)"
        errors.append(ConfigError("preset", f"{preset!r} is not defined under `presets`; defined: {valid}"))
    datasets = config.get("datasets", {})
    for name, dataset in datasets.items():
        errors += _download_errors(name, dataset)
        errors += _time_series_errors(name, dataset)
    errors += bidirectional_layer_errors(config.get("models", {}))
    errors += model_head_errors(config.get("models", {}))
    errors += model_layer_errors(config.get("models", {}))
    for name, experiment in config.get("experiments", {}).items():
        errors += _name_errors(name)
        errors += _dataset_errors(name, experiment, datasets, config.get("models", {}))
        errors += _preprocess_errors(name, experiment.get("preprocess", {}))
        errors += _batch_errors(name, experiment)
    errors += _scaling_errors(config)
    return errors


def _name_errors(name: str) -> list[ConfigError]:
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]{0,63}", str(name)):
        return []
    return [
        ConfigError(
            f"experiments.{name}",
            "experiment names must start with a letter and hold only letters, digits, '_', '.', '-' "
            "(at most 64): they become file names and Slurm job names",
        )
    ]


def _download_errors(name: str, dataset: dict) -> list[ConfigError]:
    """A downloaded dataset's location and checksum are those of its `download` entry: one place."""
    if "download" not in dataset:
        return []
    why = "a dataset with `download` is read from where it is fetched to (downloads_dir), checked at the download"
    return [
        ConfigError(f"datasets.{name}.{key}", f"leave it out: {why}")
        for key in ("path", "sha256")
        if dataset.get(key) is not None
    ]


def _fill_download_paths(config: dict) -> None:
    """`path` of every downloaded dataset: where hpcseq.paths.DownloadPaths says the data stages
    read it (downloads_dir unexpanded, as results_dir: expanded where a stage runs)."""
    from hpcseq.paths import DownloadPaths

    for name, dataset in config["datasets"].items():
        if "download" in dataset:
            dataset["path"] = str(DownloadPaths.of(config["downloads_dir"], name, dataset["download"]).data)


# Tasks that predict at every step of a sequence from the states of that step (a per-step
# sequence-to-sequence language model): a bidirectional layer there would read the characters it
# is to predict. Their last recurrent layer returns its whole sequence (training.models).
PER_STEP_TASKS: frozenset[str] = frozenset({"next_character_sequence"})
# Tasks whose data are a character stream (the same data stages: preprocess_text, vocabulary_characters).
CHARACTER_TASKS = ("next_character", "next_character_sequence")


def bidirectional_layer_errors(models: dict, per_step_tasks=PER_STEP_TASKS) -> list[ConfigError]:
    """A bidirectional layer in a model of a per-step task would see what it predicts. Reading a
    whole window both ways before one prediction after it (next_character, classification) is fine."""
    errors = []
    for name, model in models.items():
        if model.get("task") not in per_step_tasks:
            continue
        for index, layer in enumerate(model.get("layers", [])):
            if layer.get("bidirectional"):
                errors.append(
                    ConfigError(
                        f"models.{name}.layers.{index}.bidirectional",
                        f"task {model['task']} predicts at every step: a bidirectional layer would read the "
                        "characters it is to predict",
                    )
                )
    return errors


def model_head_errors(models: dict) -> list[ConfigError]:
    """What reads the (embedded) sequence: recurrent layers or a pooling head, exactly one; the
    convolutional layers of forecasting models return a sequence, so a pooling head follows them."""
    errors = []
    for name, model in models.items():
        all_layers, pooling = model.get("layers") or [], model.get("pooling")
        layers = [layer for layer in all_layers if layer.get("cell", "lstm") in RECURRENT_CELLS]
        if all_layers and all_layers[-1].get("cell", "lstm") not in RECURRENT_CELLS and not pooling:
            errors.append(
                ConfigError(
                    f"models.{name}.pooling",
                    f"the last layer ({all_layers[-1].get('cell')}) returns a sequence: give `pooling: average` "
                    "or `pooling: flatten` to read it",
                )
            )
        elif layers and pooling:
            errors.append(
                ConfigError(
                    f"models.{name}.pooling",
                    f"{pooling!r} pools the embedded sequence in place of recurrent layers, but `layers` has "
                    f"{len(layers)}: give one or the other (pooling: null keeps the layers)",
                )
            )
        elif not layers and not pooling:
            errors.append(
                ConfigError(
                    f"models.{name}.layers",
                    "no recurrent layer and no pooling: give `layers` (e.g. [{cell: lstm, units: 64}]) or "
                    "`pooling: average`",
                )
            )
    return errors


def model_layer_errors(models: dict) -> list[ConfigError]:
    """What one named model's task allows: an embedding for ids and none for numbers; the
    convolutional layers (conv1d, max_pooling1d) in sequence_regression models only, and none of
    them with a recurrent layer's keys (bidirectional, dropout, recurrent_dropout, unroll,
    dropout_after). Dense layers and pooling are the model's `dense` and `pooling`, for every task."""
    errors = []
    for name, model in models.items():
        task = model.get("task")
        embedding = model.get("embedding")
        if task in TASKS_WITH_IDS and embedding is None:
            errors.append(ConfigError(f"models.{name}.embedding", f"task {task} reads ids: give one_hot or a size"))
        if task == "sequence_regression" and embedding is not None:
            errors.append(
                ConfigError(f"models.{name}.embedding", "task sequence_regression reads numbers: leave it out")
            )
        if task == "sequence_regression" and model.get("spatial_dropout"):
            errors.append(ConfigError(f"models.{name}.spatial_dropout", "acts on an embedding: leave it out"))
        for index, layer in enumerate(model.get("layers", [])):
            cell = layer.get("cell")
            if cell in RECURRENT_CELLS:
                continue
            if task != "sequence_regression":
                errors.append(
                    ConfigError(
                        f"models.{name}.layers.{index}.cell",
                        f"{cell} layers are for sequence_regression models; task {task} takes simple_rnn, gru, lstm",
                    )
                )
            errors += [
                ConfigError(f"models.{name}.layers.{index}.{key}", f"a {cell} layer has no {key}")
                for key, default in RECURRENT_ONLY_KEYS.items()
                if layer.get(key, default) != default
            ]
    return errors


def _time_series_errors(name: str, dataset: dict) -> list[ConfigError]:
    if dataset.get("format") == "time_series" and not dataset.get("time_series"):
        return [ConfigError(f"datasets.{name}.time_series", "format time_series needs its layout (time_column, ...)")]
    return []


def _dataset_errors(name: str, experiment: dict, datasets: dict, models: dict) -> list[ConfigError]:
    dataset, model = experiment.get("dataset"), experiment.get("model")
    if dataset not in datasets:
        valid = ", ".join(sorted(datasets))
        return [
            ConfigError(f"experiments.{name}.dataset", f"{dataset!r} is not defined under `datasets`; defined: {valid}")
        ]
    task = models.get(model, {}).get("task")
    wanted = TASK_SOURCE_FORMATS.get(task)
    if wanted is not None and datasets[dataset].get("format") not in wanted:
        return [
            ConfigError(
                f"experiments.{name}.dataset",
                f"model {model} (task {task}) needs a dataset of format {' or '.join(map(repr, wanted))}, "
                f"but {dataset} has format {datasets[dataset].get('format')!r}",
            )
        ]
    return []


def _preprocess_errors(name: str, prep: dict) -> list[ConfigError]:
    errors = []
    key = f"experiments.{name}.preprocess"
    held_out = prep.get("validation_fraction", 0) + prep.get("test_fraction", 0)
    if held_out >= 1:
        errors.append(ConfigError(key, f"validation_fraction + test_fraction = {held_out:g} leaves no training data"))
    if prep.get("validation_fraction", 0) <= 0:
        errors.append(ConfigError(f"{key}.validation_fraction", "must be above 0: training always validates"))
    for option in ("start_after", "drop_lines_matching"):
        if pattern := prep.get(option):
            try:
                re.compile(pattern)
            except re.error as error:
                errors.append(ConfigError(f"{key}.{option}", f"not a valid regular expression: {error}"))
    return errors


def global_batch_problem(global_batch_size: int | None, ranks: int) -> str | None:
    """Why a global batch cannot be shared by `ranks` ranks, or None (also checked when training starts,
    where the number of ranks is the launcher's)."""
    if global_batch_size is None or global_batch_size % ranks == 0:
        return None
    return f"{global_batch_size} cannot be split evenly over {ranks} ranks"


def _batch_errors(name: str, experiment: dict) -> list[ConfigError]:
    problem = global_batch_problem(experiment.get("training", {}).get("global_batch_size"), experiment.get("ranks", 1))
    if problem is None:
        return []
    return [ConfigError(f"experiments.{name}.training.global_batch_size", f"{problem} (experiments.{name}.ranks)")]


def scaling_run_config(config: dict, experiment: str, ranks: int) -> dict:
    """The config of one run of the scaling study: the experiment as configured, on `ranks` ranks,
    for the study's epochs of its fixed steps, with the experiment's batch per rank (weak scaling:
    no global_batch_size), a checkpoint only at the end, and the study's Slurm partition and time."""
    study = config["scaling"]
    own = copy.deepcopy(config["experiments"][experiment])
    own["ranks"] = int(ranks)
    own["training"].update(
        epochs=study["epochs"],
        max_steps_per_epoch=study["steps_per_epoch"],
        global_batch_size=None,
        checkpoint_every_epochs=study["epochs"],
        checkpoint_every_minutes=None,
    )
    own["slurm"] = {**own.get("slurm", {}), **study["slurm"]}
    return {**config, "experiments": {**config["experiments"], experiment: own}}


def _sweep_errors(config: dict) -> list[ConfigError]:
    """A sweep names an experiment of the config and named models of that experiment's task."""
    errors = []
    for name, sweep in config.get("sweeps", {}).items():
        experiment = config["experiments"].get(sweep["experiment"])
        if experiment is None:
            valid = ", ".join(sorted(config["experiments"]))
            errors.append(
                ConfigError(
                    f"sweeps.{name}.experiment", f"{sweep['experiment']!r} is not an experiment; defined: {valid}"
                )
            )
            continue
        task = config["models"][experiment["model"]]["task"]
        for index, model in enumerate(sweep["models"]):
            if model not in config["models"]:
                errors.append(ConfigError(f"sweeps.{name}.models.{index}", f"{model!r} is not a named model"))
            elif config["models"][model]["task"] != task:
                errors.append(
                    ConfigError(
                        f"sweeps.{name}.models.{index}",
                        f"{model} is a {config['models'][model]['task']} model; {sweep['experiment']} is {task}",
                    )
                )
    return errors


def sweep_run_config(config: dict, sweep: str, model: str) -> dict:
    """The config of one run of a sweep: its experiment with `model` (resolved with that model's
    preset overrides when the config was validated)."""
    chosen = config["sweeps"][sweep]
    return {**config, "experiments": {**config["experiments"], chosen["experiment"]: chosen["runs"][model]}}


def _scaling_errors(config: dict) -> list[ConfigError]:
    """The experiments of the scaling study exist."""
    experiments = config.get("experiments", {})
    return [
        ConfigError(
            "scaling.experiments",
            f"{name!r} is not defined under `experiments`; defined: {', '.join(sorted(experiments))}",
        )
        for name in config.get("scaling", {}).get("experiments", [])
        if name not in experiments
    ]


def _scaling_plan_errors(config: dict) -> list[ConfigError]:
    """On the config's cluster, every run of the scaling study gets nodes as training would (one
    rank per GPU, whole nodes beyond one) and fits its partition's time limit."""
    cluster = config.get("cluster")
    if cluster is None:
        return []
    from hpcseq.cluster.resources import plan_job

    errors: dict[str, ConfigError] = {}  # once each, not once per rank count
    for name in config["scaling"]["experiments"]:
        for ranks in config["scaling"]["ranks"]:
            try:
                plan_job(scaling_run_config(config, name, ranks), cluster, name, "train")
            except ConfigError as error:
                key = "scaling.ranks" if error.key.endswith(".ranks") else error.key
                error = ConfigError(key.replace(f"experiments.{name}.slurm.", "scaling.slurm."), error.detail)
                errors.setdefault(str(error), error)
    return list(errors.values())


_TYPED_SCALARS = {"integer": int, "number": (int, float), "boolean": bool, "null": type(None)}


def _set_at(mapping: dict, path: list, value: Any) -> None:
    for part in path[:-1]:
        mapping = mapping[part]
    mapping[path[-1]] = value


def _has_path(mapping: Any, path: list) -> bool:
    for part in path:
        in_list = isinstance(mapping, list) and isinstance(part, int) and 0 <= part < len(mapping)
        if not in_list and (not isinstance(mapping, dict) or part not in mapping):
            return False
        mapping = mapping[part]
    return True


def coerce_command_line_values(raw: dict, command_line: dict, schema: dict | None = None) -> dict:
    """Type the strings that came from `snakemake --config key={...}` where the schema wants numbers.

    Snakemake parses a nested `--config` value with YAML's BaseLoader, which keeps every scalar a
    string: `--config 'slurm={signal_seconds_before_limit: 300}'` arrives as "300". Only values
    given on the command line are typed, and only where the schema rejects the string and the
    YAML reading of it is of a type the schema accepts; a config file keeps strict types.
    """
    schema = schema or load_schema()
    result = copy.deepcopy(raw)
    _set_command_line_nulls(result, command_line)
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    for _ in range(100):  # one value per round, then validate again (a typed value can open if/then branches)
        changed = False
        for error in validator.iter_errors(result):
            path = list(error.absolute_path)
            if error.validator != "type" or not isinstance(error.instance, str) or not _has_path(command_line, path):
                continue
            wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
            try:
                value = yaml.safe_load(error.instance)
            except yaml.YAMLError:
                continue
            if any(
                kind in _TYPED_SCALARS
                and isinstance(value, _TYPED_SCALARS[kind])
                and not (kind in ("integer", "number") and isinstance(value, bool))
                for kind in wanted
            ):
                _set_at(result, path, value)
                changed = True
                break
        if not changed:
            return result
    return result


# YAML's spellings of null, which BaseLoader keeps as strings (`--config 'slurm={reservation: null}'`)
YAML_NULLS = ("null", "Null", "NULL", "~")


def _set_command_line_nulls(result: dict, command_line: Any, path: tuple = ()) -> None:
    """Every value of `command_line` spelled as YAML's null becomes None in `result` (no name of a
    reservation, account or file is `null`: a config file reads it as null too)."""
    if isinstance(command_line, dict):
        for key, value in command_line.items():
            _set_command_line_nulls(result, value, (*path, key))
    elif isinstance(command_line, str) and command_line in YAML_NULLS and _has_path(result, list(path)):
        _set_at(result, list(path), None)


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
    config = _fill_defaults(raw, schema, schema)
    preset_name = config.get("preset")
    # as written (the filled-in preset would carry every default, which would hide the task's keys)
    preset = (raw.get("presets") or {}).get(preset_name) or {} if preset_name else {}

    def resolved(name: str, model: str) -> dict:
        """The experiment `name` as written, with `model` as its model, over that model's preset."""
        overrides = deep_merge(
            preset.get("tasks", {}).get(config["models"][model]["task"], {}), preset.get("models", {}).get(model, {})
        )
        own = {**raw["experiments"][name], "model": model}
        return _fill_defaults(deep_merge(overrides, own), schema["$defs"]["experiment"], schema)

    config["experiments"] = {
        name: resolved(name, experiment["model"]) for name, experiment in config["experiments"].items()
    }
    errors = _sweep_errors(config)
    if not errors:  # each model of a sweep resolved as its own experiment would be (sweep_run_config)
        for sweep in config["sweeps"].values():
            sweep["runs"] = {model: resolved(sweep["experiment"], model) for model in sweep["models"]}
    errors += _semantic_errors(config)
    from hpcseq.cluster.resources import slurm_config_errors  # Slurm values reach shell scripts: check them all now

    errors += slurm_config_errors(config)
    if not errors:  # every value is valid: now the scaling study's runs on the cluster
        errors += _scaling_plan_errors(config)
    if errors:
        raise ConfigErrors(errors)
    for model in config["models"].values():
        model["layers"] = layers_of_their_kind(model["layers"])
    _fill_download_paths(config)
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


def parse_command_line_values(items: list[str] | None) -> dict:
    """`--config KEY=VALUE ...` read as Snakemake reads its `--config`: each VALUE as YAML, so
    `experiments={shakespeare_char_rnn: {ranks: 4}}` is a nested mapping; scalars stay strings
    until validate_config types them by the schema (`command_line`)."""
    values: dict = {}
    for item in items or []:
        key, separator, text = item.partition("=")
        if not separator or not key.strip():
            raise ConfigError(
                "--config",
                f"{item!r} is not KEY=VALUE (a config file is given with --configfile FILE, as in Snakemake)",
            )
        try:
            value = yaml.load(text, Loader=yaml.BaseLoader)  # strings, lists and dicts only
        except yaml.YAMLError as error:
            raise ConfigError(f"--config {key.strip()}", f"not valid YAML: {error}") from None
        values = deep_merge(values, {key.strip(): value})
    return values


def architecture_of(model: dict) -> dict:
    """What training builds a named model from (ARCHITECTURE_KEYS), without the keys that change
    nothing: each layer keeps only the keys of its kind. The recurrent models thus keep their
    settings, fingerprints and checkpoints (and Snakemake sees no change in them)."""
    architecture = {key: copy.deepcopy(model[key]) for key in ARCHITECTURE_KEYS if key in model}
    architecture["layers"] = layers_of_their_kind(architecture.get("layers", []))
    return architecture


def layers_of_their_kind(layers: list[dict]) -> list[dict]:
    """Each layer with only the keys its kind has: the schema fills every default into every layer
    (a recurrent layer would get the dense layers' activation), which would misdescribe it."""
    kept = []
    for layer in layers:
        dropped = NON_RECURRENT_KEYS if layer.get("cell") in RECURRENT_CELLS else tuple(RECURRENT_ONLY_KEYS)
        kept.append({key: value for key, value in layer.items() if key not in dropped})
    return kept


def experiment_task(config: dict, name: str) -> str:
    """The task of an experiment's named model (which decides its data format and stages)."""
    return config["models"][config["experiments"][name]["model"]]["task"]


def experiment_settings(config: dict, name: str) -> dict:
    """Everything one experiment's stages need, self-contained (dataset included)."""
    experiments = config["experiments"]
    if name not in experiments:
        valid = ", ".join(sorted(experiments))
        raise ConfigError("experiments", f"no experiment named {name!r}; defined: {valid}")
    experiment = copy.deepcopy(experiments[name])
    dataset_name = experiment["dataset"]
    model = config["models"][experiment["model"]]
    settings = {
        "name": name,
        "model": experiment["model"],
        "task": model["task"],
        # the recurrent stack the model is built from (training.models.build_model)
        "architecture": architecture_of(model),
        "ranks": experiment["ranks"],
        "preset": config.get("preset"),
        "preset_description": (config.get("presets", {}).get(config.get("preset")) or {}).get("description", ""),
        "dataset": {"name": dataset_name, **copy.deepcopy(config["datasets"][dataset_name])},
    }
    for stage in STAGES:
        settings[stage] = experiment.get(stage, {})
    return settings


def stage_settings(settings: dict, stage: str) -> dict:
    """The part of an experiment's settings one stage depends on (what Snakemake tracks as params).

    A stage reruns only when something it reads changes: preprocessing does not rerun when the
    number of epochs changes.
    """
    # the data stages depend on the task, not on which of its models trains on the data
    base = {"name": settings["name"], "task": settings["task"]}
    if stage == "preprocess":
        return {**base, "dataset": settings["dataset"], "preprocess": settings["preprocess"]}
    if stage == "vocabulary":
        return {**base, "vocabulary": settings["vocabulary"]}
    base["model"] = settings["model"]
    if stage == "train":
        return {
            **base,
            "ranks": settings["ranks"],
            "architecture": settings["architecture"],
            "hyperparameters": settings["hyperparameters"],
            "training": settings["training"],
            "preset": settings.get("preset"),
        }
    if stage == "evaluate":
        # preprocess: seed strings are cleaned like the corpus; split: reported with the metrics
        return {
            **base,
            "hyperparameters": settings["hyperparameters"],
            "evaluation": settings["evaluation"],
            "preprocess": settings["preprocess"],
        }
    raise ValueError(f"unknown stage {stage}")
