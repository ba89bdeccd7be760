"""Slurm: typed sbatch options, cluster definitions, job scripts, and the Snakemake resources.

Everything that ends up in a generated script or on an sbatch/srun command line passes through
this module. Each sbatch option is defined once (SBATCH_OPTIONS: name, flag, type, validator);
values are checked against what Slurm accepts and rejected with the config key that holds them;
unknown options are rejected with the list of valid ones. Rendering is a pure, deterministic
function of its inputs, and every value is shell-quoted, so a job name such as `x; rm -rf ~`
or `$(id)` never reaches a shell as code: it is refused, or at worst quoted as a literal.
"""

from __future__ import annotations

import math
import re
import shlex
from dataclasses import dataclass, field
from typing import Any, Callable

from hpcseq.errors import ConfigError, ConfigErrors
from hpcseq.training_state import REQUEUE_EXIT_CODE  # training checkpointed on SIGUSR1: continue later

# --------------------------------------------------------------------------------- validators

SLURM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$")
MODULE_NAME = re.compile(r"^(?!.*\.\.)[A-Za-z0-9_][A-Za-z0-9_./+:-]{0,127}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
GRES = re.compile(r"^[a-z][a-z0-9_]*(:[A-Za-z0-9_.]+)?:[1-9][0-9]{0,2}$")
LOG_PATTERN = re.compile(r"^[A-Za-z0-9_./%+-]{1,255}$")
SRUN_FLAG = re.compile(r"^--?[a-z][a-z0-9-]*(=[A-Za-z0-9_.,:/+@-]+)?$")
SIGNAL = re.compile(r"^(B:)?(USR1|USR2|TERM|INT|HUP|URG|CONT|QUIT)@([0-9]{1,5})$")
DEPENDENCY = re.compile(r"^(singleton|(after|afterok|afterany|afternotok|aftercorr)(:[0-9]+(\+[0-9]+)?)+)$")
MAIL_TYPES = {"NONE", "BEGIN", "END", "FAIL", "REQUEUE", "ALL", "INVALID_DEPEND", "STAGE_OUT", "TIME_LIMIT",
              "TIME_LIMIT_90", "TIME_LIMIT_80", "TIME_LIMIT_50", "ARRAY_TASKS"}
TIME_FORMATS = (
    re.compile(r"^(?P<m>\d+)$"),
    re.compile(r"^(?P<m>\d+):(?P<s>\d{1,2})$"),
    re.compile(r"^(?P<h>\d+):(?P<m>\d{1,2}):(?P<s>\d{1,2})$"),
    re.compile(r"^(?P<d>\d+)-(?P<h>\d{1,2})$"),
    re.compile(r"^(?P<d>\d+)-(?P<h>\d{1,2}):(?P<m>\d{1,2})$"),
    re.compile(r"^(?P<d>\d+)-(?P<h>\d{1,2}):(?P<m>\d{1,2}):(?P<s>\d{1,2})$"),
)


def _printable(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "...'"


def slurm_name(value: Any) -> str:
    """Partition, account, reservation, QoS and job names: letters, digits, _ . + - ."""
    if not isinstance(value, str) or not SLURM_NAME.fullmatch(value):
        raise ValueError(f"{_printable(value)} is not a valid Slurm name (letters, digits, '_', '.', '+', '-'; "
                         "it must start with a letter or digit; at most 128 characters)")
    return value


def positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{_printable(value)} is not a whole number >= 1")
    return value


def time_seconds(value: Any) -> int:
    """Seconds of a Slurm time limit in any format sbatch accepts ("90", "1:30:00", "2-12", ...)."""
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    for pattern in TIME_FORMATS if text else ():
        match = pattern.fullmatch(text)
        if match:
            parts = {key: int(number) for key, number in match.groupdict().items() if number is not None}
            seconds = parts.get("d", 0) * 86400 + parts.get("h", 0) * 3600 + parts.get("m", 0) * 60 + parts.get("s", 0)
            if seconds <= 0:
                break
            return seconds
    raise ValueError(f"{_printable(value)} is not a Slurm time limit (minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM "
                     "or D-HH:MM:SS, above zero)")


def format_time(seconds: int) -> str:
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}-{clock}" if days else clock


def slurm_time(value: Any) -> str:
    return format_time(time_seconds(value))


def email(value: Any) -> str:
    if not isinstance(value, str) or not EMAIL.fullmatch(value):
        raise ValueError(f"{_printable(value)} is not an e-mail address")
    return value


def mail_type(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{_printable(value)} is not a mail type list")
    kinds = [kind.strip().upper() for kind in value.split(",")]
    unknown = [kind for kind in kinds if kind not in MAIL_TYPES]
    if unknown:
        raise ValueError(f"{', '.join(map(repr, unknown))} not among {', '.join(sorted(MAIL_TYPES))}")
    return ",".join(kinds)


def gres(value: Any) -> str:
    if not isinstance(value, str) or not GRES.fullmatch(value):
        raise ValueError(f"{_printable(value)} is not a GRES request like gpu:4 or gpu:a100:4")
    return value


def log_pattern(value: Any) -> str:
    if not isinstance(value, str) or not LOG_PATTERN.fullmatch(value) or ".." in value.split("/"):
        raise ValueError(f"{_printable(value)} is not a log file pattern (letters, digits, '_', '.', '/', '%', "
                         "'+', '-'; Slurm replaces %j by the job id)")
    return value


def signal_spec(value: Any) -> str:
    if not isinstance(value, str) or not SIGNAL.fullmatch(value):
        raise ValueError(f"{_printable(value)} is not a --signal value like B:USR1@120 or USR1@120")
    return value


def open_mode(value: Any) -> str:
    if value not in ("append", "truncate"):
        raise ValueError(f"{_printable(value)} is not append or truncate")
    return value


def dependency(value: Any) -> str:
    if not isinstance(value, str) or not DEPENDENCY.fullmatch(value):
        raise ValueError(f"{_printable(value)} is not a --dependency value like afterok:12345")
    return value


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{_printable(value)} is not true or false")
    return value


def srun_flag(value: Any) -> str:
    if not isinstance(value, str) or not SRUN_FLAG.fullmatch(value):
        raise ValueError(f"{_printable(value)} is not an srun flag like --cpu-bind=none or --mpi=pmix")
    return value


def module_name(value: Any) -> str:
    if not isinstance(value, str) or not MODULE_NAME.fullmatch(value):
        raise ValueError(f"{_printable(value)} is not a module name (letters, digits, '_', '.', '/', '+', ':', '-')")
    return value


def env_name(value: Any) -> str:
    if not isinstance(value, str) or not ENV_NAME.fullmatch(value):
        raise ValueError(f"{_printable(value)} is not an environment variable name")
    return value


def env_value(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"{_printable(value)} is not a string or number")
    text = str(value)
    if "\n" in text or "\r" in text or "\0" in text:
        raise ValueError("environment values must be one line")
    return text


def path_value(value: Any) -> str:
    """A path: any single line. Rendered quoted; a leading ~/ or $HOME/ stays expandable."""
    if not isinstance(value, str) or not value or "\n" in value or "\r" in value or "\0" in value:
        raise ValueError(f"{_printable(value)} is not a path on one line")
    return value


def quote_path(path: str) -> str:
    """Shell-quote a path but let a leading ~/ or $HOME/ expand: "$HOME"/'rest'."""
    for prefix in ("~/", "$HOME/", "${HOME}/"):
        if path.startswith(prefix):
            rest = path[len(prefix):]
            return '"$HOME"/' + shlex.quote(rest) if rest else '"$HOME"'
    return shlex.quote(path)


# ----------------------------------------------------------------------------- sbatch options

@dataclass(frozen=True)
class Option:
    name: str
    flag: str
    check: Callable[[Any], Any]
    help: str


SBATCH_OPTIONS: tuple[Option, ...] = (
    Option("job_name", "--job-name", slurm_name, "name shown by squeue and used in log file names"),
    Option("output", "--output", log_pattern, "stdout file; %j is the job id"),
    Option("error", "--error", log_pattern, "stderr file; %j is the job id"),
    Option("time", "--time", slurm_time, "time limit"),
    Option("partition", "--partition", slurm_name, "partition"),
    Option("nodes", "--nodes", positive_int, "number of nodes"),
    Option("ntasks_per_node", "--ntasks-per-node", positive_int, "tasks (ranks) per node"),
    Option("cpus_per_task", "--cpus-per-task", positive_int, "CPUs per task"),
    Option("gres", "--gres", gres, "generic resources per node, e.g. gpu:4"),
    Option("account", "--account", slurm_name, "account (budget) to charge"),
    Option("reservation", "--reservation", slurm_name, "reservation to run in"),
    Option("qos", "--qos", slurm_name, "quality of service"),
    Option("mail_user", "--mail-user", email, "address for job mails"),
    Option("mail_type", "--mail-type", mail_type, "events that send a mail, e.g. END,FAIL"),
    Option("signal", "--signal", signal_spec, "signal sent before the time limit"),
    Option("requeue", "--requeue", boolean, "allow Slurm to requeue the job"),
    Option("open_mode", "--open-mode", open_mode, "append keeps the output of every run of a requeued job"),
    Option("dependency", "--dependency", dependency, "start only after other jobs, e.g. afterok:12345"),
)
OPTION_BY_NAME = {option.name: option for option in SBATCH_OPTIONS}


def sbatch_options(values: dict, key_prefix: str = "sbatch") -> dict:
    """Validate and normalise sbatch options; None means 'not set'. Raises ConfigErrors."""
    errors, result = [], {}
    for name, value in values.items():
        option = OPTION_BY_NAME.get(name)
        if option is None:
            valid = ", ".join(o.name for o in SBATCH_OPTIONS)
            errors.append(ConfigError(f"{key_prefix}.{name}", f"unknown sbatch option; valid options are: {valid}"))
            continue
        if value is None:
            continue
        try:
            result[name] = option.check(value)
        except ValueError as problem:
            errors.append(ConfigError(f"{key_prefix}.{name}", str(problem)))
    if errors:
        raise ConfigErrors(errors)
    return result


def render_directives(options: dict) -> list[str]:
    """`#SBATCH` lines in the fixed order of SBATCH_OPTIONS (deterministic output)."""
    lines = []
    for option in SBATCH_OPTIONS:
        if option.name not in options:
            continue
        value = options[option.name]
        if isinstance(value, bool):
            if value:
                lines.append(f"#SBATCH {option.flag}")
            continue
        lines.append(f"#SBATCH {option.flag}={shlex.quote(str(value))}")
    return lines


def sbatch_arguments(options: dict) -> list[str]:
    """The same options as command-line arguments (for sbatch, or the Snakemake plugin's slurm_extra)."""
    arguments = []
    for option in SBATCH_OPTIONS:
        if option.name in options:
            value = options[option.name]
            if isinstance(value, bool):
                if value:
                    arguments.append(option.flag)
            else:
                arguments.append(f"{option.flag}={value}")
    return arguments


# ------------------------------------------------------------------------------------ clusters

@dataclass(frozen=True)
class Cluster:
    name: str
    description: str
    partitions: dict
    gpus_per_node: int
    cpus_per_node: int
    cpus_per_task: int
    gres_name: str
    srun_flags: tuple
    purge_modules: bool
    module_restore: str | None
    modules: tuple
    venv: str | None
    environment: tuple  # ((name, value), ...) in config order
    max_time: dict
    training_python: str | None = None  # the interpreter after the setup; None: the config's

    def partition(self, role: str, key: str) -> str:
        name = self.partitions.get(role)
        if not name:
            valid = ", ".join(sorted(k for k, v in self.partitions.items() if v))
            raise ConfigError(key, f"cluster {self.name} has no {role!r} partition; it has: {valid}")
        return name

    def srun_line(self) -> str:
        return shlex.join(["srun", *self.srun_flags])


def parse_cluster(name: str, raw: dict) -> Cluster:
    key = f"clusters.{name}"
    errors: list[ConfigError] = []

    def checked(check, value, subkey):
        try:
            return check(value)
        except ValueError as problem:
            errors.append(ConfigError(f"{key}.{subkey}", str(problem)))
            return None

    partitions = {}
    for role, partition in (raw.get("partitions") or {}).items():
        partitions[role] = None if partition is None else checked(slurm_name, partition, f"partitions.{role}")
    setup = raw.get("setup") or {}
    environment = tuple((checked(env_name, k, f"environment.{k}"), checked(env_value, v, f"environment.{k}"))
                        for k, v in (raw.get("environment") or {}).items())
    max_time = {role: checked(time_seconds, value, f"max_time.{role}")
                for role, value in (raw.get("max_time") or {}).items()}
    gpus = raw["gpus_per_node"]
    cpus = raw["cpus_per_node"]
    cluster = Cluster(
        name=name,
        description=raw.get("description", ""),
        partitions=partitions,
        gpus_per_node=gpus,
        cpus_per_node=cpus,
        cpus_per_task=raw.get("cpus_per_task") or max(1, cpus // max(1, gpus)),
        gres_name=checked(lambda v: gres(f"{v}:1") and v, raw.get("gres_name", "gpu"), "gres_name") or "gpu",
        srun_flags=tuple(checked(srun_flag, flag, f"srun_flags[{i}]") for i, flag in enumerate(raw.get("srun_flags", []))),
        purge_modules=bool(setup.get("purge_modules", False)),
        module_restore=None if setup.get("module_restore") is None else checked(
            module_name, setup["module_restore"], "setup.module_restore"),
        modules=tuple(checked(module_name, m, f"setup.modules[{i}]") for i, m in enumerate(setup.get("modules", []))),
        venv=None if setup.get("venv") is None else checked(path_value, setup["venv"], "setup.venv"),
        environment=environment,
        max_time=max_time,
        training_python=None if raw.get("training_python") is None else checked(
            path_value, raw["training_python"], "training_python"),
    )
    if cluster.cpus_per_task * min(gpus, cpus) > cpus:
        errors.append(ConfigError(f"{key}.cpus_per_task", f"{cluster.cpus_per_task} CPUs for each of {gpus} ranks "
                                  f"exceed the node's {cpus} CPUs"))
    if errors:
        raise ConfigErrors(errors)
    return cluster


def setup_lines(cluster: Cluster) -> list[str]:
    """Shell lines that prepare a job's environment on this cluster (modules, venv, variables)."""
    lines = []
    if cluster.purge_modules:
        lines.append("module --force purge")
    if cluster.module_restore:
        lines.append(f"module restore {shlex.quote(cluster.module_restore)}")
    if cluster.modules:
        lines.append("module load " + " ".join(shlex.quote(m) for m in cluster.modules))
    if cluster.venv:
        lines.append(f"source {quote_path(cluster.venv.rstrip('/') + '/bin/activate')}")
    for name, value in cluster.environment:
        lines.append(f"export {name}={shlex.quote(value)}")
    return lines


# --------------------------------------------------------------------------- job geometry

@dataclass(frozen=True)
class Geometry:
    nodes: int
    tasks_per_node: int
    gpus_per_node: int
    cpus_per_task: int

    @property
    def ranks(self) -> int:
        return self.nodes * self.tasks_per_node


def training_geometry(cluster: Cluster, ranks: int, key: str) -> Geometry:
    """One rank per GPU: fill nodes of `gpus_per_node` GPUs; ranks must fill whole nodes."""
    per_node = cluster.gpus_per_node
    if ranks <= per_node:
        nodes, tasks = 1, ranks
    elif ranks % per_node == 0:
        nodes, tasks = ranks // per_node, per_node
    else:
        raise ConfigError(key, f"{ranks} ranks do not fill whole nodes of {per_node} GPUs on {cluster.name}: use a "
                               f"multiple of {per_node} (or at most {per_node})")
    return Geometry(nodes, tasks, tasks, cluster.cpus_per_task)


# ------------------------------------------------------------------------ site/user settings

SLURM_SETTING_KEYS = ("account", "reservation", "qos", "mail_user", "mail_type")


def site_options(slurm: dict, key: str = "slurm") -> dict:
    """account, reservation, qos, mail: validated like sbatch options."""
    return sbatch_options({k: slurm.get(k) for k in SLURM_SETTING_KEYS}, key)


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
        values: dict = {"job_name": job_name, "output": output, "error": error,
                        "time": format_time(self.time_seconds), "partition": self.partition, **self.site,
                        **self.extra}
        if self.geometry is not None:
            values.update(nodes=self.geometry.nodes, ntasks_per_node=self.geometry.tasks_per_node,
                          cpus_per_task=self.geometry.cpus_per_task)
            if self.geometry.gpus_per_node:
                values["gres"] = f"{self.cluster.gres_name}:{self.geometry.gpus_per_node}"
        return sbatch_options(values)


def plan_job(config: dict, cluster_name: str, experiment: str, stage: str) -> JobPlan:
    clusters = config["clusters"]
    if cluster_name not in clusters:
        raise ConfigError("cluster", f"{cluster_name!r} is not defined under `clusters`; defined: "
                          f"{', '.join(sorted(clusters))}")
    cluster = parse_cluster(cluster_name, clusters[cluster_name])
    own = config["experiments"][experiment].get("slurm", {})
    site = site_options(config["slurm"])
    if stage == "train":
        role = own.get("partition", "gpu")
        geometry = training_geometry(cluster, config["experiments"][experiment]["ranks"],
                                     f"experiments.{experiment}.ranks")
    else:
        role, geometry = "cpu", None
    partition = cluster.partition(role, f"experiments.{experiment}.slurm.partition" if stage == "train"
                                  else f"clusters.{cluster_name}.partitions.cpu")
    seconds = stage_time(config, experiment, stage)
    limit = cluster.max_time.get(role)
    if limit is not None and seconds > limit:
        raise ConfigError(f"experiments.{experiment}.slurm.time" if stage == "train" else f"slurm.time.{stage}",
                          f"{format_time(seconds)} is above the {format_time(limit)} limit of partition {partition} "
                          f"on {cluster_name}")
    extra = {}
    signal_seconds = config["slurm"].get("signal_seconds_before_limit")
    if stage == "train" and signal_seconds:
        # for Snakemake jobs to the job steps (the training ranks); generated scripts use B: and forward it
        extra["signal"] = f"USR1@{int(signal_seconds)}"
    return JobPlan(cluster, stage, partition, seconds, geometry, site, extra)


TRAIN_RESOURCE_KEYS = ("slurm_partition", "runtime", "slurm_account", "slurm_extra", "nodes", "tasks_per_node",
                       "cpus_per_task", "gres", "mpi")
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
    resources: dict = {"slurm_partition": plan.partition, "runtime": max(1, math.ceil(plan.time_seconds / 60)),
                       "slurm_account": plan.site.get("account", ""),
                       "slurm_extra": shlex.join(extras) if extras else ""}
    if plan.geometry is not None:
        geometry = plan.geometry
        resources.update(nodes=geometry.nodes, tasks_per_node=geometry.tasks_per_node,
                         cpus_per_task=geometry.cpus_per_task,
                         gres=f"{plan.cluster.gres_name}:{geometry.gpus_per_node}",
                         mpi=plan.cluster.srun_line() if geometry.ranks > 1 else "")
    else:
        resources["cpus_per_task"] = 1
    return resources


def resources_without_cluster(config: dict, experiment: str, stage: str) -> dict:
    """Resources when the config names no cluster (local runs only): one node, one task per rank."""
    ranks = config["experiments"][experiment]["ranks"] if stage == "train" else 1
    resources = {"slurm_partition": "", "runtime": max(1, math.ceil(stage_time(config, experiment, stage) / 60)),
                 "slurm_account": "", "slurm_extra": "", "cpus_per_task": 1}
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
        errors.append(ConfigError("cluster", f"{config.get('cluster')!r} is not defined under `clusters`; defined: "
                                  f"{', '.join(sorted(clusters)) or '(none)'}"))
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


# -------------------------------------------------------------------------------- job scripts



@dataclass(frozen=True)
class ScriptRequest:
    """Everything a generated job script depends on (rendering is a pure function of this)."""

    experiment: str
    model: str
    plan: JobPlan
    workdir: str            # the repository on the cluster; the job runs its commands there
    config_path: str        # relative to workdir (or absolute)
    python: str             # the training interpreter (relative to workdir, absolute, or a name on PATH)
    preset: str | None = None
    data_steps: bool = True  # preprocessing and vocabulary first, in the same job
    evaluate: bool = True
    dependency: str | None = None


def _hpcseq_command(request: ScriptRequest, stage: str) -> list[str]:
    command = [request.python, "-m", "hpcseq", stage, "--config", request.config_path,
               "--experiment", request.experiment]
    if request.preset:
        command += ["--preset", request.preset]
    if stage == "train":  # after a change of settings (another preset): keep the old checkpoints, start afresh
        command += ["--foreign-checkpoints", "set-aside"]
    return command


def _quoted_command(words: list[str]) -> str:
    return " ".join([quote_path(words[0])] + [shlex.quote(w) for w in words[1:]])


def render_job_script(request: ScriptRequest) -> str:
    """A Juelich-style sbatch script: #SBATCH header, environment setup, srun steps."""
    plan = request.plan
    geometry = plan.geometry
    if geometry is None:
        raise ValueError("job scripts are rendered for the training stage")
    name = slurm_name(request.experiment)
    options = plan.options(job_name=name, output=f"{name}_out.%j", error=f"{name}_err.%j")
    requeue = bool(plan.extra.get("signal"))
    options = {**options, **sbatch_options({"requeue": requeue, "open_mode": "append" if requeue else None,
                                            "dependency": request.dependency})}
    if "signal" in options:
        # in a script the batch shell gets the warning and passes it to the training step only
        options["signal"] = signal_spec("B:" + options["signal"])
    srun_one = ["srun", "--nodes=1", "--ntasks=1"]
    train_srun = ["srun", *plan.cluster.srun_flags, f"--nodes={geometry.nodes}", f"--ntasks={geometry.ranks}",
                  f"--ntasks-per-node={geometry.tasks_per_node}"]
    lines = [
        "#!/bin/bash",
        f"# hpcseq: experiment {name} ({request.model}) on {plan.cluster.name}: {geometry.ranks} Horovod rank(s),"
        f" {geometry.nodes} node(s) x {geometry.tasks_per_node} GPU(s).",
        f"# Generated by `hpcseq sbatch` from {request.config_path}; regenerate it rather than editing it.",
        f"# Submit with `sbatch <this file>`; output goes to {name}_out.<jobid> and {name}_err.<jobid>",
        "# in the directory you submit from.",
        *render_directives(options),
        "",
        "set -uo pipefail",
        f"cd {quote_path(request.workdir)} || exit 1",
        "",
        "# software environment",
        *setup_lines(plan.cluster),
        '# srun >= 22.05 does not inherit --cpus-per-task from the job: pass it on explicitly',
        'export SRUN_CPUS_PER_TASK="${SLURM_CPUS_PER_TASK:-1}"',
        "",
        'echo "$(date "+%F %T") job ${SLURM_JOB_ID} on ${SLURM_JOB_NODELIST} (restart ${SLURM_RESTART_COUNT:-0})"',
    ]
    if request.data_steps:
        lines += [
            "# preprocessing and vocabulary (fast, one task); skip them with `hpcseq sbatch --no-data-steps`",
            shlex.join(srun_one) + " " + _quoted_command(_hpcseq_command(request, "preprocess")) + " || exit 1",
            shlex.join(srun_one) + " " + _quoted_command(_hpcseq_command(request, "vocab")) + " || exit 1",
        ]
    train_command = shlex.join(train_srun) + " " + _quoted_command(_hpcseq_command(request, "train"))
    if plan.extra.get("signal"):
        lines += [
            "# training: one rank per GPU; a rerun continues from the last checkpoint. Slurm signals this",
            "# shell (SIGUSR1) before the time limit; it is passed on to the ranks, which checkpoint and",
            f"# exit {REQUEUE_EXIT_CODE}; then the job is requeued and continues where it stopped.",
            "warned=0",
            'trap \'warned=1; [ -n "${train_pid:-}" ] && kill -USR1 "$train_pid"\' USR1',
            '[ "$warned" -eq 1 ] && export HPCSEQ_TIME_LIMIT_WARNING=1  # it came during the steps above',
            train_command + " &",
            "train_pid=$!",
            '[ "$warned" -eq 1 ] && [ -z "${HPCSEQ_TIME_LIMIT_WARNING:-}" ] && kill -USR1 "$train_pid"',
            'wait "$train_pid"; status=$?',
            'while kill -0 "$train_pid" 2>/dev/null; do wait "$train_pid"; status=$?; done',
            f"if [ $status -eq {REQUEUE_EXIT_CODE} ]; then",
            '    echo "$(date "+%F %T") checkpoint written before the time limit: requeueing job ${SLURM_JOB_ID}"',
            '    scontrol requeue "${SLURM_JOB_ID}"',
            "    exit 0",
            "fi",
        ]
    else:
        lines += ["# training: one rank per GPU; a rerun continues from the last checkpoint",
                  train_command, "status=$?"]
    lines += ['if [ $status -ne 0 ]; then echo "training failed with exit code $status" >&2; exit $status; fi']
    if request.evaluate:
        lines += [
            "# evaluation and samples (one task)",
            shlex.join(srun_one) + " " + _quoted_command(_hpcseq_command(request, "evaluate")) + " || exit 1",
        ]
    lines += ['echo "$(date "+%F %T") done"', ""]
    return "\n".join(lines)


def training_interpreter(config: dict, cluster_name: str | None) -> str:
    """The training interpreter of jobs on a cluster: the cluster's own, else the config's."""
    own = (config.get("clusters", {}).get(cluster_name) or {}).get("training_python") if cluster_name else None
    return own or config["training_python"]


def script_request(config: dict, cluster_name: str, experiment: str, workdir: str, config_path: str,
                   data_steps: bool = True, dependency: str | None = None,
                   python: str | None = None) -> ScriptRequest:
    """python: an explicit interpreter (command line) instead of the cluster's or the config's."""
    plan = plan_job(config, cluster_name, experiment, "train")
    return ScriptRequest(experiment=experiment, model=config["experiments"][experiment]["model"], plan=plan,
                         workdir=workdir, config_path=config_path,
                         python=python or training_interpreter(config, cluster_name),
                         preset=config.get("preset"), data_steps=data_steps, dependency=dependency)
