"""What `hpcseq download` fetches: a dataset of the config (`--dataset`), or the name and download
entry the Snakemake rule passes as JSON (`--settings`)."""

from __future__ import annotations

import json

from hpcseq.data.download import Download
from hpcseq.errors import ConfigError


def download_from_json(text: str) -> Download:
    """The download of `{"name": ..., "download": {...}}` (the rule's --settings)."""
    try:
        settings = json.loads(text)
        return Download.from_config(settings["name"], settings["download"])
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        problem = f"no key {error}" if isinstance(error, KeyError) else str(error)
        raise ConfigError("--settings", f"not a dataset's name and download as JSON: {problem}") from None


def configured_download(datasets: dict, name: str) -> Download:
    """The download of the config's dataset `name` (its `datasets` entry), which must have one."""
    if name not in datasets:
        raise ConfigError("--dataset", f"{name!r} is not under `datasets`; defined: {', '.join(datasets)}")
    if "download" not in datasets[name]:
        where = datasets[name]["path"]
        raise ConfigError(f"datasets.{name}", f"has no `download`: it is a file at hand ({where})")
    return Download.from_config(name, datasets[name]["download"])
