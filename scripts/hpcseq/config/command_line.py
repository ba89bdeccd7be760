"""Values from the command line, read as Snakemake reads them and typed where the schema wants numbers.

`snakemake --config KEY=VALUE` and `hpcseq ... --config KEY=VALUE` read alike: each VALUE as YAML,
every scalar a string until the schema says what it is.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import yaml

from hpcseq.config.files import deep_merge, load_schema
from hpcseq.errors import ConfigError

_TYPED_SCALARS = {"integer": int, "number": (int, float), "boolean": bool, "null": type(None)}
# YAML's spellings of null, which BaseLoader keeps as strings (`--config 'slurm={reservation: null}'`)
YAML_NULLS = ("null", "Null", "NULL", "~")


def _set_at(mapping: dict, path: list, value: Any) -> None:
    for part in path[:-1]:
        mapping = mapping[part]
    mapping[path[-1]] = value


def _has_path(mapping: Any, path: list) -> bool:
    for part in path:
        in_list = isinstance(mapping, list) and isinstance(part, int) and 0 <= part < len(mapping)
        if not in_list and (not isinstance(mapping, dict) or part not in mapping):
            return False
        mapping = mapping[part]
    return True


def coerce_command_line_values(raw: dict, command_line: dict, schema: dict | None = None) -> dict:
    """Type the strings that came from `snakemake --config key={...}` where the schema wants numbers.

    Snakemake parses a nested `--config` value with YAML's BaseLoader, which keeps every scalar a
    string: `--config 'slurm={signal_seconds_before_limit: 300}'` arrives as "300". Only values
    given on the command line are typed, and only where the schema rejects the string and the
    YAML reading of it is of a type the schema accepts; a config file keeps strict types.
    """
    schema = schema or load_schema()
    result = copy.deepcopy(raw)
    _set_command_line_nulls(result, command_line)
    validator = jsonschema.Draft202012Validator(schema)
    for _ in range(100):  # one value per round, then validate again (a typed value can open if/then branches)
        changed = False
        for error in validator.iter_errors(result):
            path = list(error.absolute_path)
            if error.validator != "type" or not isinstance(error.instance, str) or not _has_path(command_line, path):
                continue
            wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
            try:
                value = yaml.safe_load(error.instance)
            except yaml.YAMLError:
                continue
            if any(
                kind in _TYPED_SCALARS
                and isinstance(value, _TYPED_SCALARS[kind])
                and not (kind in ("integer", "number") and isinstance(value, bool))
                for kind in wanted
            ):
                _set_at(result, path, value)
                changed = True
                break
        if not changed:
            return result
    return result


def _set_command_line_nulls(result: dict, command_line: Any, path: tuple = ()) -> None:
    """Every value of `command_line` spelled as YAML's null becomes None in `result` (no name of a
    reservation, account or file is `null`: a config file reads it as null too)."""
    if isinstance(command_line, dict):
        for key, value in command_line.items():
            _set_command_line_nulls(result, value, (*path, key))
    elif isinstance(command_line, str) and command_line in YAML_NULLS and _has_path(result, list(path)):
        _set_at(result, list(path), None)


def parse_command_line_values(items: list[str] | None) -> dict:
    """`--config KEY=VALUE ...` read as Snakemake reads its `--config`: each VALUE as YAML, so
    `experiments={shakespeare_char_rnn: {ranks: 4}}` is a nested mapping; scalars stay strings
    until validate_config types them by the schema (`command_line`)."""
    values: dict = {}
    for item in items or []:
        key, separator, text = item.partition("=")
        if not separator or not key.strip():
            raise ConfigError(
                "--config",
                f"{item!r} is not KEY=VALUE (a config file is given with --configfile FILE, as in Snakemake)",
            )
        try:
            value = yaml.load(text, Loader=yaml.BaseLoader)  # strings, lists and dicts only
        except yaml.YAMLError as error:
            raise ConfigError(f"--config {key.strip()}", f"not valid YAML: {error}") from None
        values = deep_merge(values, {key.strip(): value})
    return values
