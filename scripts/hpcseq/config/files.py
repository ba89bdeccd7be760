"""Where the config and its schema live, reading them, and merging one mapping over another.

deep_merge merges as Snakemake merges its --configfile files and --config values.
"""

from __future__ import annotations

import copy

import yaml

from hpcseq.io import load_yaml
from hpcseq.paths import DEFAULT_CONFIG_PATH, REPO_ROOT, SCHEMA_PATH

__all__ = ["DEFAULT_CONFIG_PATH", "REPO_ROOT", "SCHEMA_PATH", "deep_merge", "load_schema", "load_yaml"]


_schema_cache: dict | None = None


def load_schema() -> dict:
    global _schema_cache
    if _schema_cache is None:
        with open(SCHEMA_PATH, encoding="utf-8") as handle:
            _schema_cache = yaml.safe_load(handle)
    return _schema_cache


def deep_merge(base: dict, override: dict) -> dict:
    """`override` wins; nested mappings merge key by key; lists and scalars are replaced."""
    result = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result
