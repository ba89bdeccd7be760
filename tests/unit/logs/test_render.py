"""hpcseq.logs.render: the table, the detailed view, JSON and --follow."""

from __future__ import annotations

import io
import json

from hpcseq.logs import collect
from hpcseq.logs.parse import TrainingProgress
from hpcseq.logs.render import JobRecord, follow, render_detail, render_json, render_table

# The keys of a job in `hpcseq logs --json`, in order: scripts read them, so they only ever grow.
JSON_KEYS = [
    "job_id",
    "experiment",
    "rule",
    "state",
    "slurm_state",
    "reason",
    "reason_text",
    "exit_code",
    "elapsed_seconds",
    "limit_seconds",
    "nodes",
    "node_list",
    "ranks",
    "gpus",
    "rank_hosts",
    "epochs_done",
    "epochs_planned",
    "loss",
    "val_loss",
    "accuracy",
    "val_accuracy",
    "samples_per_second",
    "epoch_seconds",
    "epochs_this_job",
    "progress_from",
    "checkpoint",
    "checkpoint_path",
    "previous_job",
    "next_job",
    "runs",
    "earlier_runs",
    "submitted",
    "started",
    "ended",
    "expected_start",
    "files",
    "results_dir",
    "diagnosis",
    "last_lines",
    "notes",
    "smoke_checks",
    "active",
    "charges",
]


def test_the_detailed_view_and_json(run_dir, no_slurm):
    records, notes = collect(["57"], slurm=no_slurm, cwd=run_dir)
    assert [r.job_id for r in records] == ["57"]
    text = render_detail(records[0], notes)
    assert "diagnosis  time_limit:" in text and f"evidence   {run_dir / 'tiny_char_err.57'}:2:" in text
    assert "next step" in text and f"last lines of {run_dir / 'tiny_char_out.57'}:" in text
    data = json.loads(render_json(records, notes))
    job = data["jobs"][0]
    assert job["diagnosis"]["kind"] == "time_limit" and job["diagnosis"]["evidence"]["line"] == 2
    assert job["epochs_done"] == 3 and job["active"] is False and data["notes"]


def test_json_jobs_are_flat_with_the_same_keys_in_the_same_order(run_dir, no_slurm):
    records, notes = collect([str(run_dir)], slurm=no_slurm)
    for job in json.loads(render_json(records, notes))["jobs"]:
        assert list(job) == JSON_KEYS
    progress = TrainingProgress(epochs_done=4, epochs_planned=9, loss=1.5, epochs_this_job=2, source="console")
    job = JobRecord("9", progress=progress).to_json()
    assert list(job) == JSON_KEYS
    assert (job["epochs_done"], job["epochs_planned"], job["loss"], job["progress_from"]) == (4, 9, 1.5, "console")


def test_the_detailed_view_of_a_training_job_section_by_section():
    progress = TrainingProgress(
        epochs_done=7,
        epochs_planned=10,
        loss=1.23456,
        val_loss=1.5,
        accuracy=0.4,
        samples_per_second=1234.5,
        epoch_seconds=2.25,
        epochs_this_job=3,
        source="metrics.jsonl",
    )
    record = JobRecord(
        "12",
        experiment="x",
        rule="sbatch",
        state="running",
        slurm_state="RUNNING",
        elapsed_seconds=90061,
        limit_seconds=172800,
        nodes=2,
        node_list="n[1-2]",
        ranks=8,
        gpus=8,
        rank_hosts=["n1"] * 4 + ["n2"] * 4,
        progress=progress,
        checkpoint="epoch 6",
        checkpoint_path="/r/x/model/checkpoints/epoch-0006-step-0000000",
        previous_job="11",
        runs=2,
        started="2026-11-22T11:00:00",
        files=["/run/x_out.12", "/run/x_err.12"],
        results_dir="/r/x",
        last_lines={"/run/x_out.12": ["first", "second"], "/run/x_err.12": []},
        notes=["a note of the job"],
    )
    assert render_detail(record, ["a note of the run"]) == (
        "job 12: experiment x (job script)\n"
        "state      running (Slurm: RUNNING)\n"
        "time       1-01:01:01 of 2-00:00:00, started 2026-11-22T11:00:00\n"
        "runs       2 (requeued under the same job id)\n"
        "resources  nodes 2 n[1-2]; ranks 8; GPUs 8\n"
        "hosts      n1: ranks 0-3; n2: ranks 4-7\n"
        "training   epoch 7/10 (this job: epochs 5-7, from metrics.jsonl)\n"
        "checkpoint epoch 6 (/r/x/model/checkpoints/epoch-0006-step-0000000)\n"
        "metrics    loss 1.2346, val_loss 1.5000, accuracy 0.4000, val_accuracy -\n"
        "speed      1234 samples/s, 2.2 s per epoch (median over this job's epochs)\n"
        "chain      continues job 11\n"
        "files      /run/x_out.12\n"
        "           /run/x_err.12\n"
        "results    /r/x\n"
        "\n"
        "last lines of /run/x_out.12:\n"
        "  first\n"
        "  second\n"
        "note: a note of the job\n"
        "note: a note of the run\n"
    )


def test_follow_redraws_until_no_job_is_active():
    rounds = [
        [JobRecord("5", state="pending", reason="Resources")],
        [JobRecord("5", state="running")],
        [JobRecord("5", state="completed")],
    ]
    slept, out = [], io.StringIO()
    last = follow(lambda: (rounds.pop(0), []), render_table, 7, out=out, sleep=slept.append, clear=False)
    assert slept == [7, 7] and last[0].state == "completed" and not rounds
    text = out.getvalue()
    assert text.index("pending (Resources)") < text.index("running") < text.index("completed")
    assert text.count("next refresh in 7 s") == 2
