"""Shared values of the hpcseq.cluster tests: the shipped config with site settings, and hostile strings."""

from __future__ import annotations

from hpcseq import config as config_module

WORKDIR = "/p/project/training2543/hpcseq"
SITE = {
    "account": "training2543",
    "reservation": "dl-course",
    "mail_user": "jane.doe@fz-juelich.de",
    "mail_type": "end,fail",
}
CLUSTERS = sorted(config_module.load_yaml(config_module.DEFAULT_CONFIG_PATH)["clusters"])

# Values that must never reach a shell as code: each is refused, or quoted as a literal.
HOSTILE = [
    "x; rm -rf ~",
    "$(id)",
    "`id`",
    "a\nb",
    "dc-gpu && touch /tmp/pwned",
    "'quoted'",
    "a b",
    "",
    "-x",
    "../../etc",
]


def shipped_config(**overrides) -> dict:
    """config/config.yaml with overrides, validated (defaults filled, presets applied)."""
    raw = config_module.load_yaml(config_module.DEFAULT_CONFIG_PATH)
    return config_module.validate_config(config_module.deep_merge(raw, overrides))
