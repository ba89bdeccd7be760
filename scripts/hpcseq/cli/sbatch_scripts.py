"""The job scripts of `hpcseq sbatch`: for which clusters and experiments, sized and validated,
and their text (jobs/<cluster>/<experiment>.sbatch, or <experiment>-data.sbatch with --data-only).

Part of the command line's package because it ties the two layers below it together: it loads and
validates the config (hpcseq.config), then has hpcseq.cluster size and render each job; cluster/
itself never imports the config package.

The options change the config as its values would (the job's steps read the same config file
with the same --config values); errors about a value given as an option name that option.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hpcseq.cluster.job_location import job_location, named_cluster
from hpcseq.cluster.jobscript import (
    DATA_JOB_SUFFIX,
    data_job_cost_note,
    data_request,
    render_data_script,
    render_job_script,
    script_request,
)
from hpcseq.cluster.resources import job_script_problems
from hpcseq.config import deep_merge, experiment_settings, load_yaml, parse_command_line_values, validate_config
from hpcseq.errors import ConfigError, ConfigErrors
from hpcseq.paths import job_script_file

ALL = "all"  # --cluster all, --experiment all
PER_EXPERIMENT_OPTIONS = ("time", "partition")  # options that set experiments.<name>.slurm.<option>


@dataclass(frozen=True)
class SbatchOptions:
    """What `hpcseq sbatch` is asked for (its command-line options)."""

    config_file: Path
    config_values: tuple[str, ...] = ()  # --config KEY=VALUE, as given: the job's steps get them too
    cluster: str | None = None  # a cluster of the config, ALL, or None: the config's `cluster`
    experiment: str | None = None  # an experiment, ALL, or None: every one
    preset: str | None = None
    slurm: Mapping[str, str] = field(default_factory=dict)  # the slurm.<key> values given as options
    time: str | None = None  # the training time limit
    partition: str | None = None
    training_python: str | None = None
    dependency: str | None = None
    data_steps: bool = True  # False: preprocessing and vocabulary left out (--no-data-steps)
    data_only: bool = False  # the data job instead
    nodes: int | None = None  # train on this many whole nodes
    workdir: str | None = None
    output_dir: str = "jobs"

    def per_experiment(self) -> dict[str, str]:
        return {key: getattr(self, key) for key in PER_EXPERIMENT_OPTIONS if getattr(self, key)}


@dataclass(frozen=True)
class JobScript:
    """A job script to write."""

    path: Path
    text: str
    note: str | None = None  # for the user once it is written (a data job that pays for a GPU node)


@dataclass(frozen=True)
class LeftOut:
    """A script not written with `--cluster all`: the experiment does not fit that cluster."""

    experiment: str
    cluster: str
    reason: str


def sbatch_scripts(options: SbatchOptions) -> Iterator[JobScript | LeftOut]:
    """The scripts to write, one at a time: each is written before the next one is checked, so an
    experiment that fails its checks stops the command after the scripts before it."""
    command_line = parse_command_line_values(list(options.config_values))
    raw = deep_merge(load_yaml(options.config_file), command_line)
    every_experiment = options.experiment in (None, ALL)
    experiments = list(raw.get("experiments", {})) if every_experiment else [options.experiment]
    every_cluster = options.cluster == ALL
    if options.nodes is not None and options.nodes < 1:
        raise ConfigError("--nodes", f"{options.nodes} is not a whole number >= 1")
    if options.data_only and (not options.data_steps or options.dependency):
        raise ConfigError("--data-only", "writes the data job alone: --no-data-steps and --dependency are for training")
    overrides = _overrides(options, experiments)
    if options.cluster:  # the settings are checked against the cluster the scripts are for
        overrides["cluster"] = None if every_cluster else options.cluster
    sbatch = _Sbatch(options, raw, command_line, overrides)
    config = sbatch.validated(None if every_cluster else options.cluster or raw.get("cluster"))
    for name in experiments:
        experiment_settings(config, name)  # a clear error for an unknown experiment
    clusters = sorted(config["clusters"]) if every_cluster else [named_cluster(config["cluster"])]
    location = job_location(options.workdir, Path(options.config_file))
    for cluster in clusters:
        job_config = sbatch.validated(cluster) if options.nodes and every_cluster else config
        for name in experiments:
            yield sbatch.script(job_config, cluster, name, location, every_cluster)


@dataclass(frozen=True)
class _Sbatch:
    """One `hpcseq sbatch`: its options, the config file with the --config values merged in (raw),
    and what the options change in it."""

    options: SbatchOptions
    raw: dict
    command_line: dict
    overrides: dict

    def validated(self, cluster: str | None) -> dict:
        """The config with the options, and with --nodes the ranks that fill that many of the cluster's
        nodes (for every experiment: all are checked against the cluster, not only those written)."""
        every = list(self.raw.get("experiments", {}))
        sized = deep_merge(self.overrides, _ranks_for_nodes(self.options.nodes, self.raw, cluster, every))
        try:
            return validate_config(deep_merge(self.raw, sized), self.command_line)
        except ConfigErrors as errors:
            raise ConfigErrors(_renamed_for_options(self.options, errors.errors)) from None

    def script(self, config: dict, cluster: str, name: str, location: tuple[str, str], every_cluster: bool):
        """The script of experiment `name` on `cluster` (JobScript), or why it has none (LeftOut)."""
        options = self.options
        workdir, config_in_job = location
        sized = _ranks_for_nodes(options.nodes, self.raw, cluster, [name]).get("experiments", {})
        # the steps read the config with the same ranks (their settings, their global batch)
        ranks_value = (f"experiments={{{name}: {{ranks: {sized[name]['ranks']}}}}}",) if sized else ()
        config_values = (*options.config_values, *ranks_value)
        if options.data_only:  # preprocessing and vocabulary: one CPU task, whatever training asks for
            request = data_request(
                config, cluster, name, workdir, config_in_job, options.training_python, config_values
            )
            target = job_script_file(options.output_dir, cluster, f"{name}{DATA_JOB_SUFFIX}")
            return JobScript(target, render_data_script(request), data_job_cost_note(request))
        problems = job_script_problems(config, cluster, name)
        if problems and every_cluster:  # the clusters it fits still get their scripts
            why = "; ".join(str(problem) for problem in _renamed_for_options(options, problems))
            return LeftOut(name, cluster, why)
        if problems:
            raise ConfigErrors(_renamed_for_options(options, problems))
        request = script_request(
            config,
            cluster,
            name,
            workdir,
            config_in_job,
            data_steps=options.data_steps,
            dependency=options.dependency,
            python=options.training_python,
            config_values=config_values,
        )
        return JobScript(job_script_file(options.output_dir, cluster, name), render_job_script(request))


def _overrides(options: SbatchOptions, experiments: list[str]) -> dict:
    """What `hpcseq sbatch`'s options change in the config."""
    overrides: dict = {}
    if options.preset:
        overrides["preset"] = options.preset
    if options.slurm:
        overrides["slurm"] = dict(options.slurm)
    per_experiment = options.per_experiment()
    if per_experiment:
        overrides["experiments"] = {name: {"slurm": per_experiment} for name in experiments}
    return overrides


def _ranks_for_nodes(nodes: int | None, raw: dict, cluster: str | None, experiments: list[str]) -> dict:
    """`hpcseq sbatch --nodes N`: each experiment's ranks set to fill N whole nodes of the cluster
    (N x its gpus_per_node, one rank per GPU), as config overrides; {} without --nodes or a cluster
    (an undefined cluster or a bad gpus_per_node is then reported by validation)."""
    cluster_raw = (raw.get("clusters") or {}).get(cluster) if nodes and cluster else None
    gpus = (cluster_raw or {}).get("gpus_per_node") if isinstance(cluster_raw, dict) else None
    if not isinstance(gpus, int) or isinstance(gpus, bool):
        return {}
    return {"experiments": {name: {"ranks": nodes * gpus} for name in experiments}}


def _renamed_for_options(options: SbatchOptions, errors: list[ConfigError]) -> list[ConfigError]:
    """Errors about a value the user gave as --time, --partition or --nodes name that option, not a config key."""
    renamed = []
    for error in errors:
        option = next(
            (
                f"--{key}"
                for key in options.per_experiment()
                if error.key.startswith("experiments.") and error.key.endswith(f".slurm.{key}")
            ),
            None,
        )
        if not option and options.nodes and error.key.startswith("experiments.") and error.key.endswith(".ranks"):
            option = "--nodes"
        error = ConfigError(option, error.detail) if option else error
        if str(error) not in map(str, renamed):  # one option, given once, for every experiment
            renamed.append(error)
    return renamed
