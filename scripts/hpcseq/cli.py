"""The `hpcseq` command: one subcommand per stage, plus sbatch script rendering and log inspection.

Every stage takes its settings either from the config (`--experiment NAME`, with `--configfile
FILE` and `--config KEY=VALUE ...` as in Snakemake: the form of hand-written and generated sbatch
scripts) or as resolved JSON (`--settings`, the form the Snakemake rules use, so that Snakemake
reruns a stage exactly when its settings change). `hpcseq sbatch` and `hpcseq config` read the
config the same way.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

from hpcseq.errors import ConfigError, ConfigErrors, HpcseqError
from hpcseq.events import STAGE_ERROR
from hpcseq.paths import job_script_file


def _add_config_arguments(parser) -> None:
    """--configfile and --config, as Snakemake has them: the same for every subcommand."""
    parser.add_argument(
        "--configfile",
        type=Path,
        nargs="+",
        help="the config file (default: config/config.yaml); several are merged in order, as Snakemake "
        "merges them (config/config.yaml config/whole-nodes.yaml)",
    )
    parser.add_argument(
        "--config",
        nargs="+",
        metavar="KEY=VALUE",
        help="override config keys as `snakemake --config` does, e.g. preset=lecture "
        "'experiments={shakespeare_char_rnn: {ranks: 4}}'",
    )


def _load_config(args, overrides: dict | None = None) -> dict:
    """The config of --configfile with --config values and then `overrides` merged in, validated."""
    from hpcseq import config as config_module

    command_line = config_module.parse_command_line_values(args.config)
    return config_module.load_config(args.configfile or [config_module.DEFAULT_CONFIG_PATH], overrides, command_line)


def _one_config_file(args) -> Path:
    """The config file a job script's steps read again where the job runs: one file."""
    from hpcseq import config as config_module

    files = args.configfile or [config_module.DEFAULT_CONFIG_PATH]
    if len(files) > 1:
        raise ConfigError(
            "--configfile",
            "a job script's steps read one config file where the job runs: give one (size its training with "
            "--nodes N, or set what the other files set in it)",
        )
    return files[0]


def _add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_argument_group("settings (one of)")
    source.add_argument("--settings", help="resolved experiment settings as JSON (what the Snakemake rules pass)")
    source.add_argument("--experiment", help="an experiment of the config (--configfile, --config)")
    _add_config_arguments(source)
    source.add_argument("--preset", help="override the config's preset (e.g. quick, lecture)")
    parser.add_argument("--results-dir", type=Path, help="default: the config's results_dir, or results/")


def _settings_and_paths(args):
    from hpcseq import config as config_module
    from hpcseq.cluster.validators import expand_path
    from hpcseq.paths import ExperimentPaths

    if args.settings:
        try:
            settings = json.loads(args.settings)
        except json.JSONDecodeError as error:
            raise ConfigError("--settings", f"not valid JSON: {error}") from None
        results_dir = args.results_dir or Path("results")
    else:
        if not args.experiment:
            raise ConfigError("--experiment", "give --experiment NAME (with --configfile FILE), or --settings JSON")
        config = _load_config(args, {"preset": args.preset} if args.preset else None)
        settings = config_module.experiment_settings(config, args.experiment)
        # $SCRATCH and the like expand here, where the stage runs (a job script's step on the cluster)
        results_dir = args.results_dir or Path(expand_path(config["results_dir"], "results_dir"))
    return settings, ExperimentPaths.of(results_dir, settings["name"])


def cmd_preprocess(args) -> int:
    from hpcseq import config as config_module
    from hpcseq.events import setup_logging
    from hpcseq.job_ledger import record_stage

    settings, paths = _settings_and_paths(args)
    record_stage(paths, "preprocess")  # its line in the Slurm job ledger, inside a Slurm job (job_ledger.py)
    log = setup_logging("preprocess")
    if settings["task"] in config_module.CHARACTER_TASKS:
        from hpcseq.data.text_corpus import prepare_text_corpus as prepare
    elif settings["task"] == "next_word":
        from hpcseq.data.text_lines import prepare_text_lines as prepare
    elif settings["task"] == "sequence_regression":
        from hpcseq.data.time_series import prepare_series as prepare
    else:
        from hpcseq.data.labelled_sentences import prepare_sentences as prepare
    report = prepare(settings, paths.prepared)
    sizes = report.get("characters") or report.get("lines") or report.get("sizes")
    log.info("%s: %s", settings["name"], json.dumps(sizes))
    if report["kind"] == "time_series":
        steps = report["steps_ending_runs"]
        log.info(
            "time index: %d gaps (%d missing rows), %d repeated, %d backwards, %d irregular steps; "
            "no window spans one (first: %s)",
            steps["gap"],
            steps["missing_rows"],
            steps["repeated"],
            steps["backwards"],
            steps["irregular"],
            "; ".join(steps["first"][:3]) or "none",
        )
    if report["kind"] == "labelled_sentences":
        skipped = report["source"]["bad_lines_skipped"]
        if skipped:
            log.warning(
                "%d malformed lines skipped (on_bad_line: skip); first: %s",
                skipped,
                report["source"]["bad_lines_first"][:3],
            )
        for method, numbers in report["overlap"].items():
            log.info(
                "%s split: %d of %d test sentences also occur in training",
                method,
                numbers["test_sentences_also_in_train"],
                numbers["test_sentences"],
            )
    log.info("wrote %s", paths.prepared)
    return 0


def cmd_vocab(args) -> int:
    from hpcseq.data.vocabulary import build_vocabulary, unseen_summary
    from hpcseq.events import setup_logging
    from hpcseq.job_ledger import record_stage

    settings, paths = _settings_and_paths(args)
    record_stage(paths, "vocab")  # inside a Slurm job: the ledger hpcseq summary sums (job_ledger.py)
    log = setup_logging("vocabulary")
    document = build_vocabulary(settings, paths.prepared, paths.vocab, paths.encoded)
    log.info(
        "%s: %d %s from %s; encoded: %s",
        settings["name"],
        document["size"],
        document["kind"],
        document["built_from"],
        json.dumps(document["encoded"]["splits"]),
    )
    log.info("%s: %s", settings["name"], unseen_summary(document))
    return 0


def cmd_train(args) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    from hpcseq.job_ledger import record_stage
    from hpcseq.training.train import train

    settings, paths = _settings_and_paths(args)
    if args.model_dir:
        paths = dataclasses.replace(paths, model_root=args.model_dir)
    if args.horovod_timeline:
        # Horovod reads HOROVOD_TIMELINE in hvd.init() on every rank (rank 0 writes the file): set
        # here, it reaches each rank whatever environment srun or mpirun pass on
        args.horovod_timeline.parent.mkdir(parents=True, exist_ok=True)  # else Horovod writes none, silently
        os.environ["HOROVOD_TIMELINE"] = str(args.horovod_timeline.resolve())
    record_stage(paths, "train")  # rank 0, before anything can fail: a failed attempt is paid too
    train(settings, paths, restart=args.restart, foreign_checkpoints=args.foreign_checkpoints)
    return 0


def cmd_evaluate(args) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    from hpcseq.evaluation.evaluate import evaluate
    from hpcseq.job_ledger import record_stage

    settings, paths = _settings_and_paths(args)
    if args.model_dir:
        paths = dataclasses.replace(paths, model_root=args.model_dir)
    if args.eval_dir:
        paths = dataclasses.replace(paths, eval_root=args.eval_dir)
    record_stage(paths, "evaluate")  # inside a Slurm job: the ledger hpcseq summary sums (job_ledger.py)
    evaluate(settings, paths)
    return 0


def cmd_generate(args) -> int:
    """Text from a trained language model: `hpcseq generate results/<experiment> --seed TEXT`."""
    from hpcseq import config as config_module
    from hpcseq.evaluation.generation import check_generate_request
    from hpcseq.paths import ExperimentPaths

    folder = Path(args.experiment_dir)
    config = _load_config(args)
    settings = config_module.experiment_settings(config, folder.name)
    paths = ExperimentPaths.of(folder.parent, folder.name)
    check_generate_request(settings, paths, args.length, args.temperature)  # before TensorFlow loads
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from hpcseq.evaluation.generation import generate_text

    result = generate_text(settings, paths, args.seed, args.length, args.temperature, args.random_seed)
    separator = " " if settings["task"] == "next_word" else ""  # words are shown apart, characters as they are
    print(f"{result['window']}{separator}|{separator}{result['text']}" if args.show_window else result["text"])
    return 0


def _add_generate_command(sub) -> None:
    text = (
        "text from a trained language model (next_character, next_character_sequence, next_word): LENGTH "
        "characters or words after a seed text, greedy (--temperature 0) or sampled; the model rereads its "
        "sliding window at every step (a GRU's state is not carried over: each step reruns the window)"
    )
    generate = sub.add_parser("generate", help=text, description=text)
    generate.add_argument("experiment_dir", help="the experiment's results folder, e.g. results/sonnets_word_lstm")
    generate.add_argument("--seed", required=True, help="the text to continue (cleaned like the corpus)")
    generate.add_argument("--length", type=int, default=100, help="characters or words to generate (default 100)")
    generate.add_argument(
        "--temperature", type=float, default=1.0, help="0: greedy; below 1 safer, above 1 wilder (default 1)"
    )
    generate.add_argument("--random-seed", type=int, default=1, help="of the sampler (default 1)")
    generate.add_argument(
        "--show-window", action="store_true", help="print the model's input window before the text, then |"
    )
    _add_config_arguments(generate)
    generate.set_defaults(function=cmd_generate)


def cmd_plot(args) -> int:
    from hpcseq.evaluation.plots import plot_from_files

    source = args.metrics if args.kind == "curves" else args.evaluation
    if source is None:
        raise ConfigError("plot", "curves need --metrics FILE, confusion needs --evaluation FILE")
    plot_from_files(args.kind, source, args.title, args.output)
    return 0


def cmd_summary(args) -> int:
    from hpcseq.evaluation.summary import write_summary

    write_summary(args.results_dir or Path("results"), args.experiments, args.output)
    return 0


def cmd_sweep(args) -> int:
    from hpcseq.evaluation.sweep import sweep_description, write_sweep
    from hpcseq.paths import SweepPaths

    if args.settings:
        try:
            sweep = json.loads(args.settings)
        except json.JSONDecodeError as error:
            raise ConfigError("--settings", f"not valid JSON: {error}") from None
    elif args.sweep:
        sweep = sweep_description(_load_config(args), args.sweep)
    else:
        raise ConfigError("--sweep", "give --sweep NAME (with --configfile FILE), or --settings JSON")
    results_dir = args.results_dir or Path("results")
    write_sweep(sweep, results_dir)
    paths = SweepPaths.of(results_dir, sweep["name"])
    print(f"wrote {paths.table_json}, {paths.table_md}, {paths.plot}")
    return 0


def cmd_scaling(args) -> int:
    from hpcseq.evaluation.scaling import write_study
    from hpcseq.paths import ScalingPaths

    write_study(args.results_dir or Path("results"), args.experiment, args.ranks)
    paths = ScalingPaths.of(args.results_dir or Path("results"), args.experiment)
    print(f"wrote {paths.table_json}, {paths.table_md}, {paths.plot}")
    return 0


def cmd_launch(args) -> int:
    from hpcseq.cluster.launch import launch

    command = args.command_line[1:] if args.command_line[:1] == ["--"] else args.command_line
    if not command:
        raise ConfigError("launch", "give the command to start after --")
    launch(
        command,
        args.ranks,
        args.nodes,
        args.tasks_per_node or args.ranks,
        args.srun,
        args.local_launcher,
        args.cpus_per_task,
        args.slurm_setup,
        args.slurm_container,
    )
    return 0  # not reached: launch() replaces this process


def cmd_sbatch(args) -> int:
    from hpcseq import config as config_module
    from hpcseq.cluster.jobscript import (
        render_job_script,
        script_request,
    )
    from hpcseq.cluster.resources import job_script_problems

    config_path = _one_config_file(args)
    command_line = config_module.parse_command_line_values(args.config)
    raw = config_module.deep_merge(config_module.load_yaml(config_path), command_line)
    experiments = list(raw.get("experiments", {})) if args.experiment in (None, "all") else [args.experiment]
    every_cluster = args.cluster == "all"
    if args.nodes is not None and args.nodes < 1:
        raise ConfigError("--nodes", f"{args.nodes} is not a whole number >= 1")
    if args.data_only and (args.no_data_steps or args.dependency):
        raise ConfigError("--data-only", "writes the data job alone: --no-data-steps and --dependency are for training")
    overrides = _sbatch_overrides(args, experiments)
    if args.cluster:  # the settings are checked against the cluster the scripts are for
        overrides["cluster"] = None if every_cluster else args.cluster

    def validated(cluster: str | None) -> dict:
        """The config with the options, and with --nodes the ranks that fill that many of the cluster's
        nodes (for every experiment: all are checked against the cluster, not only those written)."""
        every = list(raw.get("experiments", {}))
        sized = config_module.deep_merge(overrides, _ranks_for_nodes(args.nodes, raw, cluster, every))
        return _as_options(
            args, lambda: config_module.validate_config(config_module.deep_merge(raw, sized), command_line)
        )

    config = validated(None if every_cluster else args.cluster or raw.get("cluster"))
    for name in experiments:
        config_module.experiment_settings(config, name)  # a clear error for an unknown experiment
    clusters = sorted(config["clusters"]) if every_cluster else [config["cluster"]]
    if clusters == [None]:
        raise ConfigError("cluster", "name a cluster with --cluster (or set `cluster` in the config)")
    workdir, config_in_job = _job_location(args.workdir, Path(config_path))
    for cluster in clusters:
        job_config = validated(cluster) if args.nodes and every_cluster else config
        for name in experiments:
            sized = _ranks_for_nodes(args.nodes, raw, cluster, [name]).get("experiments", {})
            # the steps read the config with the same ranks (their settings, their global batch)
            ranks_value = (f"experiments={{{name}: {{ranks: {sized[name]['ranks']}}}}}",) if sized else ()
            if args.data_only:  # preprocessing and vocabulary: one CPU task, whatever training asks for
                config_values = (*(args.config or ()), *ranks_value)
                _write_data_script(args, job_config, cluster, name, (workdir, config_in_job), config_values)
                continue
            problems = job_script_problems(job_config, cluster, name)
            if problems and every_cluster:  # the clusters it fits still get their scripts
                why = "; ".join(str(problem) for problem in _renamed_for_options(args, problems))
                print(f"hpcseq sbatch: no script for {name} on {cluster}: {why}", file=sys.stderr)
                continue
            if problems:
                raise ConfigErrors(_renamed_for_options(args, problems))
            request = script_request(
                job_config,
                cluster,
                name,
                workdir,
                config_in_job,
                data_steps=not args.no_data_steps,
                dependency=args.dependency,
                python=args.training_python,
                config_values=(*(args.config or ()), *ranks_value),
            )
            _write_script(args, job_script_file(args.output_dir, cluster, name), render_job_script(request))
    return 0


def _write_data_script(args, config: dict, cluster: str, name: str, location: tuple, config_values: tuple) -> None:
    """The data job of `hpcseq sbatch --data-only`, and a note where it pays for a GPU node."""
    from hpcseq.cluster.jobscript import DATA_JOB_SUFFIX, data_job_cost_note, data_request, render_data_script

    workdir, config_in_job = location
    request = data_request(config, cluster, name, workdir, config_in_job, args.training_python, config_values)
    target = job_script_file(args.output_dir, cluster, f"{name}{DATA_JOB_SUFFIX}")
    _write_script(args, target, render_data_script(request))
    if note := data_job_cost_note(request):
        print(f"hpcseq sbatch: note: {note}", file=sys.stderr)


def _write_script(args, target: Path, text: str) -> None:
    """A job script to its file (atomically), or to standard output with --stdout."""
    from hpcseq.io import write_text

    if args.stdout:
        sys.stdout.write(text)
        return
    write_text(target, text)
    print(target)


def cmd_smoke_test(args) -> int:
    """Write (and with --submit, submit) the smoke test of a cluster's software route."""
    import subprocess

    from hpcseq.cluster.jobscript import render_smoke_script, smoke_request
    from hpcseq.events import SMOKE_JOB_NAME
    from hpcseq.io import write_text

    if args.expect_gpus is not None and args.expect_gpus < 0:
        raise ConfigError("--expect-gpus", f"{args.expect_gpus} is not a whole number >= 0")
    config_path = _one_config_file(args)
    overrides = {"slurm": {"account": args.account}} if args.account else {}
    config = _load_config(args, overrides)
    cluster = args.cluster or config.get("cluster")
    if cluster is None:
        raise ConfigError("cluster", "name a cluster with --cluster (or set `cluster` in the config)")
    workdir, config_in_job = _job_location(args.workdir, Path(config_path))
    request = smoke_request(config, cluster, workdir, config_in_job, python=args.training_python)
    text = render_smoke_script(request, args.expect_gpus)
    if args.stdout:
        sys.stdout.write(text)
        return 0
    target = job_script_file(args.output_dir, cluster, SMOKE_JOB_NAME)
    write_text(target, text)
    print(target)
    if not args.submit:
        print(f"submit it from here with `sbatch {target}`; then `hpcseq logs <jobid>` shows the result")
        return 0
    result = subprocess.run(["sbatch", "--parsable", str(target)], capture_output=True, text=True)
    if result.returncode != 0:
        raise ConfigError("--submit", f"sbatch failed: {(result.stderr or result.stdout).strip()}")
    job = result.stdout.strip().split(";")[0]
    print(f"submitted job {job}; `hpcseq logs {job}` shows the result (10 minutes at most once it runs)")
    return 0


def _sbatch_overrides(args, experiments: list[str]) -> dict:
    """What `hpcseq sbatch`'s options change in the config."""
    from hpcseq.cluster.options import SLURM_SETTING_KEYS

    overrides: dict = {}
    if args.preset:
        overrides["preset"] = args.preset
    slurm = {key: getattr(args, key) for key in SLURM_SETTING_KEYS if getattr(args, key) is not None}
    if slurm:
        overrides["slurm"] = slurm
    per_experiment = {key: getattr(args, key) for key in ("time", "partition") if getattr(args, key)}
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


def _renamed_for_options(args, errors: list[ConfigError]) -> list[ConfigError]:
    """Errors about a value the user gave as --time or --partition name that option, not a config key."""
    renamed = []
    for error in errors:
        option = next(
            (
                f"--{key}"
                for key in ("time", "partition")
                if getattr(args, key) and error.key.startswith("experiments.") and error.key.endswith(f".slurm.{key}")
            ),
            None,
        )
        if not option and args.nodes and error.key.startswith("experiments.") and error.key.endswith(".ranks"):
            option = "--nodes"
        error = ConfigError(option, error.detail) if option else error
        if str(error) not in map(str, renamed):  # one option, given once, for every experiment
            renamed.append(error)
    return renamed


def _as_options(args, validate):
    """validate(), with errors about --time and --partition named after the options."""
    try:
        return validate()
    except ConfigErrors as errors:
        raise ConfigErrors(_renamed_for_options(args, errors.errors)) from None


def _job_location(workdir: str | None, config_path: Path) -> tuple[str, str]:
    """(the directory a job script cds into, the config file as the job names it).

    A job runs in the repository's clone on the cluster: the directory it is submitted from
    ($SLURM_SUBMIT_DIR), or --workdir (which may hold $PROJECT and the like, expanded there), never
    this machine's path of it. It names the config by its path inside the repository, the same in
    every clone."""
    from hpcseq.cluster.jobscript import SUBMIT_DIR
    from hpcseq.cluster.validators import ConfigChecks, path_value
    from hpcseq.config import REPO_ROOT

    checks = ConfigChecks()
    checks.optional(path_value, workdir, "--workdir")
    checks.raise_errors()

    resolved = config_path.resolve()
    try:
        in_repository = str(resolved.relative_to(REPO_ROOT))
    except ValueError:
        if workdir is not None and Path(workdir).resolve() != REPO_ROOT:  # a clone elsewhere cannot read it
            raise ConfigError(
                "--configfile",
                f"{config_path} lies outside the repository ({REPO_ROOT}), so a job in --workdir {workdir} "
                "cannot read it: put the config into the repository (and its clone on the cluster)",
            ) from None
        in_repository = str(resolved)
    return str(workdir) if workdir is not None else SUBMIT_DIR, in_repository


def cmd_download(args) -> int:
    from hpcseq.cluster.validators import expand_path
    from hpcseq.data.download import Download, fetch
    from hpcseq.events import setup_logging

    log = setup_logging("download")
    if args.settings:
        try:
            settings = json.loads(args.settings)
            download = Download.from_config(settings["name"], settings["download"])
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            problem = f"no key {error}" if isinstance(error, KeyError) else str(error)
            raise ConfigError("--settings", f"not a dataset's name and download as JSON: {problem}") from None
        downloads_dir = args.downloads_dir or Path("data/downloads")
    else:
        if not args.dataset:
            raise ConfigError("--dataset", "give --dataset NAME (with --configfile FILE), or --settings JSON")
        config = _load_config(args)
        datasets = config["datasets"]
        if args.dataset not in datasets:
            raise ConfigError("--dataset", f"{args.dataset!r} is not under `datasets`; defined: {', '.join(datasets)}")
        if "download" not in datasets[args.dataset]:
            where = datasets[args.dataset]["path"]
            raise ConfigError(f"datasets.{args.dataset}", f"has no `download`: it is a file at hand ({where})")
        download = Download.from_config(args.dataset, datasets[args.dataset]["download"])
        downloads_dir = args.downloads_dir or Path(expand_path(config["downloads_dir"], "downloads_dir"))
    path = fetch(download, downloads_dir, log=log.info)
    log.info(f"dataset {download.name}: {path}")
    return 0


def cmd_config(args) -> int:
    from hpcseq import config as config_module

    config = _load_config(args, {"preset": args.preset} if args.preset else None)
    if args.jobs:
        from hpcseq.cluster.job_table import profile_job_table

        experiments = sorted(config["experiments"].items())
        default_run = [name for name, experiment in experiments if experiment["default_target"]]
        names = [args.experiment] if args.experiment else default_run
        print(profile_job_table(config, names))
    elif args.experiment:
        print(json.dumps(config_module.experiment_settings(config, args.experiment), indent=2))
    else:
        print(json.dumps(config, indent=2))
    return 0


def cmd_logs(args) -> int:
    from hpcseq.logs import main as logs_main

    return logs_main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hpcseq", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _add_stage_commands(sub)
    _add_plot_command(sub)
    _add_summary_command(sub)
    _add_scaling_command(sub)
    _add_sweep_command(sub)
    _add_launch_command(sub)
    _add_sbatch_command(sub)
    _add_smoke_test_command(sub)
    _add_config_command(sub)
    _add_download_command(sub)
    _add_logs_command(sub)
    _add_generate_command(sub)
    return parser


def _add_stage_commands(sub) -> None:
    """preprocess, vocab, train, evaluate: the workflow's stages, one experiment each."""
    for name, function, text in (
        ("preprocess", cmd_preprocess, "clean and split a dataset"),
        ("vocab", cmd_vocab, "build the vocabulary from the training split and encode all splits"),
        ("train", cmd_train, "train with Horovod (run under horovodrun, mpirun or srun for several ranks)"),
        ("evaluate", cmd_evaluate, "test metrics, baselines and samples of a trained model"),
    ):
        command = sub.add_parser(name, help=text, description=text)
        _add_settings_arguments(command)
        command.set_defaults(function=function)
        if name == "train":
            _add_train_arguments(command)
        if name == "evaluate":
            command.add_argument(
                "--model-dir", type=Path, help="the trained model's folder (default: <results>/<experiment>/model)"
            )
            command.add_argument(
                "--eval-dir", type=Path, help="where the evaluation goes (default: <results>/<experiment>/eval)"
            )


def _add_train_arguments(command) -> None:
    command.add_argument(
        "--restart", action="store_true", help="delete this experiment's checkpoints and start from scratch"
    )
    command.add_argument(
        "--foreign-checkpoints",
        choices=["refuse", "set-aside"],
        default="refuse",
        help="checkpoints written with other settings: refuse them (stop with the "
        "differences; the default) or set them aside in "
        "checkpoints.settings-<hash>/ and start afresh (what the workflow does: "
        "it reruns training because the settings changed); switching back to "
        "settings set aside earlier resumes their checkpoints",
    )
    command.add_argument(
        "--model-dir",
        type=Path,
        help="where the model, metrics, checkpoints and rank reports go (default: <results>/<experiment>/model; "
        "the scaling study's runs have their own)",
    )
    command.add_argument(
        "--horovod-timeline",
        type=lambda text: Path(text) if text else None,
        metavar="FILE",
        help="record Horovod's timeline (HOROVOD_TIMELINE) into FILE; empty: none",
    )


def _add_plot_command(sub) -> None:
    plot = sub.add_parser("plot", help="training curves (from metrics.jsonl) or a confusion matrix as PNG")
    plot.add_argument("kind", choices=["curves", "confusion"])
    plot.add_argument("--metrics", type=Path, help="model/metrics.jsonl (curves)")
    plot.add_argument("--evaluation", type=Path, help="eval/metrics.json (confusion)")
    plot.add_argument("--title", default="")
    plot.add_argument("--output", type=Path, required=True)
    plot.set_defaults(function=cmd_plot)


def _add_summary_command(sub) -> None:
    summary = sub.add_parser("summary", help="summarise evaluated experiments (Markdown)")
    summary.add_argument("--results-dir", type=Path)
    summary.add_argument("--output", type=Path, required=True)
    summary.add_argument("experiments", nargs="+")
    summary.set_defaults(function=cmd_summary)


def _add_scaling_command(sub) -> None:
    scaling = sub.add_parser(
        "scaling",
        help="the scaling study's table, JSON and plot (results/scaling/<experiment>.*) from its runs",
        description="Samples per second, speedup, efficiency and Horovod's communication share of an "
        "experiment's runs at each rank count (results/scaling/<experiment>/ranks-<n>/, trained by "
        "`snakemake scaling`), with Horovod's timelines (results/scaling/<experiment>.timeline/).",
    )
    scaling.add_argument("--results-dir", type=Path, help="default: results/")
    scaling.add_argument("--ranks", type=int, nargs="+", required=True, help="the rank counts of the runs")
    scaling.add_argument("--experiment", required=True)
    scaling.set_defaults(function=cmd_scaling)


def _add_sweep_command(sub) -> None:
    sweep = sub.add_parser(
        "sweep",
        help="a sweep's comparison table, JSON and plot (results/sweeps/<sweep>.*) from its runs",
        description="Each model's test metrics beside the experiment's baselines, from the runs of "
        "`snakemake sweeps` (results/sweeps/<sweep>/<model>/).",
    )
    sweep.add_argument("--results-dir", type=Path, help="default: results/")
    sweep.add_argument("--sweep", help="a sweep of the config (`sweeps:`)")
    sweep.add_argument("--settings", help="the sweep as JSON (name, experiment, models: descriptions; the rule's form)")
    _add_config_arguments(sweep)
    sweep.set_defaults(function=cmd_sweep)


def _add_launch_command(sub) -> None:
    launch = sub.add_parser("launch", help="start a command on N ranks: srun inside Slurm, else horovodrun/mpirun")
    launch.add_argument("--ranks", type=int, required=True)
    launch.add_argument("--nodes", type=int, default=1)
    launch.add_argument("--tasks-per-node", type=int)
    launch.add_argument("--cpus-per-task", type=int)
    launch.add_argument(
        "--srun",
        default="srun",
        help="srun and its flags, used inside a Slurm allocation "
        "(empty: run the command directly, for single-process stages already inside a job step)",
    )
    launch.add_argument("--slurm-setup", default="", help="shell lines run first inside Slurm (modules, venv)")
    launch.add_argument(
        "--slurm-container",
        default="",
        help="inside Slurm, the shell words that run the command in the cluster's container "
        "(its container route: env ... apptainer exec ... IMAGE), between the launcher and the command",
    )
    launch.add_argument("--local-launcher", default="horovodrun", choices=["horovodrun", "mpirun"])
    launch.add_argument("command_line", nargs=argparse.REMAINDER)
    launch.set_defaults(function=cmd_launch)


def _add_sbatch_command(sub) -> None:
    from hpcseq.cluster.limits import ACCOUNT_VARIABLE
    from hpcseq.cluster.options import OPTION_BY_NAME, SLURM_SETTING_KEYS

    sbatch = sub.add_parser("sbatch", help="write Juelich-style sbatch scripts (jobs/<cluster>/<experiment>.sbatch)")
    _add_config_arguments(sbatch)  # the job's steps get the same --configfile and --config
    sbatch.add_argument("--cluster", help="a cluster of the config, or `all` (default: the config's `cluster`)")
    sbatch.add_argument("--experiment", help="an experiment, or `all` (the default)")
    sbatch.add_argument("--preset")
    for key in SLURM_SETTING_KEYS:
        option = OPTION_BY_NAME[key]
        default = f"the config's slurm.{key}" + (f", else ${ACCOUNT_VARIABLE}" if key == "account" else "")
        sbatch.add_argument(option.flag, help=f"{option.argparse_help} (default: {default})")
    sbatch.add_argument("--time", help="training time limit (default: slurm.time.train)")
    sbatch.add_argument("--partition", choices=["gpu", "gpu_devel"], help="which GPU partition of the cluster")
    sbatch.add_argument(
        "--training-python",
        help="interpreter on the cluster (default: the cluster's training_python, else the config's)",
    )
    sbatch.add_argument("--dependency", help="e.g. afterok:12345 (with --no-data-steps after a data job)")
    sbatch.add_argument("--no-data-steps", action="store_true", help="leave preprocessing and vocabulary out")
    sbatch.add_argument(
        "--data-only",
        action="store_true",
        help="write <experiment>-data.sbatch instead: preprocessing and vocabulary as one CPU job, for a "
        "training script written with --no-data-steps to depend on",
    )
    sbatch.add_argument(
        "--nodes",
        type=int,
        help="train on this many whole nodes: ranks = NODES x the cluster's GPUs per node (default: the "
        "experiment's ranks); the job's steps get the same ranks",
    )
    sbatch.add_argument(
        "--workdir",
        help="the repository on the cluster, e.g. '$PROJECT/$USER/hpcseq' (variables expand in the job; "
        "default: the directory the job is submitted from, $SLURM_SUBMIT_DIR)",
    )
    sbatch.add_argument("--output-dir", default="jobs")
    sbatch.add_argument("--stdout", action="store_true", help="print instead of writing files")
    sbatch.set_defaults(function=cmd_sbatch)


def _add_smoke_test_command(sub) -> None:
    smoke = sub.add_parser(
        "smoke-test",
        help="a 10-minute two-node job that checks a cluster's software route (TensorFlow, GPUs, Horovod)",
        description="Writes jobs/<cluster>/hpcseq-smoke-test.sbatch: two whole nodes of the cluster's development "
        "partition, one rank per GPU, started as training is (setup lines, srun flags, the container on the "
        "container route), each rank running `python -m hpcseq.cluster.smoke`: TensorFlow and Horovod import, "
        "TensorFlow sees the GPUs, Horovod initialises on all ranks of both nodes, one allreduce gives the right "
        "sum. Choose the route with --config 'clusters={<cluster>: {software: container}}'.",
    )
    _add_config_arguments(smoke)
    smoke.add_argument("--cluster", help="a cluster of the config (default: the config's `cluster`)")
    smoke.add_argument("--account", help="account (compute budget) the job is charged to (default: slurm.account)")
    smoke.add_argument(
        "--expect-gpus",
        type=int,
        help="GPUs TensorFlow should see on each rank (default: the node's; 0 on a cluster without real GPUs)",
    )
    smoke.add_argument("--training-python", help="interpreter on the cluster (default: as for training)")
    smoke.add_argument("--workdir", help="the repository on the cluster (default: where the job is submitted)")
    smoke.add_argument("--output-dir", default="jobs")
    smoke.add_argument("--stdout", action="store_true", help="print instead of writing the file")
    smoke.add_argument("--submit", action="store_true", help="submit the written script with sbatch")
    smoke.set_defaults(function=cmd_smoke_test)


def _add_config_command(sub) -> None:
    show = sub.add_parser(
        "config", help="validate the config and print it resolved (defaults, preset and --config values applied)"
    )
    _add_config_arguments(show)
    show.add_argument("--experiment", help="print this experiment's resolved settings (with --jobs: its jobs)")
    show.add_argument("--preset")
    show.add_argument(
        "--jobs",
        action="store_true",
        help="print each stage's Slurm job under `--profile slurm` on the config's cluster (--config cluster=NAME): "
        "where it runs, partition, time, nodes, account, QoS, reservation; of the default run's experiments",
    )
    show.set_defaults(function=cmd_config)


def _add_download_command(sub) -> None:
    text = (
        "fetch a dataset that does not ship (config datasets.<name>.download): resumed when cut short, "
        "checked by sha256, never fetched again once verified; needs internet (a cluster's login node)"
    )
    download = sub.add_parser("download", help=text, description=text)
    source = download.add_argument_group("dataset (one of)")
    source.add_argument("--dataset", help="a dataset of the config (--configfile, --config)")
    _add_config_arguments(source)
    source.add_argument("--settings", help="its name and download entry as JSON (what the Snakemake rule passes)")
    download.add_argument(
        "--downloads-dir", type=Path, help="default: the config's downloads_dir, or data/downloads with --settings"
    )
    download.set_defaults(function=cmd_download)


def _add_logs_command(sub) -> None:
    logs = sub.add_parser(
        "logs",
        help="what happened to Slurm jobs and local runs: state, progress, metrics, cause of failures",
        description="State, progress, metrics and speed of the jobs of a run directory (Slurm jobs, and the\n"
        "jobs of local runs), and for a failed job the cause, its evidence and the next step. A single\n"
        "job id, or a local run's rule log, gives the detailed view.",
        epilog="""sources:
  .snakemake/slurm_logs/rule_<rule>/<experiment>/<id>.log
        Snakemake's Slurm logs: one per job of `snakemake --profile slurm` (rule, outputs, how it ended)
  <job>_out.<id>, <job>_err.<id>
        output files of the generated job scripts (jobs/<cluster>/<experiment>.sbatch) submitted by hand
  <logs_dir>/<stage>/<experiment>.log   (stage: preprocess, vocabulary, train, evaluate)
        the rule logs: each stage's own output; for a Slurm job, its program output; without Slurm
        (`snakemake --cores N`, `make run`) each is a row of its own (JOB `local`), its state from
        Snakemake's log of the run (.snakemake/log/), its lock and incomplete markers (.snakemake/),
        the stage's outputs, and its time from <benchmarks_dir>/<stage>/<experiment>.tsv
  <results_dir>/<experiment>/model/metrics.jsonl
        per-epoch metrics and speed of training (also checkpoints/ and ranks/ there)
  sacct, squeue
        Slurm's state, times, nodes, GPUs and pending reasons, when they answer
The folders are those of the run directory's config/config.yaml (defaults logs/, results/,
benchmarks/); --results-dir overrides the results folder.""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    logs.add_argument(
        "targets",
        nargs="*",
        metavar="JOB|local|FILE|DIR",
        help="job ids, `local` (only the jobs of local runs), log files or run directories "
        "(default: the current directory)",
    )
    logs.add_argument(
        "--results-dir",
        type=Path,
        help="default: the one the logs name, else the results_dir of the run directory's config/config.yaml, "
        "else its results/",
    )
    logs.add_argument("--json", action="store_true", help="machine-readable output")
    logs.add_argument("--follow", action="store_true", help="refresh until no job is pending or running")
    logs.add_argument("--interval", type=float, default=30.0, help="seconds between refreshes (default 30)")
    logs.set_defaults(function=cmd_logs)


def _prepare_signals(command: str) -> None:
    """Slurm's warning signal (SIGUSR1 before the time limit) must not kill a stage: training
    checkpoints and stops on it; the other stages are short and ignore it."""
    import signal

    if command == "train":
        from hpcseq.training.signals import INTERRUPTIONS

        INTERRUPTIONS.install()
    elif command != "launch":  # launch execs the launcher, which handles its own signals
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _prepare_signals(args.command)
    try:
        return args.function(args)
    except HpcseqError as error:
        print(STAGE_ERROR.text(stage=args.command, message=error), file=sys.stderr, flush=True)
        from hpcseq.training.signals import TrainingInterrupted

        if isinstance(error, TrainingInterrupted):
            _exit_now(error.exit_code)
        return error.exit_code


def _exit_now(code: int) -> None:
    """Leave without interpreter teardown after a signal stop.

    The checkpoint is written (atomically) and every rank stopped at the same step, so nothing is
    left to do; but tearing down TensorFlow waits for the tf.data workers of the interrupted epoch,
    measured at 8 s with 2 ranks under mpirun and 18-35 s with 2 ranks on one CPU each under srun,
    time the job may not have before its limit.
    """
    import logging

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
