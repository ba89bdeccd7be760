"""What each stage of an experiment asks Slurm for on a cluster (JobPlan), as Snakemake Slurm
plugin resources; and every Slurm value of a config checked at validation time."""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass, field

from hpcseq.cluster.clusters import Cluster, Geometry, parse_cluster, training_geometry
from hpcseq.cluster.options import sbatch_arguments, sbatch_options, site_options
from hpcseq.durations import format_time, time_seconds
from hpcseq.errors import ConfigError, ConfigErrors


def stage_time(config: dict, experiment: str, stage: str) -> int:
    """Seconds: the experiment's own slurm.time for training, else the site's per-stage limit."""
    own = config["experiments"][experiment].get("slurm", {})
    if stage == "train" and own.get("time") is not None:
        return time_seconds(own["time"])
    return time_seconds(config["slurm"]["time"][stage])


@dataclass
class JobPlan:
    """What one stage of one experiment asks Slurm for, on one cluster."""

    cluster: Cluster
    stage: str
    partition: str
    time_seconds: int
    geometry: Geometry | None
    site: dict
    extra: dict = field(default_factory=dict)

    def options(self, job_name: str | None = None, output: str | None = None, error: str | None = None) -> dict:
        values: dict = {
            "job_name": job_name,
            "output": output,
            "error": error,
            "time": format_time(self.time_seconds),
            "partition": self.partition,
            **self.site,
            **self.extra,
        }
        if self.geometry is not None:
            values.update(
                nodes=self.geometry.nodes,
                ntasks_per_node=self.geometry.tasks_per_node,
                cpus_per_task=self.geometry.cpus_per_task,
            )
            if self.geometry.gpus_per_node:
                values["gres"] = f"{self.cluster.gres_name}:{self.geometry.gpus_per_node}"
        return sbatch_options(values)


def plan_job(config: dict, cluster_name: str, experiment: str, stage: str) -> JobPlan:
    clusters = config["clusters"]
    if cluster_name not in clusters:
        raise ConfigError(
            "cluster", f"{cluster_name!r} is not defined under `clusters`; defined: {', '.join(sorted(clusters))}"
        )
    cluster = parse_cluster(cluster_name, clusters[cluster_name])
    own = config["experiments"][experiment].get("slurm", {})
    site = site_options(config["slurm"])
    if stage == "train":
        role = own.get("partition", "gpu")
        geometry = training_geometry(
            cluster, config["experiments"][experiment]["ranks"], f"experiments.{experiment}.ranks"
        )
    else:
        role, geometry = "cpu", None
    partition = cluster.partition(
        role,
        f"experiments.{experiment}.slurm.partition" if stage == "train" else f"clusters.{cluster_name}.partitions.cpu",
    )
    seconds = stage_time(config, experiment, stage)
    limit = cluster.max_time.get(role)
    if limit is not None and seconds > limit:
        raise ConfigError(
            f"experiments.{experiment}.slurm.time" if stage == "train" else f"slurm.time.{stage}",
            f"{format_time(seconds)} is above the {format_time(limit)} limit of partition {partition} "
            f"on {cluster_name}",
        )
    extra = {}
    signal_seconds = config["slurm"].get("signal_seconds_before_limit")
    if stage == "train" and signal_seconds:
        # for Snakemake jobs to the job steps (the training ranks); generated scripts use B: and forward it
        extra["signal"] = f"USR1@{int(signal_seconds)}"
    return JobPlan(cluster, stage, partition, seconds, geometry, site, extra)


TRAIN_RESOURCE_KEYS = (
    "slurm_partition",
    "runtime",
    "slurm_account",
    "slurm_extra",
    "nodes",
    "tasks_per_node",
    "cpus_per_task",
    "gres",
    "mpi",
)
CPU_RESOURCE_KEYS = ("slurm_partition", "runtime", "slurm_account", "slurm_extra", "cpus_per_task")


def snakemake_resources(plan: JobPlan) -> dict:
    """Resources for the Snakemake Slurm plugin (2.8.0); every key of the stage is present ("" = unset).

    Training asks for nodes, tasks_per_node and gres and sets `mpi`, never `tasks`: with a GPU
    gres the plugin turns `tasks` into --ntasks-per-gpu (STACK.md: `gres=gpu:2, tasks=2` asked for
    4 tasks on 2 nodes and stayed pending forever). With `mpi` the plugin leaves starting the
    ranks to the rule (hpcseq launch -> srun); a single rank has no `mpi`, the plugin then runs
    the rule inside its own `srun -n1`.
    """
    extras = sbatch_arguments({k: v for k, v in plan.site.items() if k != "account"})
    extras += sbatch_arguments(plan.extra)
    resources: dict = {
        "slurm_partition": plan.partition,
        "runtime": max(1, math.ceil(plan.time_seconds / 60)),
        "slurm_account": plan.site.get("account", ""),
        "slurm_extra": shlex.join(extras) if extras else "",
    }
    if plan.geometry is not None:
        geometry = plan.geometry
        resources.update(
            nodes=geometry.nodes,
            tasks_per_node=geometry.tasks_per_node,
            cpus_per_task=geometry.cpus_per_task,
            gres=f"{plan.cluster.gres_name}:{geometry.gpus_per_node}",
            mpi=plan.cluster.srun_line() if geometry.ranks > 1 else "",
        )
    else:
        resources["cpus_per_task"] = 1
    return resources


def resources_without_cluster(config: dict, experiment: str, stage: str) -> dict:
    """Resources when the config names no cluster (local runs only): one node, one task per rank."""
    ranks = config["experiments"][experiment]["ranks"] if stage == "train" else 1
    resources = {
        "slurm_partition": "",
        "runtime": max(1, math.ceil(stage_time(config, experiment, stage) / 60)),
        "slurm_account": "",
        "slurm_extra": "",
        "cpus_per_task": 1,
    }
    if stage == "train":
        resources.update(nodes=1, tasks_per_node=ranks, gres="", mpi="srun" if ranks > 1 else "")
    return resources


def stage_resources(config: dict, experiment: str, stage: str) -> dict:
    if config.get("cluster") is None:
        return resources_without_cluster(config, experiment, stage)
    return snakemake_resources(plan_job(config, config["cluster"], experiment, stage))


def slurm_config_errors(config: dict) -> list[ConfigError]:
    """Every Slurm-related value of a resolved config checked at once (clusters, site settings,
    per-experiment partitions, times and geometries), so that a bad value is reported by key at
    validation time rather than when a script is rendered or a job submitted."""
    errors: list[ConfigError] = []

    def collect(function, *args):
        try:
            return function(*args)
        except ConfigErrors as many:
            errors.extend(many.errors)
        except ConfigError as one:
            errors.append(one)
        return None

    clusters = {name: collect(parse_cluster, name, raw) for name, raw in config.get("clusters", {}).items()}
    if config.get("cluster") is not None and config.get("cluster") not in clusters:
        errors.append(
            ConfigError(
                "cluster",
                f"{config.get('cluster')!r} is not defined under `clusters`; defined: "
                f"{', '.join(sorted(clusters)) or '(none)'}",
            )
        )
    collect(site_options, config.get("slurm", {}))
    for stage, value in config.get("slurm", {}).get("time", {}).items():
        try:
            time_seconds(value)
        except ValueError as problem:
            errors.append(ConfigError(f"slurm.time.{stage}", str(problem)))
    for name, experiment in config.get("experiments", {}).items():
        own = experiment.get("slurm", {})
        if own.get("time") is not None:
            try:
                time_seconds(own["time"])
            except ValueError as problem:
                errors.append(ConfigError(f"experiments.{name}.slurm.time", str(problem)))
    if errors:
        return errors
    for cluster_name in clusters:
        for name in config.get("experiments", {}):
            for stage in ("preprocess", "vocabulary", "train", "evaluate"):
                collect(plan_job, config, cluster_name, name, stage)
    return errors


def training_interpreter(config: dict, cluster_name: str | None) -> str:
    """The training interpreter of jobs on a cluster: the cluster's own, else the config's."""
    own = (config.get("clusters", {}).get(cluster_name) or {}).get("training_python") if cluster_name else None
    return own or config["training_python"]
