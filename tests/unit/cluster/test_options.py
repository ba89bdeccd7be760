"""hpcseq.cluster.options: the sbatch option table, its directives and arguments, and the site settings."""

from __future__ import annotations

import argparse

import pytest

from hpcseq import config as config_module
from hpcseq.cluster import options
from hpcseq.errors import ConfigErrors
from tests.unit.cluster.conftest import HOSTILE, shipped_config


def test_unknown_sbatch_option_lists_the_valid_ones():
    with pytest.raises(ConfigErrors) as caught:
        options.sbatch_options({"partiton": "dc-gpu"})
    message = str(caught.value)
    assert "sbatch.partiton: unknown sbatch option" in message and "partition" in message and "mail_user" in message


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("key", options.SLURM_SETTING_KEYS)
def test_hostile_site_values_are_rejected_by_key(key, value):
    with pytest.raises(ConfigErrors) as caught:
        shipped_config(slurm={key: value})
    assert any(error.key == f"slurm.{key}" for error in caught.value.errors)


def test_every_problem_is_reported_and_none_means_unset():
    with pytest.raises(ConfigErrors) as caught:
        options.sbatch_options({"nodes": 0, "qos": None, "time": "soon", "requeue": "yes"}, "x")
    assert [error.key for error in caught.value.errors] == ["x.nodes", "x.time", "x.requeue"]
    assert options.sbatch_options({"qos": None, "requeue": False, "mail_type": "end"}) == {
        "requeue": False,
        "mail_type": "END",
    }


def test_directives_and_arguments_in_the_table_order():
    values = options.sbatch_options(
        {"requeue": True, "open_mode": "append", "account": "a", "time": "90", "job_name": "j"}
    )
    assert options.render_directives({**values, "output": "o %j"}) == [
        "#SBATCH --job-name=j",
        "#SBATCH --output='o %j'",
        "#SBATCH --time=01:30:00",
        "#SBATCH --account=a",
        "#SBATCH --requeue",
        "#SBATCH --open-mode=append",
    ]
    assert options.sbatch_arguments(values) == [
        "--job-name=j",
        "--time=01:30:00",
        "--account=a",
        "--requeue",
        "--open-mode=append",
    ]
    # a false flag is left out of both
    assert options.render_directives({"requeue": False}) == options.sbatch_arguments({"requeue": False}) == []


def test_the_site_settings_are_sbatch_options_in_table_order():
    names = [option.name for option in options.SBATCH_OPTIONS]
    assert set(options.SLURM_SETTING_KEYS) <= set(names)
    assert list(options.SLURM_SETTING_KEYS) == sorted(options.SLURM_SETTING_KEYS, key=names.index)


def test_the_config_schema_has_exactly_the_site_settings():
    """workflow/schemas/config.schema.yaml lists `slurm:` keys for its users; they are these."""
    properties = config_module.load_schema()["$defs"]["slurm_settings"]["properties"]
    not_sbatch_options = {"time", "signal_seconds_before_limit", "reservation_stages", "qos_stages"}
    assert set(properties) - not_sbatch_options == set(options.SLURM_SETTING_KEYS)


def test_site_options_read_only_the_site_settings():
    slurm = {"account": "a", "qos": None, "time": {"train": "90"}, "signal_seconds_before_limit": 120}
    assert options.site_options(slurm) == {"account": "a"}


@pytest.mark.parametrize("option", options.SBATCH_OPTIONS, ids=lambda option: option.name)
def test_every_option_has_help_for_users(option):
    """`hpcseq sbatch --help` shows these: one plain line each, more than the option's own name."""
    text = option.help
    assert text and text == text.strip() and "\n" not in text and len(text) <= 100
    capitalised = text[0].isupper() and text[1].islower()  # an acronym (CPU) may start it
    assert not capitalised and not text.endswith("."), "argparse's style: lower case, no final full stop"
    assert text.lower() != option.name.replace("_", " ")
    assert option.flag == "--" + option.name.replace("_", "-")
    parser = argparse.ArgumentParser(formatter_class=lambda prog: argparse.HelpFormatter(prog, width=500))
    parser.add_argument(option.flag, help=option.argparse_help)
    assert text in parser.format_help()  # argparse_help escapes the % of %j
