"""hpcseq.cluster.validators: what reaches a job script or an sbatch/srun command line, and ConfigChecks."""

from __future__ import annotations

import pytest

from hpcseq import durations
from hpcseq.cluster import validators
from hpcseq.errors import ConfigError, ConfigErrors


@pytest.mark.parametrize(
    "text,seconds",
    [
        ("90", 5400),
        ("1:30", 90),
        ("01:30:00", 5400),
        ("2-12", 216000),
        ("1-00:30", 88200),
        ("1-02:03:04", 93784),
        (45, 2700),
    ],
)
def test_slurm_time_formats(text, seconds):
    assert durations.time_seconds(text) == seconds
    assert durations.time_seconds(validators.slurm_time(text)) == seconds


def test_home_relative_venv_stays_expandable():
    assert validators.quote_path("$HOME/venvs/my env") == "\"$HOME\"/'venvs/my env'"
    assert validators.quote_path("~/x") == '"$HOME"/x'
    assert validators.quote_path("/abs/$(id)") == "'/abs/$(id)'"


@pytest.mark.parametrize("value", ["slurm-%j.out", "logs/x_%j.err", "a..b", "./x"])
def test_log_patterns(value):
    assert validators.log_pattern(value) == value


@pytest.mark.parametrize("value", ["..", "../x", "a/../b", "a/..", "", "a b", "x;y", 5, "a" * 256])
def test_log_patterns_that_leave_the_folder_or_hold_shell_characters_are_refused(value):
    with pytest.raises(ValueError, match="is not a log file pattern"):
        validators.log_pattern(value)


@pytest.mark.parametrize("value", ["gpu", "gpu:a100", "mps"])
def test_gres_names(value):
    assert validators.gres_name(value) == value
    assert validators.gres(f"{value}:4") == f"{value}:4"


@pytest.mark.parametrize("value", ["GPU", "gpu:4:", "gpu:a100:4", "", "gpu;id", 4, None])
def test_bad_gres_names_are_named_in_the_message(value):
    with pytest.raises(ValueError, match=r"is not a GRES name like gpu or gpu:a100") as caught:
        validators.gres_name(value)
    assert repr(value) in str(caught.value)


@pytest.mark.parametrize("check", [validators.env_value, validators.path_value])
@pytest.mark.parametrize("value", ["a\nb", "a\rb", "a\0b"])
def test_values_must_be_one_line(check, value):
    with pytest.raises(ValueError):
        check(value)


def test_long_values_are_shortened_in_messages():
    with pytest.raises(ValueError) as caught:
        validators.slurm_name("x " * 100)
    assert "...' is not a valid Slurm name" in str(caught.value)


def test_config_checks_collect_every_problem_by_key():
    checks = validators.ConfigChecks()
    assert checks.value(validators.positive_int, 3, "a") == 3
    assert checks.value(validators.positive_int, 0, "b") is None
    assert checks.optional(validators.positive_int, None, "c") is None
    assert checks.optional(validators.positive_int, -1, "d") is None

    def many():
        raise ConfigErrors([ConfigError("e", "x"), ConfigError("f", "y")])

    def one():
        raise ConfigError("g", "z")

    assert checks.call(many) is None and checks.call(one) is None
    assert checks.call(lambda x: x + 1, 1) == 2
    assert [error.key for error in checks.errors] == ["b", "d", "e", "f", "g"]
    with pytest.raises(ConfigErrors) as caught:
        checks.raise_errors()
    assert caught.value.errors == checks.errors
    validators.ConfigChecks().raise_errors()  # nothing recorded: nothing raised


def test_paths_keep_their_environment_variables_for_where_the_job_runs(tmp_path):
    """$PROJECT, ${SCRATCH} and ~/ expand in the job; everything else in a path stays literal."""
    import subprocess

    assert validators.quote_path("$PROJECT/$USER/my env") == '"$PROJECT"/"$USER"/\'my env\''
    assert validators.quote_path("${SCRATCH}/r") == '"$SCRATCH"/r'
    assert validators.quote_path("$SLURM_SUBMIT_DIR") == '"$SLURM_SUBMIT_DIR"'
    assert validators.quote_path("/tmp/$(id)/`id`/$1/a$") == "'/tmp/$(id)/`id`/$1/a$'"
    assert validators.path_variables("~/a/$X/${Y}/$X") == ["HOME", "X", "Y"]
    environment = {"X": "/x x", "Y": "y", "HOME": "/h", "PATH": "/usr/bin:/bin"}
    path = "~/a/$X/${Y}/$(id)"
    shell = subprocess.run(
        ["bash", "-c", f"printf %s {validators.quote_path(path)}"], capture_output=True, text=True, env=environment
    )
    assert shell.stdout == validators.expand_path(path, "results_dir", environment) == "/h/a//x x/y/$(id)"


def test_a_path_variable_that_is_not_set_is_a_config_error_naming_it():
    with pytest.raises(ConfigError) as caught:
        validators.expand_path("$SCRATCH/$USER/results", "results_dir", {"USER": "me"})
    assert str(caught.value).startswith("config key results_dir: '$SCRATCH/$USER/results' uses $SCRATCH, not set here")
