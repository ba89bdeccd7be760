"""`hpcseq logs` as a command: usage errors, --json, --follow."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from hpcseq import cli
from hpcseq.logs import LogsError, collect
from hpcseq.logs import main as logs_main
from tests.unit.logs.excerpts import SIGUSR1_STOP_SLURM_LOG


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


# -------------------------------------------------- issue 11.4: a clean stop before the time limit


def snakemake_retry_run(run: Path) -> Path:
    """A `snakemake --profile slurm` run directory: training job 301 was warned before its time
    limit, checkpointed and exited 75 (SIGUSR1_STOP_SLURM_LOG); Snakemake resubmitted it as job
    302, which resumed from that checkpoint and completed (and owns the rule's log now)."""
    slurm_logs = run / ".snakemake" / "slurm_logs" / "rule_train" / "tiny_char"
    slurm_logs.mkdir(parents=True)
    (slurm_logs / "301.log").write_text(SIGUSR1_STOP_SLURM_LOG)
    header = SIGUSR1_STOP_SLURM_LOG.split("hpcseq launch:")[0]
    (slurm_logs / "302.log").write_text(header + "Finished jobid: 0 (Rule: train)\n1 of 1 steps (100%) done\n")
    (run / "logs" / "train").mkdir(parents=True)
    (run / "logs" / "train" / "tiny_char.log").write_text(
        "2026-11-22 11:05:40 hpcseq train rank 0/2 INFO resuming from results/tiny_char/model/checkpoints/"
        "epoch-0003-step-0000005: 3 of 4 epochs done, 5 steps into epoch 4\n"
        "2026-11-22 11:05:50 hpcseq train rank 0/2 INFO epoch 4/4 loss 2.8801 sparse_categorical_accuracy 0.2002 "
        "val_loss 2.8410 val_sparse_categorical_accuracy 0.1990 | 8702 samples/s | 0.4 s\n"
        "2026-11-22 11:05:51 hpcseq train rank 0/2 INFO done: final model results/tiny_char/model/final.keras, "
        "metrics results/tiny_char/model/metrics.jsonl\n"
    )
    return run


def test_a_clean_stop_before_the_time_limit_is_the_time_limit_path_not_a_dead_rank(tmp_path, capsys, monkeypatch):
    """Issue 11.4: srun's `tasks 0-1: Exited with exit code 75` after the ranks' own `stopped on
    SIGUSR1 ... (exit code 75)` was diagnosed as dead ranks, in the table and the detailed view."""
    run = snakemake_retry_run(tmp_path / "run")
    monkeypatch.setenv("PATH", str(tmp_path / "no-slurm-here"))  # no sacct, no squeue: the files alone
    monkeypatch.chdir(run)
    stop_line = SIGUSR1_STOP_SLURM_LOG.splitlines().index(
        next(line for line in SIGUSR1_STOP_SLURM_LOG.splitlines() if "stopped on SIGUSR1" in line)
    )
    assert cli.main(["logs"]) == 0
    table = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in table.splitlines()[1:3]}
    assert rows["301"][3:5] == ["requeued", "->"] and rows["302"][3] == "completed"
    assert "rank_died" not in table and "ended early" not in table
    [footer] = [line for line in table.splitlines() if line.startswith("301: ")]
    assert footer == (
        "301: time_limit: Stopped before the time limit (SIGUSR1, exit code 75), as designed: "
        "job 302 continues from checkpoint epoch 3 + 5 steps of epoch 4."
    )

    assert cli.main(["logs", "301"]) == 0
    detail = capsys.readouterr().out
    assert "rank_died" not in detail and "Its own error is in its output" not in detail
    assert "state      requeued -> 302\n" in detail and "chain      continued by job 302\n" in detail
    assert "diagnosis  time_limit: Stopped before the time limit (SIGUSR1, exit code 75), as designed:" in detail
    slurm_log = Path(".snakemake/slurm_logs/rule_train/tiny_char/301.log")
    words = " ".join(detail.split())  # the detailed view wraps long lines
    assert f"evidence {run / slurm_log}:{stop_line + 1}: hpcseq train: error: stopped on SIGUSR1" in words
    next_step = words.split("next step")[1]
    assert "The last complete checkpoint is epoch 3 + 5 steps of epoch 4" in next_step
    assert "It was continued as job 302 (`hpcseq logs 302`). Training continues from that checkpoint." in next_step


def test_a_clean_stop_that_nothing_continued_yet_says_how_to_continue(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    slurm_logs = run / ".snakemake" / "slurm_logs" / "rule_train" / "tiny_char"
    slurm_logs.mkdir(parents=True)
    (slurm_logs / "301.log").write_text(SIGUSR1_STOP_SLURM_LOG)
    monkeypatch.setenv("PATH", str(tmp_path / "no-slurm-here"))
    monkeypatch.chdir(run)
    assert cli.main(["logs"]) == 0
    table = capsys.readouterr().out
    [footer] = [line for line in table.splitlines() if line.startswith("301: ")]
    assert footer == (
        "301: time_limit: Stopped before the time limit (SIGUSR1, exit code 75), as designed: "
        "a rerun continues from checkpoint epoch 3 + 5 steps of epoch 4."
    )
    assert cli.main(["logs", "301"]) == 0
    detail = " ".join(capsys.readouterr().out.split())
    assert "Rerun the same `snakemake --profile slurm ...` command: it resubmits rule train." in detail
