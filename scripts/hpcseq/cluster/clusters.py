"""Cluster definitions (partitions, GPUs and cores per node, software route, network interfaces,
limits) and the node geometry of a training job on one."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from hpcseq.cluster.limits import parse_partition_limits
from hpcseq.cluster.validators import (
    ConfigChecks,
    bind_path,
    env_name,
    env_value,
    gres_name,
    interface,
    module_name,
    mpi_interfaces,
    nccl_interfaces,
    path_value,
    positive_int,
    quote_path,
    slurm_name,
    srun_flag,
)
from hpcseq.errors import ConfigError
from hpcseq.events import SCRIPT_SETUP_FAILED

# The variables that name the network interface of each library (clusters.<name>.network), each
# set from the library's own key or else from `interface`; not set, each library chooses itself.
#   Horovod's Gloo (horovodrun --gloo, or HOROVOD_CPU_OPERATIONS=gloo beside MPI): HOROVOD_GLOO_IFACE,
#     one name (horovod/common/utils/env_parser.cc, 0.28.1; unset: the address the host name resolves
#     to). horovodrun sets it itself from its --network-interface (default: the interfaces common to
#     all hosts; on one host, the one of 127.0.0.1), overriding an exported one, and derives the Gloo
#     rendezvous address (HOROVOD_GLOO_RENDEZVOUS_ADDR) from the same interface; hpcseq runs
#     horovodrun only outside Slurm. HOROVOD_HOSTNAME is read by 0.28.1 in elastic mode only, and
#     GLOO_SOCKET_IFNAME by PyTorch, not by Horovod: neither is set.
#   NCCL (GPU collectives; its bootstrap and socket transport): NCCL_SOCKET_IFNAME (unset: ib*
#     first, else any interface but lo and docker*).
#   Open MPI (mpirun, srun --mpi=pmix): OMPI_MCA_btl_tcp_if_include (the TCP transport between
#     ranks on different nodes) and OMPI_MCA_oob_tcp_if_include (mpirun's out-of-band wire-up);
#     unset: every interface but loopback (btl_tcp_if_exclude=127.0.0.1/8). MPICH-based MPIs
#     (ParaStation MPI) ignore them. Under srun the MPI rendezvous goes through Slurm's PMIx.
NETWORK_VARIABLES = (
    ("gloo_interface", ("HOROVOD_GLOO_IFACE",)),
    ("nccl_interface", ("NCCL_SOCKET_IFNAME",)),
    ("mpi_interface", ("OMPI_MCA_btl_tcp_if_include", "OMPI_MCA_oob_tcp_if_include")),
)
# Variables a job derives from its own geometry: a fixed value in clusters.<name>.environment would
# contradict the GPUs it asked for (a 2-GPU job told CUDA_VISIBLE_DEVICES=0,1,2,3).
DERIVED_VARIABLES = {
    "CUDA_VISIBLE_DEVICES": "derived from the GPUs the job asks for on a cluster that charges whole nodes, "
    "and set by Slurm itself elsewhere: remove it",
}
NETWORK_CHECKS = {
    "interface": interface,
    "gloo_interface": interface,
    "nccl_interface": nccl_interfaces,
    "mpi_interface": mpi_interfaces,
}


@dataclass(frozen=True)
class Network:
    """Which network interface the libraries of a multi-node training use (None: they choose)."""

    interface: str | None = None  # one name for all of them
    gloo_interface: str | None = None
    nccl_interface: str | None = None
    mpi_interface: str | None = None

    def variables(self) -> tuple[tuple[str, str], ...]:
        """(name, value) of each variable to export, in NETWORK_VARIABLES' order."""
        found = []
        for key, names in NETWORK_VARIABLES:
            value = getattr(self, key) or self.interface
            if value:
                found += [(name, value) for name in names]
        return tuple(found)


# How a cluster's jobs get TensorFlow + Horovod (clusters.<name>.software):
#   modules    the setup's module loads and venv, then training_python (the venv's python);
#   container  an image run through Apptainer (clusters.<name>.container), as JSC's own TensorFlow +
#              Horovod benchmark does (github.com/FZJ-JSC/CARAML, resnet50/resnet50_benchmark.xml:
#              `srun --mpi=pspmix env PMIX_SECURITY_MODE=native apptainer exec --nv IMAGE ...`);
#              training_python is then the image's interpreter.
SOFTWARE_ROUTES = ("modules", "container")
# In front of apptainer on every step of the container route, as in CARAML's command: ParaStation's
# PMIx (srun --mpi=pspmix) and the PMIx inside the image agree on this security mode.
CONTAINER_ENVIRONMENT = ("PMIX_SECURITY_MODE=native",)
# Where the job runs (the repository: a job script cds there, the profile's rules run there): bound
# into the container, and its scripts/ put on the image's PYTHONPATH, so that the image's python
# imports this checkout's hpcseq without installing anything into the (read-only) image.
CONTAINER_WORKDIR = "$PWD"


@dataclass(frozen=True)
class Container:
    """An Apptainer image with TensorFlow + Horovod (clusters.<name>.container), and what it binds."""

    image: str  # a .sif file on the cluster; $PROJECT, $USER ... expand where the job runs
    binds: tuple[str, ...] = ()  # host paths bound at the same place inside (results, data: $SCRATCH)


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
    network: Network = Network()
    # The site charges every node a job touches in full (JSC): jobs fill whole nodes, and the GPUs
    # of the node are the job's own (CUDA_VISIBLE_DEVICES is derived from its request).
    charges_whole_nodes: bool = False
    threads_per_core: int | None = None  # sbatch/srun --threads-per-core; None: the site's default
    light_stages_on_login_node: bool = False  # preprocessing and vocabulary as Snakemake localrules
    evaluate_in_training_job: bool = False  # under the profile, evaluation as the training job's last step
    software: str = "modules"  # SOFTWARE_ROUTES
    container: Container | None = None  # the image of the container route (defined on either route)

    @property
    def in_container(self) -> bool:
        return self.software == "container" and self.container is not None

    def training_srun_flags(self) -> tuple[str, ...]:
        """srun's flags for the training ranks: the cluster's own, then --threads-per-core (a job
        step does not inherit it where the Slurm plugin's job step has stripped SLURM_*)."""
        threads = (f"--threads-per-core={self.threads_per_core}",) if self.threads_per_core else ()
        return (*self.srun_flags, *threads)

    def partition(self, role: str, key: str) -> str:
        name = self.partitions.get(role)
        if not name:
            valid = ", ".join(sorted(k for k, v in self.partitions.items() if v))
            raise ConfigError(key, f"cluster {self.name} has no {role!r} partition; it has: {valid}")
        return name

    def srun_line(self) -> str:
        return shlex.join(["srun", *self.training_srun_flags()])


def parse_cluster(name: str, raw: dict) -> Cluster:
    """A cluster of the config (`clusters.<name>`), every value validated; raises ConfigErrors naming each bad key."""
    key = f"clusters.{name}"
    checks = ConfigChecks()
    partitions = {
        role: checks.optional(slurm_name, partition, f"{key}.partitions.{role}")
        for role, partition in (raw.get("partitions") or {}).items()
    }
    environment = _environment(key, raw, checks)
    network = Network(
        **{
            setting: checks.optional(check, (raw.get("network") or {}).get(setting), f"{key}.network.{setting}")
            for setting, check in NETWORK_CHECKS.items()
        }
    )
    _refuse_variables_set_elsewhere(key, environment, checks)
    max_time = parse_partition_limits(key, raw, "max_time", checks)
    software, container = _software_route(key, raw, checks)
    cluster = Cluster(
        name=name,
        description=raw.get("description", ""),
        partitions=partitions,
        **_node(key, raw, checks),
        **_module_setup(key, raw, checks),
        environment=environment,
        max_time=max_time,
        training_python=checks.optional(path_value, raw.get("training_python"), f"{key}.training_python"),
        network=network,
        threads_per_core=checks.optional(positive_int, raw.get("threads_per_core"), f"{key}.threads_per_core"),
        **_stage_placement(raw),
        software=software,
        container=container,
    )
    _check_cpus_per_task(key, cluster, checks)
    checks.raise_errors()
    return cluster


def _environment(key: str, raw: dict, checks: ConfigChecks) -> tuple[tuple[str, str], ...]:
    """clusters.<name>.environment: (name, value) of each variable, in config order."""
    return tuple(
        (checks.value(env_name, k, f"{key}.environment.{k}"), checks.value(env_value, v, f"{key}.environment.{k}"))
        for k, v in (raw.get("environment") or {}).items()
    )


def _refuse_variables_set_elsewhere(key: str, environment: tuple, checks: ConfigChecks) -> None:
    """A variable of clusters.<name>.environment that the job derives from its geometry
    (DERIVED_VARIABLES) or that a network setting sets (NETWORK_VARIABLES) is a problem of its key."""
    for variable, _ in environment:
        if variable in DERIVED_VARIABLES:
            checks.errors.append(ConfigError(f"{key}.environment.{variable}", DERIVED_VARIABLES[variable]))
        owner = next((k for k, names in NETWORK_VARIABLES if variable in names), None)
        if owner:
            checks.errors.append(
                ConfigError(
                    f"{key}.environment.{variable}",
                    f"{variable} is the network setting {key}.network.{owner} (or .interface, for all libraries): "
                    "set it there",
                )
            )


def _node(key: str, raw: dict, checks: ConfigChecks) -> dict:
    """A node's GPUs and CPUs, the CPUs of each rank (default: the node's shared by its GPUs), the
    GRES name of its GPUs and the cluster's srun flags: Cluster's fields of these names."""
    gpus = raw["gpus_per_node"]
    cpus = raw["cpus_per_node"]
    return {
        "gpus_per_node": gpus,
        "cpus_per_node": cpus,
        "cpus_per_task": raw.get("cpus_per_task") or max(1, cpus // max(1, gpus)),
        "gres_name": checks.value(gres_name, raw.get("gres_name", "gpu"), f"{key}.gres_name") or "gpu",
        "srun_flags": tuple(
            checks.value(srun_flag, flag, f"{key}.srun_flags[{i}]") for i, flag in enumerate(raw.get("srun_flags", []))
        ),
    }


def _module_setup(key: str, raw: dict, checks: ConfigChecks) -> dict:
    """clusters.<name>.setup (the modules route): module purge, restore and loads, and the venv."""
    setup = raw.get("setup") or {}
    return {
        "purge_modules": bool(setup.get("purge_modules", False)),
        "module_restore": checks.optional(module_name, setup.get("module_restore"), f"{key}.setup.module_restore"),
        "modules": tuple(
            checks.value(module_name, m, f"{key}.setup.modules[{i}]") for i, m in enumerate(setup.get("modules", []))
        ),
        "venv": checks.optional(path_value, setup.get("venv"), f"{key}.setup.venv"),
    }


def _stage_placement(raw: dict) -> dict:
    """Whether the site charges whole nodes, and where the light stages and evaluation run: by
    default, on such a site, on the login node and in the training job."""
    whole_nodes = bool(raw.get("charges_whole_nodes", False))
    login_node = raw.get("light_stages_on_login_node")
    evaluate_in_training_job = raw.get("evaluate_in_training_job")
    return {
        "charges_whole_nodes": whole_nodes,
        "light_stages_on_login_node": whole_nodes if login_node is None else bool(login_node),
        "evaluate_in_training_job": whole_nodes if evaluate_in_training_job is None else bool(evaluate_in_training_job),
    }


def _check_cpus_per_task(key: str, cluster: Cluster, checks: ConfigChecks) -> None:
    """The CPUs of a node's ranks (one per GPU) fit in the node."""
    gpus, cpus = cluster.gpus_per_node, cluster.cpus_per_node
    if cluster.cpus_per_task * min(gpus, cpus) > cpus:
        checks.errors.append(
            ConfigError(
                f"{key}.cpus_per_task",
                f"{cluster.cpus_per_task} CPUs for each of {gpus} ranks exceed the node's {cpus} CPUs",
            )
        )


def _software_route(key: str, raw: dict, checks: ConfigChecks) -> tuple[str, Container | None]:
    """clusters.<name>.software and .container, validated: the container route needs an image."""
    software = raw.get("software") or "modules"
    if software not in SOFTWARE_ROUTES:
        checks.errors.append(ConfigError(f"{key}.software", f"{software!r} is not one of {', '.join(SOFTWARE_ROUTES)}"))
    own = raw.get("container")
    container = None
    if isinstance(own, dict):
        image = checks.value(path_value, own.get("image"), f"{key}.container.image")
        binds = tuple(
            checks.value(bind_path, path, f"{key}.container.binds[{i}]")
            for i, path in enumerate(own.get("binds") or [])
        )
        container = Container(image or "", binds) if image else None
    elif own is not None:
        checks.errors.append(ConfigError(f"{key}.container", "is not a mapping with an image (and binds)"))
    if software == "container" and own is None:
        checks.errors.append(
            ConfigError(
                f"{key}.container",
                "software: container needs an image: container: {image: $PROJECT/$USER/containers/<name>.sif}",
            )
        )
    return software, container


def container_prefix(cluster: Cluster) -> str:
    """The shell words that run a step's command inside the cluster's container, between the
    launcher (srun and its flags, or nothing) and the command: a job script writes them into its
    steps, `hpcseq launch` (the profile's rules) into the line its shell runs. Paths are quoted
    with their variables left to expand where the job runs. "" on the modules route."""
    if not cluster.in_container:
        return ""
    words = ["env", *CONTAINER_ENVIRONMENT, "apptainer", "exec", "--nv"]
    for path in (CONTAINER_WORKDIR, *cluster.container.binds):
        words += ["--bind", quote_path(path)]
    words += ["--env", "PYTHONPATH=" + quote_path(CONTAINER_WORKDIR + "/scripts"), quote_path(cluster.container.image)]
    return " ".join(words)


def setup_lines(cluster: Cluster, geometry: Geometry | None = None) -> list[str]:
    """Shell lines that prepare a job's environment on this cluster (modules, venv, variables, network
    interfaces, and for a training job the GPUs it sees): job scripts run them, and `hpcseq launch`
    inside Slurm (the profile's rules). On the container route the software is the image's: no
    module loads or venv (the purge stays, so that modules of the login node, which Slurm passes
    on, put nothing on the PYTHONPATH or LD_LIBRARY_PATH the container inherits). A module or
    venv line that fails ends the job there, naming itself: going on would train with whatever
    Python the node has, or die later with a misleading import error."""
    lines = []
    if cluster.purge_modules:
        lines.append(or_stop("module --force purge"))
    if not cluster.in_container:
        lines += _module_lines(cluster)
    for name, value in (*cluster.environment, *cluster.network.variables(), *gpu_variables(cluster, geometry)):
        lines.append(f"export {name}={shlex.quote(value)}")
    return [single for line in lines for single in line.split("\n")]


def software_check(cluster: Cluster, python: str) -> str:
    """After the setup lines: the interpreter the steps run (or the container image) exists, else the
    job ends here, naming it, rather than failing in every step with srun's execve error."""
    if cluster.in_container:
        image = quote_path(cluster.container.image)
        return or_stop(f"test -f {image}", f"the container image {cluster.container.image} does not exist")
    return or_stop(
        f"command -v {quote_path(python)} >/dev/null", f"the interpreter {python} is not there after the setup lines"
    )


def or_stop(line: str, what: str | None = None) -> str:
    """`line`, and if it fails, the job's end with events.SCRIPT_SETUP_FAILED naming it (or `what`)
    and its exit code."""
    message = shlex.quote(SCRIPT_SETUP_FAILED.text(code="%s", line="%s") + "\\n")
    named = shlex.quote(what or line)
    stop = f'{line} || {{ printf {message} "$?" {named} >&2; exit 1; }}'
    if "$" in named:  # the line is named as written, its variables unexpanded: on purpose
        return f"# shellcheck disable=SC2016  # the failed line is named as written\n{stop}"
    return stop


def _module_lines(cluster: Cluster) -> list[str]:
    """The modules route: module loads, then the venv."""
    lines = []
    if cluster.module_restore:
        lines.append(or_stop(f"module restore {shlex.quote(cluster.module_restore)}"))
    if cluster.modules:
        lines.append(or_stop("module load " + " ".join(shlex.quote(m) for m in cluster.modules)))
    if cluster.venv:
        lines.append("# shellcheck source=/dev/null  # the venv exists on the cluster, not here")
        lines.append(or_stop(f"source {quote_path(cluster.venv.rstrip('/') + '/bin/activate')}"))
    return lines


def gpu_variables(cluster: Cluster, geometry: Geometry | None) -> tuple[tuple[str, str], ...]:
    """CUDA_VISIBLE_DEVICES for a training job on a cluster that charges whole nodes: the node is
    the job's alone, so its GPUs are 0 .. n-1 and the job sees the n it asked for (JSC's examples
    set it explicitly, as 0,1,2,3 for a whole node). Elsewhere a node may be shared and the job's
    GPUs are not the first ones: Slurm sets the variable itself from the GRES it granted."""
    if not cluster.charges_whole_nodes or geometry is None or not geometry.gpus_per_node:
        return ()
    return (("CUDA_VISIBLE_DEVICES", ",".join(str(gpu) for gpu in range(geometry.gpus_per_node))),)


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


# The shipped experiments sized for the clusters that charge whole nodes (4 GPUs per node), read
# after config/config.yaml under the profile; relative to the repository's root.
WHOLE_NODES_CONFIG = "config/whole-nodes.yaml"


def training_geometry(cluster: Cluster, ranks: int, key: str, allow_partial_node: bool = False) -> Geometry:
    """One rank per GPU: fill nodes of `gpus_per_node` GPUs; ranks beyond one node must fill whole
    nodes. On a cluster that charges whole nodes, fewer ranks than a node's GPUs are refused too
    (the job would pay for GPUs it leaves idle) unless the experiment allows a partial node."""
    per_node = cluster.gpus_per_node
    if cluster.charges_whole_nodes and ranks < per_node and not allow_partial_node:
        raise ConfigError(
            key,
            f"{ranks} rank(s) use {ranks} of the {per_node} GPUs of a node, and {cluster.name} charges whole "
            f"nodes: the job would pay for {per_node} GPUs and leave {per_node - ranks} idle. Ask for {per_node} "
            f"ranks (one node) or a multiple of {per_node}: under `--profile slurm`, read {WHOLE_NODES_CONFIG} "
            f"after the config (`--configfile config/config.yaml {WHOLE_NODES_CONFIG}`: every shipped experiment "
            "on whole nodes of 4 GPUs), or set the ranks "
            f"(`--config 'experiments={{<name>: {{ranks: {per_node}}}}}'`); "
            f"for a job script, `hpcseq sbatch --nodes N` (ranks = N x {per_node}). Or set allow_partial_node: "
            "true in the experiment's slurm settings (scaling.slurm for the scaling study) to pay for them knowingly",
        )
    if ranks <= per_node:
        nodes, tasks = 1, ranks
    elif ranks % per_node == 0:
        nodes, tasks = ranks // per_node, per_node
    else:
        raise ConfigError(
            key,
            f"{ranks} ranks do not fill whole nodes of {per_node} GPUs on {cluster.name}: use a "
            f"multiple of {per_node}" + ("" if cluster.charges_whole_nodes else f" (or at most {per_node})"),
        )
    return Geometry(nodes, tasks, tasks, cluster.cpus_per_task)
