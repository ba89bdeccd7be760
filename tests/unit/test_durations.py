"""hpcseq.durations: one reader of Slurm durations for the config, job scripts, sacct and squeue."""

import pytest

from hpcseq.durations import format_time, seconds_of, time_seconds


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("00:01:00", 60),
        ("1-02:03:04", 93784),
        ("2-12", 216000),
        ("0-01", 3600),
        ("20:00", 1200),
        ("0:05", 5),
        ("00:02:39.123", 159),
        ("45", 45 * 60),  # a bare number is minutes, as sbatch and sacct mean it
        ("UNLIMITED", None),
        ("Partition_Limit", None),
        ("", None),
        (None, None),
    ],
)
def test_durations_as_sacct_and_squeue_print_them(text, seconds):
    assert seconds_of(text) == seconds


@pytest.mark.parametrize("value", ["0", "00:00:00", "1.5", "abc", "", True, None, 1.5, "1:2:3:4"])
def test_time_limits_must_be_slurm_durations_above_zero(value):
    with pytest.raises(ValueError, match="is not a Slurm time limit"):
        time_seconds(value)


def test_a_time_limit_and_an_elapsed_time_are_read_alike():
    for text in ("90", "1:30:00", "2-12", "2-12:30", "2-12:30:15", "15:30"):
        assert time_seconds(text) == seconds_of(text)
        assert seconds_of(format_time(time_seconds(text))) == time_seconds(text)
