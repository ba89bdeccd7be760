"""Training longer than its time limit, on the real local Slurm: Slurm's warning signal arrives,
training checkpoints and exits 75, the job is requeued (generated script) or resubmitted
(Snakemake profile), continues from the checkpoint and completes.

Both chains train the same settings, one after the other, interrupted at different steps (wherever
the warning finds them), and must end with the same weights. That an interrupted and resumed run
equals an uninterrupted one is proven in tests/training/test_resume.py (SIGKILL at a random step,
SIGUSR1 on one rank); here, where a third, uninterrupted run would cost 2.5 minutes of both cores,
the two chains are compared with each other. The profile chain's failed attempts also show that
`hpcseq logs` keeps a diagnosis for each of them, from its own Slurm log: Snakemake's retry
overwrites the rule's log."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest
import yaml

from hpcseq.evaluation.costs import experiment_costs
from hpcseq.job_ledger import read_ledger
from tests.conftest import REPO_ROOT
from tests.slurm.conftest import PROFILE, epoch_metrics, sacct, slurm_config, slurm_logs, snakemake, wait_for_job
from tests.slurm.test_logs import assert_charges, charged_by_sacct, logs_json

# Each training job may run 2 minutes and asks for SIGUSR1 30 s before its end. slurmctld checks
# limits every 30 s and sends the warning within the 30 s before the asked time, so it comes 60-90 s
# into the job (measured: 70-89 s), and 30 s are left to checkpoint and exit. The work: 22 epochs
# after about 15 s of start-up and the first epoch's tracing. On an idle 2-core machine an epoch
# takes 4.4-5.3 s on 2 ranks (measured 2026-11-26; 10 epochs, as before, then ended before the
# warning), 7-13 s when other work loads it: no job can do it all, so the chain warning ->
# checkpoint -> requeue or resubmission -> resume happens at least once, and a later job finishes
# it (on a loaded machine after a few more). The chains run one after the other: run side by side
# with one rank each (a core each), an epoch took 2.6 to 7 s, depending on whether the other chain
# was training or between jobs, and no number of epochs both outlasted the first warning and kept
# the chains short.
EPOCHS = 22
LONG_TRAINING = {"epochs": EPOCHS, "batch_size": 64, "max_steps_per_epoch": 2500, "steps_per_execution": 16}
SLURM = {
    "time": {"preprocess": "00:05:00", "vocabulary": "00:05:00", "train": "00:02:00", "evaluate": "00:05:00"},
    "signal_seconds_before_limit": 30,
}


def long_config(tmp_path, account, **extra):
    path = slurm_config(tmp_path, account, data_stages_on_login_node=True, **extra)
    config = yaml.safe_load(path.read_text())
    config["slurm"].update(SLURM)
    config["experiments"] = {"tiny_char": config["experiments"]["tiny_char"]}
    config["experiments"]["tiny_char"]["training"].update(LONG_TRAINING)
    config["models"]["char_rnn"] = {"layers": [{"cell": "simple_rnn", "units": 64, "unroll": True}]}
    config["experiments"]["tiny_char"]["preprocess"] = {}  # the whole corpus: 2500 steps per epoch
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def generated_chain(local_slurm, tmp_path_factory) -> SimpleNamespace:
    """A generated job script of the long training, submitted with sbatch and waited for."""
    root = tmp_path_factory.mktemp("generated_chain")
    config = long_config(root / "slurm", local_slurm)
    subprocess.run(
        [
            *(sys.executable, "-m", "hpcseq", "sbatch", "--configfile", str(config), "--cluster", "local"),
            *("--output-dir", str(root / "jobs")),
            *("--workdir", str(REPO_ROOT)),  # submitted from root/submit, run in this checkout
        ],
        check=True,
        capture_output=True,
        cwd=root,
    )
    script = root / "jobs" / "local" / "tiny_char.sbatch"
    submit = root / "submit"
    submit.mkdir()
    job_id = subprocess.run(
        ["sbatch", "--parsable", str(script)], cwd=submit, capture_output=True, text=True, check=True
    ).stdout.strip()
    row = wait_for_job(job_id, timeout=1500)
    return SimpleNamespace(
        script=script.read_text(),
        job_id=job_id,
        row=row,
        out=(submit / f"tiny_char_out.{job_id}").read_text(),
        err=(submit / f"tiny_char_err.{job_id}").read_text(),
        results=root / "slurm" / "results" / "tiny_char",
        submit=submit,
    )


@pytest.fixture(scope="module")
def profile_chain(local_slurm, tmp_path_factory) -> SimpleNamespace:
    """The same long training under `snakemake --profile slurm`, with retries to resubmit it; only
    the training (its summary is the target): evaluation adds nothing to what is tested here."""
    root = tmp_path_factory.mktemp("profile_chain")
    config = long_config(root, local_slurm)
    run_dir = root / "run"
    results = root / "results" / "tiny_char"
    target = str(results / "model" / "training_summary.json")
    run = snakemake(*PROFILE, "--configfile", str(config), "--retries", "10", target, cwd=run_dir, timeout=2400)
    return SimpleNamespace(log=run.stdout + run.stderr, run_dir=run_dir, logs=root / "logs", results=results)


def test_generated_script_is_warned_checkpoints_requeues_and_completes(generated_chain):
    job = generated_chain
    assert "#SBATCH --signal=B:USR1@30" in job.script and "#SBATCH --requeue" in job.script
    assert job.row["State"] == "COMPLETED", job.out[-3000:] + job.err[-3000:]
    # the chain: at least one warning -> checkpoint -> requeue, then a run that resumed and finished
    assert "checkpoint written before the time limit: requeueing job" in job.out
    assert "stopped on SIGUSR1 after writing checkpoint" in job.out + job.err
    assert re.search(r"resuming from .*checkpoints/epoch-\d{4}-step-\d{7}", job.out)
    restarts = (
        subprocess.run(["sacct", "-j", job.job_id, "-X", "-n", "-D", "--format=JobID"], capture_output=True, text=True)
        .stdout.split()
        .count(job.job_id)
    )
    assert restarts >= 2  # sacct -D lists each requeued run of the job
    summary = json.loads((job.results / "model" / "training_summary.json").read_text())
    assert summary["resumed_from_epoch"] is not None or summary["resumed_at_step"]
    assert summary["final"]["epoch"] == EPOCHS
    assert (job.results / "eval" / "metrics.json").is_file()


def test_snakemake_profile_resubmits_a_warned_training_job_until_done(profile_chain):
    train_jobs = re.findall(r"SLURM jobid (\d+) \(log: \S+/rule_train/tiny_char/", profile_chain.log)
    assert len(train_jobs) >= 2, profile_chain.log[-3000:]
    first = next(row for row in sacct(train_jobs[0]) if row["JobID"] == train_jobs[0])
    last = next(row for row in sacct(train_jobs[-1]) if row["JobID"] == train_jobs[-1])
    assert first["State"] == "FAILED" and last["State"] == "COMPLETED"
    first_log = slurm_logs(profile_chain.run_dir, "train", "tiny_char") / f"{train_jobs[0]}.log"
    assert "non-zero exit status 75" in first_log.read_text()  # training stopped on the warning
    assert "resuming from" in (profile_chain.logs / "train" / "tiny_char.log").read_text()
    summary = json.loads((profile_chain.results / "model" / "training_summary.json").read_text())
    assert summary["epochs"] == EPOCHS and summary["final"]["epoch"] == EPOCHS
    # hpcseq logs: each attempt keeps its own diagnosis, its evidence in its own Slurm log (the
    # rule's log holds only the last attempt's output now), and names the job that continued it
    logs = subprocess.run(
        [sys.executable, "-m", "hpcseq", "logs", "--json", *train_jobs],
        cwd=profile_chain.run_dir,
        capture_output=True,
        text=True,
    )
    assert logs.returncode == 0, logs.stderr
    found = {job["job_id"]: job for job in json.loads(logs.stdout)["jobs"]}
    for attempt, next_attempt in itertools.pairwise(train_jobs):
        # time_limit: a clean stop on the warning, or (seen once) ranks ended by a warning that came
        # while they started, before they could catch it
        diagnosis = found[attempt]["diagnosis"]
        assert diagnosis and diagnosis["kind"] == "time_limit", found[attempt]
        assert diagnosis["evidence"]["path"].endswith(f"rule_train/tiny_char/{attempt}.log"), diagnosis
        assert f"job {next_attempt}" in diagnosis["summary"] + diagnosis["next_step"], diagnosis
    assert found[train_jobs[-1]]["state"] == "completed" and found[train_jobs[-1]]["diagnosis"] is None


def test_what_the_requeued_chain_was_charged_agrees_with_sacct_in_logs_and_summary(generated_chain, tmp_path):
    """`hpcseq logs` and results/summary.md count every run of the requeued job, as a separate
    sacct call tells them (charged_by_sacct); the job's stages recorded it in the ledger once each."""
    job = generated_chain
    expected = charged_by_sacct(job.job_id)
    assert expected.runs >= 2 and expected.gpu_hours == pytest.approx(2 * expected.node_hours)  # 2 GPUs, 1 node
    found = logs_json(job.job_id, cwd=job.submit)[job.job_id]
    assert_charges(found["charges"], expected)
    ledger = read_ledger(job.results / "slurm_jobs.jsonl")  # each stage once, whatever the runs
    stages = ("preprocess", "vocab", "train", "evaluate")
    assert [(entry["job_id"], entry["stage"]) for entry in ledger] == [(job.job_id, stage) for stage in stages]
    summary = subprocess.run(
        [
            *(sys.executable, "-m", "hpcseq", "summary", "--results-dir", str(job.results.parent)),
            *("--output", str(tmp_path / "summary.md"), "tiny_char"),
        ],
        capture_output=True,
        text=True,
    )
    assert summary.returncode == 0, summary.stderr
    figures = f"{expected.node_hours:.3f} node-hours, {expected.gpu_hours:.3f} GPU-hours"
    assert (
        f"*Charged* {figures}. 1 Slurm job(s) (node-hours/GPU-hours): {job.job_id} preprocess, vocab, train, "
        f"evaluate, {expected.runs} runs {expected.node_hours:.3f}/{expected.gpu_hours:.3f}\n"
    ) in (tmp_path / "summary.md").read_text()


def test_every_resubmitted_training_attempt_is_in_the_ledger_and_charged_as_sacct_says(profile_chain):
    train_jobs = re.findall(r"SLURM jobid (\d+) \(log: \S+/rule_train/tiny_char/", profile_chain.log)
    ledger = read_ledger(profile_chain.results / "slurm_jobs.jsonl")
    assert [(entry["job_id"], entry["stage"]) for entry in ledger] == [(job, "train") for job in train_jobs]
    costs = experiment_costs(profile_chain.results.parent, ["tiny_char"])["tiny_char"]
    for job_id in train_jobs:
        expected = charged_by_sacct(job_id)
        assert costs.charges[job_id].node_hours == pytest.approx(expected.node_hours), job_id
        assert costs.charges[job_id].gpu_hours == pytest.approx(expected.gpu_hours), job_id
    assert costs.total.node_hours == pytest.approx(sum(charged_by_sacct(job).node_hours for job in train_jobs))


def test_both_chains_end_with_the_same_weights_wherever_they_were_interrupted(generated_chain, profile_chain):
    generated = json.loads((generated_chain.results / "model" / "training_summary.json").read_text())
    profile = json.loads((profile_chain.results / "model" / "training_summary.json").read_text())
    assert generated["weights_sha256"] == profile["weights_sha256"]
    assert epoch_metrics(generated["final"]) == epoch_metrics(profile["final"])
    # where each chain resumed (recorded for the comparison's strength: equal points prove less)
    print("generated resumed at", generated["resumed_from_epoch"], generated["resumed_at_step"])
    print("profile resumed at", profile["resumed_from_epoch"], profile["resumed_at_step"])
