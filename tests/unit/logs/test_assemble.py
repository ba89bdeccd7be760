"""hpcseq.logs.assemble: one record per job from its files, the results folder and Slurm's answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hpcseq.errors import CheckpointError
from hpcseq.logs import collect
from hpcseq.logs.assemble.jobs import RUN_NAME
from hpcseq.logs.render import render_table
from hpcseq.logs.sources import Slurm
from hpcseq.records import (
    CHECKPOINT_FORMAT_VERSION,
    CHECKPOINT_STATE,
    checkpoint_directory_name,
    verify_checkpoint,
)
from tests.unit.logs.excerpts import CANCEL_ERR, CONSOLE, RANK_KILLED_ERR, SACCT, SCRIPT_REQUEUED


def test_collect_without_slurm_reports_what_the_files_say(run_dir, no_slurm):
    records, notes = collect([str(run_dir)], slurm=no_slurm)
    assert [r.job_id for r in records] == ["57", "101"]
    script, rule = records
    assert (rule.rule, rule.experiment, rule.state) == ("train", "tiny_char", "completed")
    assert (rule.progress.epochs_done, rule.progress.epochs_planned) == (2, 2)
    assert (rule.progress.loss, rule.progress.val_accuracy, rule.progress.source) == (2.96691, 0.18695, "metrics.jsonl")
    assert rule.ranks == 2 and rule.diagnosis is None
    assert str(run_dir / "logs" / "train" / "tiny_char.log") in rule.files
    assert (script.rule, script.state, script.progress.epochs_done, script.progress.epochs_planned) == (
        "sbatch",
        "timeout",
        3,
        500,
    )
    assert script.diagnosis.kind == "time_limit" and script.checkpoint == "epoch 3 + 5 steps of epoch 4"
    assert any("sacct" in note for note in notes)
    table = render_table(records, notes)
    assert table.splitlines()[0].split() == [
        "JOB",
        "RULE",
        "EXPERIMENT",
        "STATE",
        "ELAPSED/LIMIT",
        "NODES",
        "RANKS/GPUS",
        "EPOCHS",
        "LOSS/VAL",
        "ACC/VAL",
        "SAMPLES/S",
        "NODE-H",
        "GPU-H",
    ]
    assert table.splitlines()[2].split()[:8] == ["101", "train", "tiny_char", "completed", "-/-", "-", "2/-", "2/2"]
    # no accounting: the charges are unknown (`?`), never 0, in each row and in the total
    assert table.splitlines()[2].split()[-2:] == ["?", "?"] and table.splitlines()[3].split() == ["total", "?", "?"]
    assert rule.charges.node_hours is None and "command not found" in rule.charges.unknown_why
    assert "57: time_limit:" in table


def test_without_slurm_a_scripts_training_failure_on_stderr_makes_the_job_failed(tmp_path, no_slurm):
    # the generated script prints its start line to stdout and "training failed ..." to stderr
    (tmp_path / "tiny_char_out.58").write_text("2026-11-22 11:07:20 job 58 on vm (restart 0)\n")
    (tmp_path / "tiny_char_err.58").write_text(RANK_KILLED_ERR)
    records, _ = collect([str(tmp_path)], slurm=no_slurm)
    assert [(r.job_id, r.state, r.exit_code) for r in records] == [("58", "failed", 137)]
    assert records[0].diagnosis.kind == "rank_died"


def test_snakemake_retries_form_a_chain_and_only_the_latest_owns_the_rule_log(tmp_path, no_slurm):
    run = tmp_path / "run"
    logs = run / ".snakemake" / "slurm_logs" / "rule_train" / "x"
    logs.mkdir(parents=True)
    header = (
        "localrule train:\n    output: results/x/model/final.keras\n    log: logs/train/x.log\n"
        "    wildcards: experiment=x\n"
    )
    # the first attempt: training stopped on SIGUSR1 (exit 75), Snakemake retried it
    (logs / "201.log").write_text(
        header + "Command 'set -euo pipefail; python -m hpcseq launch ... > logs/train/x.log "
        "2>&1' returned non-zero exit status 75.\nError in rule train:\n"
    )
    (logs / "202.log").write_text(header + "Finished jobid: 0 (Rule: train)\n1 of 1 steps (100%) done\n")
    (run / "logs" / "train").mkdir(parents=True)
    (run / "logs" / "train" / "x.log").write_text(
        "2026-11-22 09:10:00 hpcseq train rank 0/2 INFO resuming from results/x/model/checkpoints/epoch-0004-step-"
        "0000000: 4 of 5 epochs done\n"
        "2026-11-22 09:10:30 hpcseq train rank 0/2 INFO epoch 5/5 loss 1.5 accuracy 0.6 val_loss 1.6 val_accuracy "
        "0.55 | 900 samples/s | 3.0 s\n"
    )
    records, _ = collect([str(run)], slurm=no_slurm)
    first, second = records
    assert (first.state, first.exit_code, first.next_job, first.state_text) == (
        "requeued",
        75,
        "202",
        "requeued -> 202",
    )
    assert first.diagnosis.kind == "time_limit" and "continued as job 202" in first.diagnosis.next_step
    assert first.progress.epochs_done is None and not any(
        path.endswith("x.log") and "logs/train" in path for path in first.files
    )
    assert (second.state, second.previous_job) == ("completed", "201")
    assert (second.progress.epochs_done, second.progress.epochs_planned) == (5, 5)
    assert str(run / "logs" / "train" / "x.log") in second.files


# ---------------------------------------------------------------------------------- checkpoints


def write_checkpoint(checkpoints: Path, epochs: int, damage: str | None = None) -> Path:
    """A checkpoint as training writes it (files and state.json with their sizes), then damaged:
    a listed file `missing`, one of the `wrong size`, or `no state` file at all."""
    path = checkpoints / checkpoint_directory_name(epochs, 0)
    path.mkdir(parents=True)
    files = {"ckpt.index": b"index", "ckpt.data-00000-of-00001": b"weights" * 10}
    for name, data in files.items():
        (path / name).write_bytes(data)
    state = {
        "format": CHECKPOINT_FORMAT_VERSION,
        "files": {name: len(data) for name, data in files.items()},
        "epochs_completed": epochs,
        "step_in_epoch": 0,
    }
    (path / CHECKPOINT_STATE).write_text(json.dumps(state))
    if damage == "missing":
        (path / "ckpt.index").unlink()
    elif damage == "wrong size":
        (path / "ckpt.data-00000-of-00001").write_bytes(b"weights")
    elif damage == "no state":
        (path / CHECKPOINT_STATE).unlink()
    return path


@pytest.mark.parametrize("damage", ["missing", "wrong size", "no state"])
def test_the_checkpoint_named_is_the_newest_that_training_would_resume_from(tmp_path, no_slurm, damage):
    # a job script on a node that failed; its output names no checkpoint, so the newest complete one
    # on disk is the one a rerun continues from
    (tmp_path / "tiny_char_out.80").write_text("2026-11-22 12:00:00 job 80 on vm (restart 0)\n")
    (tmp_path / "tiny_char_err.80").write_text(
        "slurmstepd: error: *** JOB 80 ON vm CANCELLED AT 2026-11-22T12:30:00 DUE TO NODE FAILURE ***\n"
    )
    checkpoints = tmp_path / "results" / "tiny_char" / "model" / "checkpoints"
    older = write_checkpoint(checkpoints, 3)
    newer = write_checkpoint(checkpoints, 4, damage)
    verify_checkpoint(older)
    with pytest.raises(CheckpointError):
        verify_checkpoint(newer)  # training skips it
    [record], _ = collect([str(tmp_path)], slurm=no_slurm)
    assert (record.checkpoint, record.checkpoint_path) == ("epoch 3", str(older))
    assert record.diagnosis.kind == "node_failure"
    assert f"The last complete checkpoint is epoch 3 ({older})." in record.diagnosis.next_step
    # once the newer one is complete, it is the one
    (checkpoints / newer.name).rename(tmp_path / "damaged")
    write_checkpoint(checkpoints, 4)
    [record], _ = collect([str(tmp_path)], slurm=no_slurm)
    assert record.checkpoint == "epoch 4"


# ------------------------------------------------------------------------- with Slurm's answer


def recorded_command(directory: Path, name: str, output: str) -> str:
    """A stand-in for sacct or squeue that prints a recorded answer."""
    (directory / f"{name}.txt").write_text(output)
    path = directory / name
    path.write_text(f"#!/bin/sh\ncat '{directory / name}.txt'\n")
    path.chmod(0o755)
    return str(path)


def test_sacct_and_squeue_give_state_times_resources_reasons_and_earlier_runs(tmp_path):
    (tmp_path / "tiny_char_out.60").write_text(CONSOLE)
    (tmp_path / "tiny_char_err.60").write_text(CANCEL_ERR)
    (tmp_path / "rqtest_out.72").write_text(SCRIPT_REQUEUED)
    slurm = Slurm(
        sacct=recorded_command(tmp_path, "sacct", SACCT),
        squeue=recorded_command(
            tmp_path, "squeue", "71|PENDING|BeginTime|0:00|1-00:00:00|1|(BeginTime)|N/A|2026-11-22T12:19:26|pendtest\n"
        ),
    )
    records, notes = collect(["60", "71", "72", "73"], slurm=slurm, cwd=tmp_path)
    cancelled, pending, requeued, failed = records
    assert (cancelled.state_text, cancelled.slurm_state, cancelled.exit_code) == ("cancelled by root", "CANCELLED", 0)
    assert (cancelled.elapsed_seconds, cancelled.limit_seconds, cancelled.ranks, cancelled.gpus) == (26, 300, 2, 2)
    assert cancelled.diagnosis.kind == "cancelled"
    assert "Resubmit `sbatch /tmp/c/jobs/local/tiny_char.sbatch`" in cancelled.diagnosis.next_step
    assert (pending.state_text, pending.reason_text) == ("pending (BeginTime)", "asked to start later (--begin)")
    assert (pending.expected_start, pending.files, pending.experiment) == ("2026-11-22T12:19:26", [], "pendtest")
    assert (requeued.state, requeued.runs) == ("completed", 2)
    assert requeued.notes == [
        "earlier runs under this id: REQUEUED (started 2026-11-22T11:20:04, ended 2026-11-22T11:20:04)"
    ]
    assert (failed.state, failed.exit_code, failed.diagnosis.kind) == ("failed", 1, "unknown")
    assert notes == [f"job 73: no log files found (looked in {tmp_path} and where Slurm says it wrote them)"]


@pytest.mark.parametrize(
    ("name", "is_a_run"),
    [
        ("0f8c2a5e-1b2c-4d3e-9f00-123456789abc", True),  # the plugin without a prefix
        ("hpcseq_0f8c2a5e-1b2c-4d3e-9f00-123456789abc", True),  # slurm-jobname-prefix of slurm/config.yaml
        ("shakespeare_char_rnn", False),  # a generated script: the experiment
        ("hpcseq-smoke-test", False),
    ],
)
def test_a_snakemake_runs_job_name_is_not_taken_for_an_experiment(name, is_a_run):
    assert bool(RUN_NAME.match(name)) is is_a_run
