"""The config's cluster and Slurm values, checked by hpcseq.cluster, which knows what each cluster allows.

The values: `cluster:`, `slurm:`, `clusters:`, an experiment's and the scaling study's `slurm:`.

hpcseq.config sits above hpcseq.cluster: this module asks cluster/ to check the values, and
nothing in cluster/ may import hpcseq.config (it reads the resolved config as a mapping).
"""

from __future__ import annotations

from hpcseq.cluster.resources import plan_job, slurm_config_errors
from hpcseq.config.scaling import scaling_run_config
from hpcseq.errors import ConfigError


def cluster_errors(config: dict, earlier: list[ConfigError]) -> list[ConfigError]:
    """What hpcseq.cluster finds wrong in a resolved config (`earlier`: what the other checks found):
    its Slurm values, then whether, on the config's cluster, every run of the scaling study gets
    nodes as training would (one rank per GPU, whole nodes beyond one) and fits its partition's
    time limit."""
    errors = slurm_config_errors(config)  # Slurm values reach shell scripts: check them all now
    cluster = config.get("cluster")
    if earlier or errors or cluster is None:
        return errors
    # every value is valid: now the scaling study's runs on the cluster
    found: dict[str, ConfigError] = {}  # once each, not once per rank count
    for name in config["scaling"]["experiments"]:
        for ranks in config["scaling"]["ranks"]:
            try:
                plan_job(scaling_run_config(config, name, ranks), cluster, name, "train")
            except ConfigError as error:
                key = "scaling.ranks" if error.key.endswith(".ranks") else error.key
                error = ConfigError(key.replace(f"experiments.{name}.slurm.", "scaling.slurm."), error.detail)
                found.setdefault(str(error), error)
    return list(found.values())
