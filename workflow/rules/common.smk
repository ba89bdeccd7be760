# Shared by the rules: the validated config, the constants read from it, result paths
# (hpcseq.paths.ExperimentPaths), per-stage settings and resources, interpreters.
import functools
import json
import os
import re
import shlex
import sys
from pathlib import Path
from types import SimpleNamespace

from snakemake.logging import logger
from snakemake.settings.types import DeploymentMethod

from hpcseq import config as hpcseq_config
from hpcseq.cluster import clusters as hpcseq_clusters
from hpcseq.cluster import resources as hpcseq_resources
from hpcseq.cluster.job_table import left_out_line
from hpcseq.cluster.launch import TRAIN_COMMAND
from hpcseq.cluster.validators import expand_path
from hpcseq.errors import HpcseqError
from hpcseq.paths import (
    DownloadPaths,
    ExperimentPaths,
    ScalingPaths,
    SweepPaths,
    benchmark_file,
    job_script_file,
    results_dir_of,
    rule_log_file,
    summary_file,
)


def replace_with_validated(config):
    """Validate Snakemake's `config` against workflow/schemas/config.schema.yaml and replace its
    contents by the resolved config (schema defaults, the preset, --config values typed), so that
    no rule or function can read a raw value.

    hpcseq's validator uses the same schema as snakemake.utils.validate, but reports every
    problem at once with its dotted key and, for a mistyped key, the valid ones.
    """
    try:
        validated = hpcseq_config.validate_config(dict(config), command_line=workflow.config_settings.config)
    except HpcseqError as error:
        raise WorkflowError(str(error))
    config.clear()
    config.update(validated)


def interpreter(configured):
    """The python of a rule. Under `--sdm conda` it is the rule's conda environment's (Snakemake
    activates it, so `python` on PATH); else `configured`: a path relative to the repository, or a
    bare command name (python) that stays a name for PATH."""
    if USES_CONDA:
        return "python"
    if "/" not in configured:
        return configured
    path = Path(os.path.expandvars(os.path.expanduser(configured)))
    return str(path if path.is_absolute() else REPO_ROOT / path)


def experiment_paths(experiment):
    """The files of an experiment (hpcseq.paths.ExperimentPaths): of a concrete one in input
    functions; with the `{experiment}` wildcard as its name, the rules' patterns (EXPERIMENT)."""
    return ExperimentPaths.of(RESULTS, experiment)


replace_with_validated(config)


# ---------------------------------------------------------------------------------------------
# Constants. `config` is the validated one from here on.
def expanded(key):
    """A folder of the config with its environment variables ($SCRATCH) expanded here, where
    Snakemake runs (under the Slurm profile the jobs inherit this environment)."""
    try:
        return expand_path(config[key], key)
    except HpcseqError as error:
        raise WorkflowError(str(error))


REPO_ROOT = Path(workflow.basedir)
RESULTS = expanded("results_dir")
DOWNLOADS = expanded("downloads_dir")
LOGS = config["logs_dir"]
BENCHMARKS = config["benchmarks_dir"]
JOBS = config["jobs_dir"]
EXPERIMENTS = sorted(config["experiments"])
# by task: the data stages differ (hpcseq.paths.TASK_STAGE_FORMAT)
CHAR_EXPERIMENTS = [n for n in EXPERIMENTS if hpcseq_config.experiment_task(config, n) in hpcseq_config.CHARACTER_TASKS]
SENTENCE_EXPERIMENTS = [n for n in EXPERIMENTS if hpcseq_config.experiment_task(config, n) == "sequence_classification"]
SERIES_EXPERIMENTS = [n for n in EXPERIMENTS if hpcseq_config.experiment_task(config, n) == "sequence_regression"]
WORD_LM_EXPERIMENTS = [n for n in EXPERIMENTS if hpcseq_config.experiment_task(config, n) == "next_word"]
# the experiments of a plain run (and of its summary); the others run by target (all_experiments)
DEFAULT_EXPERIMENTS = [n for n in EXPERIMENTS if config["experiments"][n]["default_target"]]
CLUSTERS = sorted(config["clusters"])
# the cluster the profile submits to (`cluster`; hpcseq.cluster.clusters.Cluster), None without one
CLUSTER = hpcseq_resources.config_cluster(config)
DOWNLOADED_DATASETS = sorted(name for name, dataset in config["datasets"].items() if "download" in dataset)
CONFIG_FILE = str(Path(workflow.configfiles[-1]) if workflow.configfiles else REPO_ROOT / "config" / "config.yaml")

# Each rule's conda environment (envs/README.md). Under `--sdm conda` the rules run in them;
# otherwise in the two venvs: the workflow interpreter (this one) and `training_python`.
WORKFLOW_ENV = "../../envs/workflow.yaml"
TRAINING_ENV = "../../envs/training.yaml"
USES_CONDA = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
# --config training_python=... on the command line wins over a cluster's own interpreter
# (config_settings.config holds the --config values only; overwrite_config also the --configfile ones).
COMMAND_LINE_CONFIG = dict(workflow.config_settings.config or {})  # the --config values alone
PYTHON_FROM_COMMAND_LINE = COMMAND_LINE_CONFIG.get("training_python")
# Keys that only the workflow reads (a job script gets its cluster and interpreter explicitly).
WORKFLOW_ONLY_KEYS = ("cluster", "training_python", "local_launcher", "jobs_dir", "logs_dir", "benchmarks_dir")
WORKFLOW_PYTHON = interpreter(sys.executable)  # preprocessing, vocabulary and plots need no TensorFlow
TRAINING_PYTHON = interpreter(
    PYTHON_FROM_COMMAND_LINE or hpcseq_resources.training_interpreter(config, config["cluster"])
)

# The end of the commands of the rules that run as Slurm jobs (see logged()); {log} names the log.
LOG_WITH_TAIL_ON_FAILURE = "> {{{log}:q}} 2>&1 || {{{{ status=$?; tail -n 40 {{{log}:q}} >&2; exit $status; }}}}"
# Every result file's pattern: its path with the `{experiment}` wildcard as the experiment's name.
EXPERIMENT = experiment_paths("{experiment}")
# Preprocessing and vocabulary as Snakemake localrules (on the machine that runs Snakemake, the
# login node) under the Slurm profile, where the cluster in use says so: by default where it
# charges whole nodes, since each would otherwise be a job paying for a node and waiting in the
# queue (clusters.<name>.light_stages_on_login_node). Plots, summary and job scripts always are.
LIGHT_STAGES_ON_LOGIN_NODE = CLUSTER is not None and CLUSTER.light_stages_on_login_node
# Evaluation as the last step of the training job, not a job of its own, where the cluster in use
# says so (clusters.<name>.evaluate_in_training_job; by default where it charges whole nodes): the
# rule `train` then also writes the evaluation's files, and the rule `evaluate` is not defined.
EVALUATE_IN_TRAINING_JOB = hpcseq_resources.profile_job_kind(config, "train") == "train_and_evaluate"
# The scaling study (scaling.smk)
SCALING_EXPERIMENTS = list(config["scaling"]["experiments"])
SCALING_RANKS = sorted(config["scaling"]["ranks"])
# The study's files with the wildcards `{experiment}` and `{ranks}` (hpcseq.paths.ScalingPaths).
SCALING = ScalingPaths.of(RESULTS, "{experiment}")
SCALING_RUN = SCALING.run("{ranks}")
# Sweeps (sweep.smk)
SWEEPS = sorted(config["sweeps"])
SWEEP_MODELS = sorted({model for sweep in config["sweeps"].values() for model in sweep["models"]})
# A sweep's files with the wildcards `{sweep}` and `{model}` (hpcseq.paths.SweepPaths): its table,
# and a run's model/ and eval/ (the experiment's name only places its data, which the inputs name).
SWEEP = SweepPaths.of(RESULTS, "{sweep}")
SWEEP_RUN = SWEEP.run("{sweep}", "{model}")
# ---------------------------------------------------------------------------------------------

if USES_CONDA:
    # The conda environments hold hpcseq's dependencies, not hpcseq itself: the rules run this
    # checkout's package (Snakemake keeps PYTHONPATH out of conda environments, hence the prefix,
    # which runs after the activation; `set -euo pipefail` is Snakemake's own default prefix).
    shell.prefix(f"set -euo pipefail; export PYTHONPATH={shlex.quote(str(REPO_ROOT / 'scripts'))}; ")


def name_pattern(names):
    """A wildcard constraint matching exactly these experiment names (nothing if none)."""
    return "|".join(re.escape(name) for name in names) or "(?!x)x"


wildcard_constraints:
    experiment=name_pattern(EXPERIMENTS),


def logged(command, log="log"):
    """`command` with its output in the rule's log (`log`: the placeholder of a named one, as
    log.evaluate); on failure the log's last 40 lines also go to stderr, and so into the job's own
    Slurm log (.snakemake/slurm_logs/...). A retry overwrites the rule's log, not that one:
    `hpcseq logs` can then diagnose every attempt."""
    return f"{command} {LOG_WITH_TAIL_ON_FAILURE.format(log=log)}"


# Training and evaluation: the commands of their rules, the same where evaluation is the training
# job's last step (EVALUATE_IN_TRAINING_JOB). TRAIN_COMMAND: hpcseq.cluster.launch.


def evaluate_command(settings="settings"):
    """The evaluation command; `settings`: the param holding its settings (eval_settings in the
    training job, whose `settings` are training's)."""
    return (
        "{params.workflow_python:q} -m hpcseq launch --ranks 1 --srun= --slurm-setup={params.setup:q} "
        "--slurm-container={params.container:q} "
        f"-- {{params.python:q}} -m hpcseq evaluate --settings {{params.{settings}:q}} "
        "--results-dir {params.results:q} --model-dir {params.model_dir:q} --eval-dir {params.eval_dir:q}"
    )


# Result paths -------------------------------------------------------------------------------


def task_of(wildcards):
    return hpcseq_config.experiment_task(config, wildcards.experiment)


def prepared_inputs(wildcards):
    """The preprocessing outputs of an experiment (their names depend on its task)."""
    return list(experiment_paths(wildcards.experiment).prepared_files(task_of(wildcards)).values())


def encoded_inputs(wildcards):
    """The vocabulary outputs of an experiment (their names depend on its task)."""
    return list(experiment_paths(wildcards.experiment).encoded_files(task_of(wildcards)).values())


def results_dir_of_output(output_name):
    """Params function: the results folder, found from the named output (hpcseq.paths.results_dir_of)
    rather than from the config, so that it follows the file wherever Snakemake puts it."""

    def results_dir(wildcards, output):
        return str(results_dir_of(getattr(output, output_name), wildcards.experiment))

    return results_dir


def parent_of_output(output_name):
    """Params function: the folder of the named output (training's model folder, say)."""

    def parent(wildcards, output):
        return str(Path(getattr(output, output_name)).parent)

    return parent


def rule_log(stage, name="{experiment}"):
    """A rule's log, <logs_dir>/<stage>/<name>.log (hpcseq.paths.rule_log_file; the name is the
    experiment's wildcard by default: the rule's pattern)."""
    return rule_log_file(LOGS, stage, name)


def rule_benchmark(stage, name="{experiment}"):
    """A rule's benchmark, <benchmarks_dir>/<stage>/<name>.tsv (hpcseq.paths.benchmark_file)."""
    return benchmark_file(BENCHMARKS, stage, name)


def sbatch_file(cluster="{cluster}", experiment="{experiment}"):
    """jobs/<cluster>/<experiment>.sbatch (the wildcards by default: the rule's pattern)."""
    return str(job_script_file(JOBS, cluster, experiment))


def experiment_targets(names):
    """Each experiment's evaluation and plots."""
    targets = []
    for name in names:
        paths = experiment_paths(name)
        targets += [str(paths.eval_metrics), str(paths.training_curves)]
        if name in SENTENCE_EXPERIMENTS:
            targets.append(str(paths.confusion_matrix))
    return targets


def all_targets():
    return experiment_targets(DEFAULT_EXPERIMENTS) + [str(summary_file(RESULTS))] + fitting_job_scripts()


def fitting_job_scripts():
    """jobs/<cluster>/<experiment>.sbatch wherever the experiment's Slurm settings fit the cluster
    (a partition that only JSC has, say); the others are named in one line per cluster, when the
    run starts (hpcseq.cluster.job_table.left_out_line)."""
    scripts = []
    for cluster in CLUSTERS:
        left_out = {}  # experiment: why its script is not written
        for name in EXPERIMENTS:
            problems = hpcseq_resources.job_script_problems(config, cluster, name)
            if problems:
                left_out[name] = problems
            else:
                scripts.append(sbatch_file(cluster, name))
        if left_out and workflow.is_main_process:
            logger.warning(left_out_line(cluster, left_out, len(EXPERIMENTS)))
    return scripts


# Settings, resources, cluster set-up ---------------------------------------------------------


def dataset_path(wildcards):
    """The dataset an experiment reads; for a downloaded one, what its download rule produces."""
    name = config["experiments"][wildcards.experiment]["dataset"]
    if name in DOWNLOADED_DATASETS:
        return str(download_paths(name).output)
    return config["datasets"][name]["path"]


def download_paths(name):
    """Where a downloaded dataset goes (hpcseq.paths.DownloadPaths, under downloads_dir)."""
    return DownloadPaths.of(DOWNLOADS, name, config["datasets"][name]["download"])


def download_output(name):
    """The output of its download rule, an archive's unpacked/ folder (a directory) or the file;
    protected (read-only), so that a rerun Snakemake decides on never deletes a fetched dataset."""
    paths = download_paths(name)
    return protected(directory(str(paths.output)) if paths.archive else str(paths.output))


def downloads_dir_of_output(wildcards, output):
    """Params function: downloads_dir, found from the output (<downloads_dir>/<name>/<file or
    unpacked>, hpcseq.paths.DownloadPaths) so that it follows the file wherever Snakemake puts it."""
    return str(Path(output[0]).parent.parent)


def download_json(name):
    """What `hpcseq download --settings` needs: Snakemake refetches only when this changes."""
    return json.dumps({"name": name, "download": config["datasets"][name]["download"]}, sort_keys=True)


def ranks_of(wildcards):
    return config["experiments"][wildcards.experiment]["ranks"]


def stage_json(stage):
    """Params function: the JSON of what `stage` depends on, so Snakemake reruns it on change."""

    def params(wildcards):
        settings = hpcseq_config.experiment_settings(config, wildcards.experiment)
        return json.dumps(hpcseq_config.stage_settings(settings, stage), sort_keys=True)

    return params


def stage_resources(stage):
    """Slurm resources of a stage's job, from the cluster named by `cluster` in the config (used by
    the Slurm profile; on a local run they only feed `hpcseq launch`, which ignores them): of the
    kind of job the stage's rule submits (training's can include evaluation, profile_job_kind)."""
    kind = hpcseq_resources.profile_job_kind(config, stage)
    keys = hpcseq_resources.resource_keys(kind, config)

    def resource(key):
        return lambda wildcards: hpcseq_resources.stage_resources(config, wildcards.experiment, kind)[key]

    return {key: resource(key) for key in keys}


def cluster_setup(wildcards, resources):
    """The cluster's environment setup (module loads, venv), run first by `hpcseq launch` in Slurm;
    for a job with GPUs (its `gres`), the GPUs it sees, from the geometry it asked for."""
    if CLUSTER is None:
        return ""
    geometry = None
    gres = getattr(resources, "gres", "")
    if gres:
        gpus = int(gres.rsplit(":", 1)[1])
        geometry = hpcseq_clusters.Geometry(resources.nodes, resources.tasks_per_node, gpus, resources.cpus_per_task)
    return "\n".join(hpcseq_clusters.setup_lines(CLUSTER, geometry))


def training_srun(wildcards, resources):
    """The srun line that starts the training ranks in a Slurm job: the cluster's, for one rank as
    for many. resources.mpi holds the same line only for more than one rank, because the Slurm
    plugin refuses an MPI job of one task; it then runs the command in the batch step, where a
    single rank started without srun would never get Slurm's time-limit warning (sent to job steps)."""
    return resources.mpi if CLUSTER is None else CLUSTER.srun_line()


def cluster_container(wildcards):
    """The words that run a training or evaluation command inside the cluster's container on its
    container route (clusters.<name>.software: container), put by `hpcseq launch` between srun and
    the command as job scripts do; "" on the modules route and without a cluster."""
    return "" if CLUSTER is None else hpcseq_clusters.container_prefix(CLUSTER)


def evaluation_outputs():
    """The evaluation's files of an experiment, shown in the report."""
    return {
        "metrics": report(
            EXPERIMENT.eval_metrics,
            caption="../report/eval_metrics.rst",
            category="{experiment}",
            labels={"experiment": "{experiment}", "file": "metrics (JSON)"},
        ),
        "samples": report(
            EXPERIMENT.samples,
            caption="../report/samples.rst",
            category="{experiment}",
            labels={"experiment": "{experiment}", "file": "samples"},
        ),
    }


def training_job(evaluation, log, settings, prepared):
    """What the training of an experiment or a sweep adds where evaluation runs in its job: the
    evaluation's inputs (`prepared` data), outputs (`evaluation`: metrics and samples), log and
    params (its `settings` and folder), each {} where it does not; and the rule's shell: training,
    then, in the same job, evaluation."""
    train = logged(TRAIN_COMMAND, "log.train")
    if not EVALUATE_IN_TRAINING_JOB:
        return SimpleNamespace(inputs={}, outputs={}, logs={}, params={}, shell=train)
    return SimpleNamespace(
        inputs={"prepared": prepared},
        outputs={f"eval_{name}": file for name, file in evaluation.items()},
        logs={"evaluate": log},
        params={"eval_settings": settings, "eval_dir": parent_of_output("eval_metrics")},
        shell="\n".join([train, logged(evaluate_command("eval_settings"), "log.evaluate")]),
    )


def sbatch_overrides(wildcards):
    """The `--config` values of this run, passed on to `hpcseq sbatch` (and by it to every step of
    the job script), so that a script runs what the workflow would run with the same command line."""
    options = []
    values = {key: value for key, value in COMMAND_LINE_CONFIG.items() if key not in WORKFLOW_ONLY_KEYS}
    if values:
        options += ["--config", *(f"{key}={json.dumps(value)}" for key, value in values.items())]
    if PYTHON_FROM_COMMAND_LINE:  # wins over each cluster's own, as in the workflow's rules
        options += ["--training-python", PYTHON_FROM_COMMAND_LINE]
    return " ".join(shlex.quote(option) for option in options)


# The scaling study (scaling.smk) ----------------------------------------------------------------


def scaling_targets():
    """The table, JSON and plot of every experiment of the study (`snakemake scaling`)."""
    if not SCALING_EXPERIMENTS and workflow.is_main_process:
        logger.warning("scaling.experiments names no experiment: the scaling study has nothing to run")
    paths = [ScalingPaths.of(RESULTS, name) for name in SCALING_EXPERIMENTS]
    return [str(file) for path in paths for file in (path.table_json, path.table_md, path.plot)]


def scaling_run_files(kind):
    """Input function: the named file (summary, metrics, timeline) of the experiment's run at each rank count."""

    def files(wildcards):
        paths = ScalingPaths.of(RESULTS, wildcards.experiment)
        if kind == "timeline":
            return [str(paths.timeline(ranks)) for ranks in SCALING_RANKS]
        runs = [paths.run(ranks) for ranks in SCALING_RANKS]
        return [str(run.training_summary if kind == "summary" else run.metrics) for run in runs]

    return files


def scaling_run_config(wildcards):
    """The config of the run at `{ranks}` ranks (hpcseq.config.scaling_run_config)."""
    return hpcseq_config.scaling_run_config(config, wildcards.experiment, int(wildcards.ranks))


def scaling_settings(wildcards):
    """Params function: the JSON of the run's training settings, so Snakemake reruns it on change."""
    settings = hpcseq_config.experiment_settings(scaling_run_config(wildcards), wildcards.experiment)
    return json.dumps(hpcseq_config.stage_settings(settings, "train"), sort_keys=True)


def scaling_resources():
    """Slurm resources of the run at `{ranks}` ranks: those of a training job without evaluation
    (stage_resources), with that many ranks, on as many nodes as the cluster's GPUs per node ask for."""

    def resource(key):
        return lambda wildcards: hpcseq_resources.stage_resources(
            scaling_run_config(wildcards), wildcards.experiment, "train"
        )[key]

    return {key: resource(key) for key in hpcseq_resources.resource_keys("train", config)}


def experiment_results_dir(wildcards, input):
    """Params function: the results folder of the experiment whose data the rule reads (its first input)."""
    return str(results_dir_of(input[0], wildcards.experiment))


def scaling_threads(wildcards):
    """Threads of a scaling run: on this machine all of --cores (Snakemake caps them there), so that
    nothing runs beside it and skews its times; on a cluster, where no --cores is given, its ranks."""
    try:
        cores = workflow.cores
    except WorkflowError:
        cores = 0
    return max(int(wildcards.ranks), cores)


# Sweeps (sweep.smk) ---------------------------------------------------------------------------------


def sweep_experiment(wildcards):
    return config["sweeps"][wildcards.sweep]["experiment"]


def sweep_targets():
    """The table, JSON and plot of every sweep (`snakemake sweeps`)."""
    if not SWEEPS and workflow.is_main_process:
        logger.warning("the config defines no sweeps: `sweeps` has nothing to run")
    paths = [SweepPaths.of(RESULTS, name) for name in SWEEPS]
    return [str(file) for path in paths for file in (path.table_json, path.table_md, path.plot)]


def sweep_data(stage):
    """Input function: the experiment's prepared or encoded files, which every run of the sweep reads."""

    def files(wildcards):
        experiment = sweep_experiment(wildcards)
        paths = experiment_paths(experiment)
        task = hpcseq_config.experiment_task(config, experiment)
        chosen = paths.prepared_files(task) if stage == "prepared" else paths.encoded_files(task)
        return [str(path) for path in chosen.values()]

    return files


def sweep_run_files(kind):
    """Input function: every run's evaluation or training summary (the table reads both)."""

    def files(wildcards):
        paths = SweepPaths.of(RESULTS, wildcards.sweep)
        runs = [paths.run(sweep_experiment(wildcards), model) for model in config["sweeps"][wildcards.sweep]["models"]]
        return [str(run.eval_metrics if kind == "eval" else run.training_summary) for run in runs]

    return files


def sweep_run_config(wildcards):
    """The config of the run of `{model}` (hpcseq.config.sweep_run_config)."""
    return hpcseq_config.sweep_run_config(config, wildcards.sweep, wildcards.model)


def sweep_settings(stage):
    """Params function: the JSON of the run's settings of `stage`, so Snakemake reruns it on change."""

    def params(wildcards):
        settings = hpcseq_config.experiment_settings(sweep_run_config(wildcards), sweep_experiment(wildcards))
        return json.dumps(hpcseq_config.stage_settings(settings, stage), sort_keys=True)

    return params


def sweep_ranks(wildcards):
    return sweep_run_config(wildcards)["experiments"][sweep_experiment(wildcards)]["ranks"]


def sweep_resources(stage):
    """Slurm resources of a sweep's run: those of the stage's job for its experiment with its model.
    Under --slurm-array-jobs=sweep_train, in the Snakemake of an array task that picks the task's
    job (the jobstep plugin with its array_execs), `mpi` is left out (None): the jobstep plugin
    (0.6.1) looks for that key before the array and, finding it, runs the array's first job in
    every task. The Snakemake it then starts for the task's job has `mpi` again (docs/using/sweeps.md)."""
    kind = hpcseq_resources.profile_job_kind(config, stage)

    def resource(key):
        def value(wildcards):
            if key == "mpi" and getattr(workflow.executor_settings, "array_execs", None):
                return None
            check_sweep_array(stage)
            return hpcseq_resources.stage_resources(sweep_run_config(wildcards), sweep_experiment(wildcards), kind)[key]

        return value

    return {key: resource(key) for key in hpcseq_resources.resource_keys(kind, config)}


def sweep_array_requested():
    """Whether the run submits sweep_train's jobs as Slurm job arrays (--slurm-array-jobs)."""
    rules = getattr(workflow.executor_settings, "array_jobs", None) or ""
    return bool({"sweep_train", "all"} & {rule.strip() for rule in rules.replace(";", ",").split(",")})


@functools.cache
def check_sweep_array(stage):
    """An array job asks for the resources of its first job (plugin 2.8.0, run_array_jobs): refuse
    arrays of sweep runs that ask for different ones (sweeps of experiments with other ranks or
    time limits), which would run on the first's geometry."""
    if stage != "train" or not sweep_array_requested():
        return
    kind = hpcseq_resources.profile_job_kind(config, stage)
    asked = {
        (sweep, model): hpcseq_resources.stage_resources(
            hpcseq_config.sweep_run_config(config, sweep, model), config["sweeps"][sweep]["experiment"], kind
        )
        for sweep in SWEEPS
        for model in config["sweeps"][sweep]["models"]
    }
    different = sorted({f"{sweep}.{model}" for (sweep, model), r in asked.items() if r != next(iter(asked.values()))})
    if different:
        raise WorkflowError(
            f"--slurm-array-jobs=sweep_train: the sweep runs {', '.join(different)} ask for other Slurm "
            f"resources than {'.'.join(next(iter(asked)))}, and an array job asks for its first job's: give "
            "the sweeps' experiments the same ranks and time limits, or run without --slurm-array-jobs"
        )


def sweep_results_dir(wildcards, input):
    """Params function: the results folder of the experiment whose data the run reads."""
    return str(results_dir_of(input[0], sweep_experiment(wildcards)))


def sweep_json(wildcards):
    """Params function: what `hpcseq sweep --settings` needs (hpcseq.evaluation.sweep.sweep_description;
    the models a list, in the sweep's order, which the table keeps)."""
    sweep = config["sweeps"][wildcards.sweep]
    models = [[model, config["models"][model]["description"].strip()] for model in sweep["models"]]
    return json.dumps({"name": wildcards.sweep, "experiment": sweep["experiment"], "models": models}, sort_keys=True)
