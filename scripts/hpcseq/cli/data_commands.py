"""The data commands: `hpcseq preprocess` and `hpcseq vocab` (the workflow's data stages, one
experiment each) and `hpcseq download` (a dataset that does not ship).

Each command imports what it runs when it runs: a data stage starts once per experiment, and its
start (interpreter and imports) is a good part of its time on a small corpus.
"""

from __future__ import annotations

import json
from pathlib import Path

from hpcseq.cli.arguments import add_command, add_config_arguments, add_stage_command, read_config, settings_and_paths
from hpcseq.errors import ConfigError
from hpcseq.events import setup_logging
from hpcseq.job_ledger import record_stage


def cmd_preprocess(args) -> int:
    from hpcseq.data.preparation import log_preparation, prepare_dataset

    settings, paths = settings_and_paths(args)
    record_stage(paths, "preprocess")  # its line in the Slurm job ledger, inside a Slurm job (job_ledger.py)
    log = setup_logging("preprocess")
    report = prepare_dataset(settings, paths.prepared)
    log_preparation(log, settings["name"], report)
    log.info("wrote %s", paths.prepared)
    return 0


def cmd_vocab(args) -> int:
    from hpcseq.data.vocabulary import build_vocabulary, unseen_summary

    settings, paths = settings_and_paths(args)
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


def cmd_download(args) -> int:
    from hpcseq.cluster.validators import expand_path
    from hpcseq.data.download import fetch
    from hpcseq.data.download_request import configured_download, download_from_json

    log = setup_logging("download")
    if args.settings:
        download = download_from_json(args.settings)
        downloads_dir = args.downloads_dir or Path("data/downloads")
    else:
        if not args.dataset:
            raise ConfigError("--dataset", "give --dataset NAME (with --configfile FILE), or --settings JSON")
        config = read_config(args)
        download = configured_download(config["datasets"], args.dataset)
        downloads_dir = args.downloads_dir or Path(expand_path(config["downloads_dir"], "downloads_dir"))
    path = fetch(download, downloads_dir, log=log.info)
    log.info(f"dataset {download.name}: {path}")
    return 0


def add_data_stage_commands(sub) -> None:
    """preprocess and vocab: the workflow's data stages, one experiment each."""
    add_stage_command(sub, "preprocess", cmd_preprocess, "clean and split a dataset")
    add_stage_command(sub, "vocab", cmd_vocab, "build the vocabulary from the training split and encode all splits")


def add_download_command(sub) -> None:
    text = (
        "fetch a dataset that does not ship (config datasets.<name>.download): resumed when cut short, "
        "checked by sha256, never fetched again once verified; needs internet (a cluster's login node)"
    )
    download = add_command(sub, "download", cmd_download, help=text, description=text)
    source = download.add_argument_group("dataset (one of)")
    source.add_argument("--dataset", help="a dataset of the config (--configfile, --config)")
    add_config_arguments(source)
    source.add_argument("--settings", help="its name and download entry as JSON (what the Snakemake rule passes)")
    download.add_argument(
        "--downloads-dir", type=Path, help="default: the config's downloads_dir, or data/downloads with --settings"
    )
