# Shared helpers: config validation, paths, per-stage settings, interpreters.
import json
import os
import re
import shlex
import sys
from pathlib import Path

REPO_ROOT = Path(workflow.basedir)
sys.path.insert(0, str(REPO_ROOT / "scripts"))  # the rules' code, also when hpcseq is not installed

from hpcseq import config as hpcseq_config  # noqa: E402
from hpcseq.cluster import clusters as hpcseq_clusters  # noqa: E402
from hpcseq.cluster import resources as hpcseq_resources  # noqa: E402
from hpcseq.errors import HpcseqError  # noqa: E402
from hpcseq.paths import ExperimentPaths, encoded_files, prepared_files  # noqa: E402


def validate_config(raw, schema=hpcseq_config.SCHEMA_PATH):
    """Validate against workflow/schemas/config.schema.yaml and resolve defaults and the preset.

    hpcseq's validator uses the same schema as snakemake.utils.validate, but reports every
    problem at once with its dotted key and, for a mistyped key, the valid ones.
    """
    try:
        return hpcseq_config.validate_config(dict(raw), command_line=workflow.config_settings.config)
    except HpcseqError as error:
        raise WorkflowError(str(error))


CONFIG = validate_config(config)
RESULTS = CONFIG["results_dir"]
LOGS = CONFIG["logs_dir"]
BENCHMARKS = CONFIG["benchmarks_dir"]
EXPERIMENTS = sorted(CONFIG["experiments"])
WORKFLOW_PYTHON = sys.executable  # preprocessing, vocabulary and plots need no TensorFlow


def resolve_repo_path(path):
    """A path relative to the repository; a bare command name (python) stays a name for PATH."""
    if "/" not in path:
        return path
    path = Path(os.path.expandvars(os.path.expanduser(path)))
    return str(path if path.is_absolute() else REPO_ROOT / path)


# --config training_python=... on the command line wins over a cluster's own interpreter
# (config_settings.config holds the --config values only; overwrite_config also the --configfile ones).
PYTHON_FROM_COMMAND_LINE = (workflow.config_settings.config or {}).get("training_python")
TRAINING_PYTHON = resolve_repo_path(
    PYTHON_FROM_COMMAND_LINE or hpcseq_resources.training_interpreter(CONFIG, CONFIG["cluster"])
)


def name_pattern(names):
    """A wildcard constraint matching exactly these experiment names (nothing if none)."""
    return "|".join(re.escape(name) for name in names) or "(?!x)x"


CHAR_EXPERIMENTS = [n for n in EXPERIMENTS if CONFIG["experiments"][n]["model"] == "char_rnn"]
SENTENCE_EXPERIMENTS = [n for n in EXPERIMENTS if CONFIG["experiments"][n]["model"] == "sentiment_lstm"]


wildcard_constraints:
    experiment=name_pattern(EXPERIMENTS),


def settings(experiment):
    return hpcseq_config.experiment_settings(CONFIG, experiment)


def stage_json(stage):
    """Params function: the JSON of what `stage` depends on, so Snakemake reruns it on change."""

    def params(wildcards):
        return json.dumps(hpcseq_config.stage_settings(settings(wildcards.experiment), stage), sort_keys=True)

    return params


def paths(experiment):
    return ExperimentPaths.of(RESULTS, experiment)


def model_of(wildcards):
    return CONFIG["experiments"][wildcards.experiment]["model"]


def dataset_path(wildcards):
    dataset = CONFIG["datasets"][CONFIG["experiments"][wildcards.experiment]["dataset"]]
    return dataset["path"]


def prepared_inputs(wildcards):
    """The preprocessing outputs of an experiment (their names depend on its model)."""
    return [str(paths(wildcards.experiment).prepared / name) for name in prepared_files(model_of(wildcards))]


def encoded_inputs(wildcards):
    p = paths(wildcards.experiment)
    return [str(p.vocab)] + [str(p.encoded / name) for name in encoded_files(model_of(wildcards))]


def ranks_of(wildcards):
    return CONFIG["experiments"][wildcards.experiment]["ranks"]


def all_targets():
    targets = []
    for name in EXPERIMENTS:
        p = paths(name)
        targets += [str(p.eval_metrics), str(p.plots / "training_curves.png")]
        if name in SENTENCE_EXPERIMENTS:
            targets.append(str(p.plots / "confusion_matrix.png"))
    targets.append(f"{RESULTS}/summary.md")
    jobs = CONFIG["jobs_dir"]
    targets += [f"{jobs}/{cluster}/{name}.sbatch" for cluster in sorted(CONFIG["clusters"]) for name in EXPERIMENTS]
    return targets


def stage_resources(stage):
    """Slurm resources of a stage, from the cluster named by `cluster` in the config (used by the
    Slurm profile; on a local run they only feed `hpcseq launch`, which ignores them)."""
    keys = hpcseq_resources.TRAIN_RESOURCE_KEYS if stage == "train" else hpcseq_resources.CPU_RESOURCE_KEYS

    def resource(key):
        return lambda wildcards: hpcseq_resources.stage_resources(CONFIG, wildcards.experiment, stage)[key]

    return {key: resource(key) for key in keys}


def cluster_setup(wildcards):
    """The cluster's environment setup (module loads, venv), run first by `hpcseq launch` in Slurm."""
    if CONFIG["cluster"] is None:
        return ""
    cluster = hpcseq_clusters.parse_cluster(CONFIG["cluster"], CONFIG["clusters"][CONFIG["cluster"]])
    return "\n".join(hpcseq_clusters.setup_lines(cluster))


def results_dir_from(name):
    """Params function: the results folder, derived from an output or input file (results/<experiment>/...)
    rather than hard-coded, so that it follows the file wherever Snakemake puts it."""

    def results_dir(wildcards, input, output):
        files = output if name in output.keys() else input
        path = Path(getattr(files, name))
        while path.name != wildcards.experiment:
            path = path.parent
        return str(path.parent)

    return results_dir


# The rules that run as Slurm jobs end their shell command with
#   > {log} 2>&1 || { status=$?; tail -n 40 {log} >&2; exit $status; }
# so that on failure the end of the rule's log is also in the job's own Slurm log
# (.snakemake/slurm_logs/...). A retry overwrites the rule's log, not that one: `hpcseq logs`
# can then diagnose every attempt.

WORKFLOW_ENV = "../../envs/workflow.yaml"
TRAINING_ENV = "../../envs/training.yaml"


CLUSTERS = sorted(CONFIG["clusters"])
JOBS = CONFIG["jobs_dir"]
CONFIG_FILE = str(Path(workflow.configfiles[-1]) if workflow.configfiles else REPO_ROOT / "config" / "config.yaml")


def sbatch_overrides(wildcards):
    """The resolved settings that may come from `--config` rather than the file, as CLI options."""
    options = []
    for key in ("account", "reservation", "qos", "mail_user", "mail_type"):
        if CONFIG["slurm"].get(key):
            options += [f"--{key.replace('_', '-')}", str(CONFIG["slurm"][key])]
    if CONFIG.get("preset"):
        options += ["--preset", CONFIG["preset"]]
    if PYTHON_FROM_COMMAND_LINE:  # else each cluster's own, or the file's
        options += ["--training-python", PYTHON_FROM_COMMAND_LINE]
    return " ".join(shlex.quote(option) for option in options)
