"""hpcseq.devtools.digests: the same results give the same line whatever the run's times; another
result gives another line (the check of issue 25: same digests before and after a refactoring)."""

from __future__ import annotations

import json

import pytest

from hpcseq.devtools import digests
from hpcseq.paths import ExperimentPaths


def _write_run(results, accuracy, seconds, commit):
    paths = ExperimentPaths.of(results, "exp")
    paths.training_summary.parent.mkdir(parents=True)
    paths.eval_metrics.parent.mkdir(parents=True)
    paths.training_summary.write_text(json.dumps({"weights_sha256": "ab" * 32}), encoding="utf-8")
    metrics = {
        "model_metrics": {"accuracy": accuracy},
        "training": {"final": {"epoch_seconds": seconds, "samples_per_second": 1 / seconds, "time": str(seconds)}},
        "provenance": {"commit": commit, "ranks": [{"hostname": f"h{seconds}", "pid": int(seconds)}]},
    }
    paths.eval_metrics.write_text(json.dumps(metrics), encoding="utf-8")


def test_times_hosts_and_commit_do_not_change_the_digest_a_result_does(tmp_path):
    _write_run(tmp_path / "a", accuracy=0.9, seconds=3.0, commit="c1")
    _write_run(tmp_path / "b", accuracy=0.9, seconds=7.0, commit="c2")
    _write_run(tmp_path / "c", accuracy=0.8, seconds=3.0, commit="c1")
    a, b, c = (digests.experiment_digests(tmp_path / name) for name in "abc")
    assert a == b
    assert a["exp"][0] == c["exp"][0] and a["exp"][1] != c["exp"][1]


def test_the_command_prints_a_line_per_experiment_and_refuses_an_empty_folder(tmp_path, capsys):
    _write_run(tmp_path, accuracy=0.9, seconds=3.0, commit="c1")
    assert digests.main([str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("exp  weights abab")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemExit) as stop:
        digests.main([str(empty)])
    assert stop.value.code == 2
    assert "no experiment with model/training_summary.json" in capsys.readouterr().err
