"""`hpcseq logs` as a command: usage errors, --json, --follow."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from hpcseq import cli
from hpcseq.logs import collect
from hpcseq.logs import main as logs_main
from hpcseq.logs.sources import LogsError


def test_unknown_job_id_is_a_usage_error_with_exit_code_2(tmp_path, capsys, monkeypatch, no_slurm):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "no-slurm-here"))  # no sacct, no squeue
    assert cli.main(["logs", "4711"]) == 2
    assert "hpcseq logs: error: job 4711: no log files in" in capsys.readouterr().err
    with pytest.raises(LogsError, match="neither a job id nor an existing file"):
        collect(["no/such/thing"], slurm=no_slurm, cwd=tmp_path)
    assert cli.main(["logs", "--interval", "0", "--follow"]) == 2


def test_cli_json_on_a_run_directory(run_dir, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(run_dir / "no-slurm-here"))
    monkeypatch.chdir(run_dir)
    assert cli.main(["logs", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {job["job_id"]: job["state"] for job in data["jobs"]} == {"57": "timeout", "101": "completed"}


def test_one_job_id_gives_the_detailed_view_and_a_directory_the_table(run_dir, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(run_dir / "no-slurm-here"))
    monkeypatch.chdir(run_dir)
    assert cli.main(["logs", "57"]) == 0
    assert capsys.readouterr().out.startswith("job 57: experiment tiny_char (job script)\nstate      timeout\n")
    assert cli.main(["logs", str(run_dir)]) == 0
    assert capsys.readouterr().out.split()[:2] == ["JOB", "RULE"]


def test_main_follow_stops_on_ctrl_c(run_dir, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(run_dir / "no-slurm-here"))
    monkeypatch.chdir(run_dir)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("hpcseq.logs.follow", interrupted)
    args = SimpleNamespace(targets=[], results_dir=None, json=False, follow=True, interval=1.0)
    assert logs_main(args) == 0
    assert capsys.readouterr().out == "\n"
