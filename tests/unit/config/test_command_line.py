"""hpcseq.config: values from the command line (`snakemake --config`, `hpcseq config --config`),
typed by the schema where it wants numbers, and refused by key where they are wrong."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from hpcseq import cli
from hpcseq import config as C
from hpcseq.errors import ConfigErrors
from tests.unit.config.conftest import base_raw


def test_command_line_strings_are_typed_where_the_schema_wants_numbers():
    # Snakemake parses `--config 'experiments={chars: {ranks: 2}}'` with YAML's BaseLoader: "2"
    raw = base_raw()
    command_line = {
        "experiments": {"chars": {"ranks": "2", "training": {"learning_rate": "0.01"}}},
        "slurm": {"account": "12345"},
    }
    raw = C.deep_merge(raw, command_line)
    config = C.validate_config(raw, command_line=command_line)
    assert config["experiments"]["chars"]["ranks"] == 2
    assert config["experiments"]["chars"]["training"]["learning_rate"] == 0.01
    assert config["slurm"]["account"] == "12345"  # a string where the schema wants one


def test_a_command_line_null_is_null_not_a_name():
    # `--config 'slurm={account: a, reservation: null}'` arrives as "null" (BaseLoader): before,
    # jobs were submitted with --reservation=null, which Slurm refuses ("Requested reservation is invalid")
    command_line = {"slurm": {"account": "a", "reservation": "null", "qos": "~"}}
    config = C.validate_config(C.deep_merge(base_raw(), command_line), command_line=command_line)
    assert config["slurm"]["reservation"] is None and config["slurm"]["qos"] is None
    assert config["slurm"]["account"] == "a"


def test_the_same_strings_in_a_config_file_stay_errors():
    raw = base_raw()
    raw["experiments"]["chars"]["ranks"] = "2"
    with pytest.raises(ConfigErrors, match=re.escape("experiments.chars.ranks: '2' is not of type 'integer'")):
        C.validate_config(raw)


def test_a_command_line_string_that_is_no_number_is_still_an_error_by_key():
    command_line = {"experiments": {"chars": {"ranks": "two"}}}
    raw = C.deep_merge(base_raw(), command_line)
    with pytest.raises(ConfigErrors, match=re.escape("experiments.chars.ranks: 'two' is not of type 'integer'")):
        C.validate_config(raw, command_line=command_line)


def test_rank_counts_from_the_command_line_are_typed():
    command_line = C.parse_command_line_values(["scaling={experiments: [chars], ranks: [1, 2, 8]}"])
    config = C.validate_config(C.deep_merge(base_raw(), command_line), command_line=command_line)
    assert config["scaling"]["ranks"] == [1, 2, 8]


def test_a_global_batch_that_the_ranks_cannot_share_is_refused_at_validation(tmp_path, capsys):
    """Issue 11.5: before, `global_batch_size: 33` on 2 ranks passed validation and failed inside the
    (GPU) training job, which the Slurm profile then retried."""
    raw = C.load_yaml(C.DEFAULT_CONFIG_PATH)
    raw["experiments"]["shakespeare_char_rnn"]["training"] = {"global_batch_size": 33}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    assert cli.main(["config", "--configfile", str(path)]) == 2
    error = capsys.readouterr().err
    assert (
        "experiments.shakespeare_char_rnn.training.global_batch_size: 33 cannot be split evenly over 2 ranks" in error
    )
    raw["experiments"]["shakespeare_char_rnn"]["training"] = {"global_batch_size": 32}
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    assert cli.main(["config", "--configfile", str(path)]) == 0


def test_hpcseq_config_shows_the_effect_of_command_line_overrides(capsys):
    """Issue 11.9: `hpcseq config` could not show what `--config 'experiments={...}'` resolves to,
    and its --config meant a file, unlike Snakemake's. Now --configfile FILE and --config KEY=VALUE."""
    override = "experiments={shakespeare_char_rnn: {ranks: 4, training: {epochs: 7}}}"
    assert cli.main(["config", "--config", override, "preset=lecture", "--experiment", "shakespeare_char_rnn"]) == 0
    settings = json.loads(capsys.readouterr().out)
    assert (settings["ranks"], settings["training"]["epochs"], settings["preset"]) == (4, 7, "lecture")
    assert cli.main(["config", "--config", str(C.DEFAULT_CONFIG_PATH)]) == 2
    assert "is not KEY=VALUE (a config file is given with --configfile FILE" in capsys.readouterr().err
    assert cli.main(["config", "--configfile", str(C.DEFAULT_CONFIG_PATH), "--config", "preset=quick"]) == 0
