"""The presets (`preset:`, `presets:`): which one applies, and an experiment resolved over it.

Resolution merges, per experiment:

    schema defaults  <  presets.<preset>.tasks.<task>  <  presets.<preset>.models.<model>
                     <  the experiment's own keys

so the shipped experiments carry no epoch counts and the preset decides how long they run,
while anything a user writes into an experiment wins.
"""

from __future__ import annotations

from collections.abc import Callable

from hpcseq.config.files import deep_merge
from hpcseq.config.schema import fill_defaults
from hpcseq.errors import ConfigError


def preset_errors(config: dict) -> list[ConfigError]:
    """The chosen preset is one of `presets`."""
    preset = config.get("preset")
    presets = config.get("presets", {})
    if preset is not None and preset not in presets:
        valid = ", ".join(sorted(presets)) or "(none defined)"
        return [ConfigError("preset", f"{preset!r} is not defined under `presets`; defined: {valid}")]
    return []


def experiment_resolver(raw: dict, config: dict, schema: dict) -> Callable[[str, str], dict]:
    """`resolved(name, model)`: an experiment of `raw` resolved over the preset of `config` (its
    defaults filled by `schema`, the schema with the named models wired in)."""
    preset_name = config.get("preset")
    # as written (the filled-in preset would carry every default, which would hide the task's keys)
    preset = (raw.get("presets") or {}).get(preset_name) or {} if preset_name else {}

    def resolved(name: str, model: str) -> dict:
        """The experiment `name` as written, with `model` as its model, over that model's preset."""
        overrides = deep_merge(
            preset.get("tasks", {}).get(config["models"][model]["task"], {}), preset.get("models", {}).get(model, {})
        )
        own = {**raw["experiments"][name], "model": model}
        return fill_defaults(deep_merge(overrides, own), schema["$defs"]["experiment"], schema)

    return resolved
