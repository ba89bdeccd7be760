"""The sweeps (`sweeps:`): one experiment trained once with each of several named models."""

from __future__ import annotations

from hpcseq.errors import ConfigError


def sweep_errors(config: dict) -> list[ConfigError]:
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
