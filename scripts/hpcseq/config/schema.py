"""The schema applied: the named models wired in, defaults filled, each problem named by its dotted key.

The schema is workflow/schemas/config.schema.yaml; an unknown key is reported with the list of the
valid ones there.
"""

from __future__ import annotations

import copy
import difflib
from typing import Any

import jsonschema

from hpcseq.config.files import load_schema
from hpcseq.errors import ConfigError


def resolve_ref(schema: dict, root: dict) -> dict:
    """Follow local `$ref`s ("#/$defs/...") and merge sibling keywords such as `default`."""
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local $ref supported, got {ref}")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        siblings = {key: value for key, value in schema.items() if key != "$ref"}
        schema = {**target, **siblings}
        seen += 1
        if seen > 50:
            raise ValueError(f"$ref loop at {ref}")
    return schema


def schema_for_models(models: dict, schema: dict | None = None) -> dict:
    """The schema with the named models wired in: an experiment's `model` must name one, and its
    keys (and a preset's overrides for it) are those of the model's task. JSON Schema cannot look
    a name up elsewhere in the document, so one if/then per named model is added here."""
    effective = copy.deepcopy(schema or load_schema())
    tasks = effective["$defs"]["task"]["enum"]
    task_of = {name: model["task"] for name, model in models.items() if isinstance(model, dict)}
    task_of = {name: task for name, task in task_of.items() if task in tasks}
    experiment = effective["$defs"]["experiment"]
    experiment["properties"]["model"] = {"enum": sorted(models)} if models else {"type": "string"}
    experiment["allOf"] = [
        {"if": {"properties": {"model": {"const": name}}}, "then": {"$ref": f"#/$defs/{task}_experiment"}}
        for name, task in sorted(task_of.items())
    ]
    effective["$defs"]["preset"]["properties"]["models"] = {
        **effective["$defs"]["preset"]["properties"]["models"],
        "properties": {name: {"$ref": f"#/$defs/{task}_overrides"} for name, task in sorted(task_of.items())},
        "additionalProperties": False,
    }
    return effective


def _experiment_schema(experiment: dict, schema: dict, root: dict) -> dict | None:
    """The branch of an experiment's schema (schema_for_models) that its model selects."""
    model = experiment.get("model") if isinstance(experiment, dict) else None
    for branch in schema.get("allOf", []):
        if branch["if"]["properties"]["model"].get("const") == model:
            return resolve_ref(branch["then"], root)
    return None


def fill_defaults(instance: Any, schema: dict, root: dict) -> Any:
    """Return a copy of `instance` with every missing key that has a schema default filled in."""
    schema = resolve_ref(schema, root)
    if isinstance(instance, list) and isinstance(schema.get("items"), dict):
        return [fill_defaults(item, schema["items"], root) for item in instance]
    if not isinstance(instance, dict):
        return instance
    if "allOf" in schema and "properties" in schema and "model" in schema["properties"]:
        # an experiment: the task of its model decides which sub-schema applies
        sub = _experiment_schema(instance, schema, root)
        if sub is not None:
            schema = sub
    result = dict(instance)
    properties = schema.get("properties", {})
    for key, subschema in properties.items():
        subschema = resolve_ref(subschema, root)
        if key not in result and "default" in subschema:
            result[key] = copy.deepcopy(subschema["default"])
        if key in result:
            result[key] = fill_defaults(result[key], subschema, root)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for key in result:
            if key not in properties:
                result[key] = fill_defaults(result[key], extra, root)
    return result


def _dotted(path) -> str:
    return ".".join(str(part) for part in path)


def _format_schema_error(error, root: dict) -> ConfigError:
    key = _dotted(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(resolve_ref(error.schema, root).get("properties", {}))
        unknown = sorted(k for k in error.instance if k not in allowed)
        valid = ", ".join(sorted(allowed)) or "(none)"
        errors = []
        for name in unknown:
            close = difflib.get_close_matches(str(name), sorted(allowed), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            errors.append(
                ConfigError(f"{key}.{name}" if key else str(name), f"unknown key{hint}; valid keys here are: {valid}")
            )
        if len(errors) == 1:
            return errors[0]
        return ConfigError(key, f"unknown keys {', '.join(unknown)}; valid keys here are: {valid}")
    if error.validator == "required":
        return ConfigError(key, error.message.replace("is a required property", "is required"))
    if error.validator == "enum":
        allowed = ", ".join(repr(v) for v in error.validator_value)
        return ConfigError(key, f"{error.instance!r} is not one of {allowed}")
    if error.validator == "pattern":
        return ConfigError(key, f"{error.instance!r} does not match the pattern {error.validator_value}")
    return ConfigError(key, error.message)


def schema_errors(config: dict, schema: dict | None = None) -> list[ConfigError]:
    schema = schema or load_schema()
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    formatted: list[ConfigError] = []
    seen = set()
    for error in errors:
        # if/then branches report the same problem twice (once for the failed `then`): keep leaves
        if error.validator in ("allOf", "if", "then"):
            continue
        item = _format_schema_error(error, schema)
        if str(item) not in seen:
            seen.add(str(item))
            formatted.append(item)
    return formatted
