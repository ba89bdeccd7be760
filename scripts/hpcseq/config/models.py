"""The named models (`models:`, the course's built in): their tasks, their layers, what training builds.

A model's task decides what it may be built from (an embedding for ids, convolutional layers for
series); architecture_of is what training builds it from.
"""

from __future__ import annotations

import copy

from hpcseq.config.files import deep_merge, load_schema
from hpcseq.config.schema import fill_defaults
from hpcseq.errors import ConfigError
from hpcseq.paths import TASK_STAGE_FORMAT

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

# Tasks that predict at every step of a sequence from the states of that step (a per-step
# sequence-to-sequence language model): a bidirectional layer there would read the characters it
# is to predict. Their last recurrent layer returns its whole sequence (training.models).
PER_STEP_TASKS: frozenset[str] = frozenset({"next_character_sequence"})
# Tasks whose data are a character stream (the same data stages: preprocess_text, vocabulary_characters).
CHARACTER_TASKS = ("next_character", "next_character_sequence")


def named_models(raw: dict | None = None) -> dict:
    """The course's named models (the schema's default of `models`) with a config's own entries
    merged in: a config adds models or changes a named one key by key."""
    built_in = copy.deepcopy(load_schema()["properties"]["models"]["default"])
    own = (raw or {}).get("models")
    return deep_merge(built_in, own) if isinstance(own, dict) else built_in


def filled_named_models(raw: dict | None = None) -> dict:
    """named_models with their schema defaults filled in: what training builds each from."""
    schema = load_schema()
    return fill_defaults(named_models(raw), schema["properties"]["models"], schema)


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
