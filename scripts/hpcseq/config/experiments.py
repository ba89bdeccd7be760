"""The experiments (`experiments:`): their checks beyond the schema, and the settings each stage reads.

experiment_settings holds everything an experiment's stages need; stage_settings the part of it one
stage reads, which Snakemake tracks (the stage reruns when it changes).
"""

from __future__ import annotations

import copy
import re

from hpcseq.config.datasets import experiment_dataset_errors
from hpcseq.config.models import architecture_of
from hpcseq.errors import ConfigError

STAGES = ("preprocess", "vocabulary", "hyperparameters", "training", "evaluation", "slurm")


def experiment_errors(name: str, experiment: dict, datasets: dict, models: dict) -> list[ConfigError]:
    """What the schema cannot say about one experiment: its name, its dataset, its data split, its
    global batch."""
    return [
        *_name_errors(name),
        *experiment_dataset_errors(name, experiment, datasets, models),
        *_preprocess_errors(name, experiment.get("preprocess", {})),
        *_batch_errors(name, experiment),
    ]


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
