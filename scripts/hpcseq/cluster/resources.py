"""What each stage of an experiment asks Slurm for on a cluster (JobPlan), as Snakemake Slurm
plugin resources; and every Slurm value of a config checked at validation time."""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass, field

from hpcseq.cluster.clusters import Cluster, Geometry, parse_cluster, training_geometry
from hpcseq.cluster.limits import account_problem, check_partition_limits, job_account, parse_limits
from hpcseq.cluster.options import sbatch_arguments, sbatch_options, site_options
from hpcseq.cluster.validators import ConfigChecks
from hpcseq.durations import format_time, time_seconds
from hpcseq.errors import ConfigError

# The stages that run as Slurm jobs, each with its own time limit (slurm.time.<stage>).
JOB_STAGES = ("preprocess", "vocabulary", "train", "evaluate")

# The resources of a stage for the Snakemake Slurm plugin, each always present: snakemake_resources
# and resources_without_cluster build exactly these, in this order (a unit test holds them to it).
_EVERY_STAGE = ("slurm_partition", "runtime", "slurm_account", "slurm_extra")
CPU_RESOURCE_KEYS = (*_EVERY_STAGE, "cpus_per_task")
TRAIN_RESOURCE_KEYS = (*_EVERY_STAGE, "nodes", "tasks_per_node", "cpus_per_task", "gres", "mpi")
# The plugin (2.8.0) adds `--qos=<value>` for a `qos` resource that is present, even empty
# (`--qos=''`), so that resource is declared only when a cluster run has a QoS.
QOS_RESOURCE = "qos"


def resource_keys(kind: str, config: dict | None = None) -> tuple[str, ...]:
    """The resources a rule declares for a kind of job (JOB_KINDS; the workflow asks
    stage_resources for each): those of every run, and `qos` where the config's cluster run gives
    that job one (slurm.qos, slurm.qos_stages)."""
    keys = TRAIN_RESOURCE_KEYS if "train" in JOB_KINDS[kind] else CPU_RESOURCE_KEYS
    in_cluster_run = bool(config) and config.get("cluster") is not None
    if in_cluster_run and job_site_options(config["slurm"], kind).get("qos"):
        keys += (QOS_RESOURCE,)
    return keys


def undefined_cluster(name: str, clusters) -> ConfigError:
    """The config's `cluster` names none of its `clusters`."""
    return ConfigError(
        "cluster", f"{name!r} is not defined under `clusters`; defined: {', '.join(sorted(clusters)) or '(none)'}"
    )


# A generated data job (`hpcseq sbatch --data-only`) runs these stages one after the other.
DATA_JOB_STAGES = ("preprocess", "vocabulary")
# The kinds of job a plan is made for, and the stages each runs: a stage in a job of its own; the
# data job; training with evaluation as its last step (the profile on clusters.<name>.
# evaluate_in_training_job). A generated job script is planned as "train": its time is training's.
JOB_KINDS = {
    **{stage: (stage,) for stage in JOB_STAGES},
    "data": DATA_JOB_STAGES,
    "train_and_evaluate": ("train", "evaluate"),
}


def timed_stages(kind: str) -> tuple[str, ...]:
    """The stages whose time limits make a job's: a job that trains has training's limit, the
    steps around it included (as a generated job script has it: the partition's limit then bounds
    training's setting alone); a data job the sum of its stages'."""
    return ("train",) if "train" in JOB_KINDS[kind] else JOB_KINDS[kind]


def stage_time(config: dict, experiment: str, kind: str) -> int:
    """Seconds: the time limit of a job (timed_stages), training's the experiment's own
    slurm.time where it has one, else the site's per-stage limit."""
    own = config["experiments"][experiment].get("slurm", {})
    seconds = 0
    for stage in timed_stages(kind):
        own_time = own.get("time") if stage == "train" else None
        seconds += time_seconds(own_time if own_time is not None else config["slurm"]["time"][stage])
    return seconds


def _time_key(experiment: str, kind: str) -> str:
    """The config key(s) a job's time limit comes from, for messages."""
    own = f"experiments.{experiment}.slurm.time"
    return " + ".join(own if stage == "train" else f"slurm.time.{stage}" for stage in timed_stages(kind))


def job_site_options(slurm: dict, kind: str) -> dict:
    """The site options of a job (account, reservation, QoS, mail): a reservation and a QoS only
    for a job that runs a stage of slurm.reservation_stages (qos_stages); the budget of every job
    (slurm.account, else $SBATCH_ACCOUNT: handed over explicitly)."""
    site = site_options(slurm)
    stages = JOB_KINDS[kind]
    for option in ("reservation", "qos"):
        if not set(stages) & set(slurm[f"{option}_stages"]):
            site.pop(option, None)
    account = job_account(site)
    if account:
        site["account"] = account
    return site


def config_cluster(config: dict) -> Cluster | None:
    """The cluster the config's runs submit to (`cluster`), parsed; None without one (or with a
    name that no definition has: validation reports that)."""
    name = config.get("cluster")
    if name is None or name not in config.get("clusters", {}):
        return None
    return parse_cluster(name, config["clusters"][name])


def profile_job_kind(config: dict, stage: str) -> str:
    """The kind of job (JOB_KINDS) a stage's rule submits under the profile on the config's cluster:
    training's is "train_and_evaluate" where that cluster evaluates in the training job
    (clusters.<name>.evaluate_in_training_job); every other stage's its own."""
    cluster = config_cluster(config)
    if stage != "train" or cluster is None:
        return stage
    return "train_and_evaluate" if cluster.evaluate_in_training_job else "train"


def profile_jobs(config: dict) -> dict[str, str | None]:
    """Where each stage runs under `--profile slurm` on the config's cluster: the kind of Slurm job
    it is part of (JOB_KINDS), or None on the machine that runs Snakemake (the login node)."""
    cluster = config_cluster(config)
    if cluster is None:
        raise ConfigError("cluster", "no cluster chosen: the jobs are those of a cluster (--config cluster=NAME)")
    training = profile_job_kind(config, "train")
    where: dict[str, str | None] = {}
    for stage in JOB_STAGES:
        if stage in DATA_JOB_STAGES and cluster.light_stages_on_login_node:
            where[stage] = None
        elif stage in JOB_KINDS[training]:
            where[stage] = training
        else:
            where[stage] = stage
    return where


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

    @property
    def gres(self) -> str | None:
        """The GPUs of each node as a GRES request (gpu:4); None for a job without GPUs."""
        if self.geometry is None or not self.geometry.gpus_per_node:
            return None
        return f"{self.cluster.gres_name}:{self.geometry.gpus_per_node}"

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
                gres=self.gres,
            )
        return sbatch_options(values)


def plan_job(config: dict, cluster_name: str, experiment: str, kind: str) -> JobPlan:
    """What a job of one experiment asks Slurm for on a cluster; kind: one of JOB_KINDS."""
    clusters = config["clusters"]
    if cluster_name not in clusters:
        raise undefined_cluster(cluster_name, clusters)
    cluster = parse_cluster(cluster_name, clusters[cluster_name])
    limits = parse_limits(cluster_name, clusters[cluster_name])
    own = config["experiments"][experiment].get("slurm", {})
    site = job_site_options(config["slurm"], kind)
    trains = "train" in JOB_KINDS[kind]
    if trains:
        role, partition_key = own.get("partition", "gpu"), f"experiments.{experiment}.slurm.partition"
        ranks, ranks_key = config["experiments"][experiment]["ranks"], f"experiments.{experiment}.ranks"
        geometry = training_geometry(cluster, ranks, ranks_key, bool(own.get("allow_partial_node")))
        nodes = (geometry.nodes, ranks, ranks_key)
    else:
        role, geometry, nodes = "cpu", None, None
        partition_key = f"clusters.{cluster_name}.partitions.cpu"
    partition = cluster.partition(role, partition_key)
    seconds = stage_time(config, experiment, kind)
    where = (cluster_name, role, partition)
    check_partition_limits(limits, cluster.max_time, where, (seconds, _time_key(experiment, kind)), nodes)
    extra: dict = {}
    if cluster.threads_per_core:  # every job of the cluster: with 1, --cpus-per-task counts physical cores
        extra["threads_per_core"] = cluster.threads_per_core
    signal_seconds = config["slurm"].get("signal_seconds_before_limit")
    if trains and signal_seconds:
        # for Snakemake jobs to the job steps (the training ranks); generated scripts use B: and forward it
        extra["signal"] = f"USR1@{int(signal_seconds)}"
    return JobPlan(cluster, kind, partition, seconds, geometry, site, extra)


# The smoke test of a software route (`hpcseq smoke-test`): a short job on two whole nodes of the
# development partition (the GPU partition where a cluster has none), one rank per GPU.
SMOKE_TIME_SECONDS = 600
SMOKE_NODES = 2


def smoke_plan(config: dict, cluster_name: str) -> JobPlan:
    """What the smoke test asks for on a cluster: the checks of every job (a budget where one is
    required, the partition's time and node limits), on SMOKE_NODES whole nodes."""
    clusters = config["clusters"]
    if cluster_name not in clusters:
        raise undefined_cluster(cluster_name, clusters)
    problem = account_problem(config, cluster_name)
    if problem:
        raise problem
    cluster = parse_cluster(cluster_name, clusters[cluster_name])
    limits = parse_limits(cluster_name, clusters[cluster_name])
    site = site_options(config["slurm"])
    account = job_account(site)
    if account:
        site["account"] = account
    role = "gpu_devel" if cluster.partitions.get("gpu_devel") else "gpu"
    partition = cluster.partition(role, f"clusters.{cluster_name}.partitions.{role}")
    ranks = SMOKE_NODES * cluster.gpus_per_node
    geometry = training_geometry(cluster, ranks, "smoke-test")
    where = (cluster_name, role, partition)
    check_partition_limits(
        limits, cluster.max_time, where, (SMOKE_TIME_SECONDS, "smoke-test"), (SMOKE_NODES, ranks, "smoke-test")
    )
    extra = {"threads_per_core": cluster.threads_per_core} if cluster.threads_per_core else {}
    return JobPlan(cluster, "smoke-test", partition, SMOKE_TIME_SECONDS, geometry, site, extra)


# The site options the plugin (2.8.0) takes as resources of each job, never in slurm_extra (its
# validation.py refuses --account and --qos there): the account as `slurm_account` (the plugin
# checks it against sacctmgr and passes -A), the QoS as `qos` (submit_string.py: --qos=). A
# reservation has no per-job resource in the plugin, only its per-run setting --slurm-reservation,
# which a config cannot set; validation.py does not forbid --reservation in slurm_extra, so it goes
# there per job, as mail_user and mail_type do.
PLUGIN_SITE_OPTIONS = ("account", "qos")


def _runtime_minutes(seconds: int) -> int:
    return max(1, math.ceil(seconds / 60))


def snakemake_resources(plan: JobPlan) -> dict:
    """Resources for the Snakemake Slurm plugin (2.8.0): resource_keys(stage), in order ("" = unset).

    Training asks for nodes, tasks_per_node and gres and sets `mpi`, never `tasks`: with a GPU
    gres the plugin turns `tasks` into --ntasks-per-gpu (`gres=gpu:2, tasks=2` asked for 4 tasks
    on 2 nodes and stayed pending forever). With `mpi` the plugin leaves starting the ranks to the
    rule (hpcseq launch -> srun). A single rank has `mpi` empty, since the plugin refuses an MPI job
    of one task; its jobstep plugin (0.6.1) then still runs the rule directly in the batch step (it
    asks only whether the key exists), so the rule starts that rank with srun too (the train rule's
    params.srun, workflow/rules/common.smk): a job step, which Slurm's time-limit warning reaches.
    """
    extras = sbatch_arguments({k: v for k, v in plan.site.items() if k not in PLUGIN_SITE_OPTIONS})
    extras += sbatch_arguments(plan.extra)
    resources: dict = {
        "slurm_partition": plan.partition,
        "runtime": _runtime_minutes(plan.time_seconds),
        "slurm_account": plan.site.get("account", ""),
        "slurm_extra": shlex.join(extras) if extras else "",
    }
    geometry = plan.geometry
    if geometry is None:
        resources["cpus_per_task"] = 1
    else:
        resources.update(
            nodes=geometry.nodes,
            tasks_per_node=geometry.tasks_per_node,
            cpus_per_task=geometry.cpus_per_task,
            gres=plan.gres or "",
            mpi=plan.cluster.srun_line() if geometry.ranks > 1 else "",
        )
    if plan.site.get("qos"):
        resources[QOS_RESOURCE] = plan.site["qos"]
    return resources


def resources_without_cluster(config: dict, experiment: str, kind: str) -> dict:
    """Resources when the config names no cluster (local runs only): one node, one task per rank."""
    resources: dict = {
        "slurm_partition": "",
        "runtime": _runtime_minutes(stage_time(config, experiment, kind)),
        "slurm_account": "",
        "slurm_extra": "",
    }
    if "train" in JOB_KINDS[kind]:
        ranks = config["experiments"][experiment]["ranks"]
        resources.update(nodes=1, tasks_per_node=ranks, cpus_per_task=1, gres="", mpi="srun" if ranks > 1 else "")
    else:
        resources["cpus_per_task"] = 1
    return resources


def stage_resources(config: dict, experiment: str, kind: str) -> dict:
    """The resources of a kind of job (JOB_KINDS; a rule's: profile_job_kind) on the config's cluster."""
    if config.get("cluster") is None:
        return resources_without_cluster(config, experiment, kind)
    return snakemake_resources(plan_job(config, config["cluster"], experiment, kind))


# --------------------------------------------------------------------------- config validation


def slurm_config_errors(config: dict) -> list[ConfigError]:
    """Every Slurm-related value of a resolved config checked at once (clusters, site settings,
    time limits; and each experiment's partition, time and geometry on the cluster in use), so that
    a bad value is reported by key at validation time rather than when a job is submitted."""
    checks = ConfigChecks()
    _check_clusters(config, checks)
    checks.call(site_options, config.get("slurm", {}))
    _check_time_limits(config, checks)
    if not checks.errors:  # every value is valid on its own: now the plans that combine them
        _check_job_plans(config, checks)
    return checks.errors


def _check_clusters(config: dict, checks: ConfigChecks) -> None:
    """Each cluster definition, and that the cluster the config names is one of them."""
    clusters = config.get("clusters", {})
    for name, raw in clusters.items():
        checks.call(parse_cluster, name, raw)
    chosen = config.get("cluster")
    if chosen is not None and chosen not in clusters:
        checks.errors.append(undefined_cluster(chosen, clusters))


def _check_time_limits(config: dict, checks: ConfigChecks) -> None:
    """The site's time limit of each stage, and each experiment's own training time limit."""
    for stage, value in config.get("slurm", {}).get("time", {}).items():
        checks.value(time_seconds, value, f"slurm.time.{stage}")
    for name, experiment in config.get("experiments", {}).items():
        checks.optional(time_seconds, experiment.get("slurm", {}).get("time"), f"experiments.{name}.slurm.time")


def _check_job_plans(config: dict, checks: ConfigChecks) -> None:
    """Every stage of every experiment on the cluster that will run them (the config's `cluster`):
    partitions, time limits, geometries. Other clusters' limits do not constrain this run, and a
    run without a cluster (stages on this machine) has none."""
    cluster_name = config.get("cluster")
    if cluster_name is None:
        return
    found = ConfigChecks()
    problem = account_problem(config, cluster_name)
    if problem:
        found.errors.append(problem)
    kinds = (*JOB_STAGES, profile_job_kind(config, "train"))  # each stage alone, for job scripts too
    for experiment in config.get("experiments", {}):
        for kind in dict.fromkeys(kinds):
            found.call(plan_job, config, cluster_name, experiment, kind)
    checks.errors += _once_each(found.errors)


def _once_each(errors: list[ConfigError]) -> list[ConfigError]:
    """Each problem once, in order: one that every job shares (a bad $SBATCH_ACCOUNT) is one problem."""
    return list({str(error): error for error in errors}.values())


def job_script_problems(config: dict, cluster_name: str, experiment: str) -> list[ConfigError]:
    """Why an experiment's job script cannot be written for a cluster (no budget where it needs one;
    its partition, time or node limits or rank count do not fit there); [] when it can."""
    checks = ConfigChecks()
    problem = account_problem(config, cluster_name)
    if problem:
        checks.errors.append(problem)
    for stage in JOB_STAGES:
        checks.call(plan_job, config, cluster_name, experiment, stage)
    return _once_each(checks.errors)


def training_interpreter(config: dict, cluster_name: str | None) -> str:
    """The training interpreter of jobs on a cluster: the cluster's own, else the config's."""
    raw = config.get("clusters", {}).get(cluster_name) if cluster_name else None
    own = parse_cluster(cluster_name, raw).training_python if raw else None
    return own or config["training_python"]
