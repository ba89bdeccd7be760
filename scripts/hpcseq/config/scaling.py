"""The scaling study (`scaling:`): its experiments, each trained on several rank counts."""

from __future__ import annotations

import copy

from hpcseq.errors import ConfigError


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


def scaling_errors(config: dict) -> list[ConfigError]:
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
