"""Training longer than its time limit, on the real local Slurm: Slurm's warning signal arrives,
training checkpoints and exits 75, the job is requeued (generated script) or resubmitted
(Snakemake profile), continues from the checkpoint and completes with the weights of an
uninterrupted run."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from tests.slurm.conftest import PROFILE, sacct, slurm_config, slurm_logs, snakemake, wait_for_job

# Each training job may run 2 minutes and asks for SIGUSR1 30 s before its end. slurmctld checks
# limits every 30 s and sends the warning within the 30 s before the asked time, so it comes 60-90 s
# into the job (measured: 89 s), and 30 s are left to checkpoint and exit. The work: 7 epochs of
# 16-24 s each on 2 ranks on the 2-core CI machine, after about 7 s of start-up and 20 s of the
# first epoch's tracing (measured: 4 epochs in the first job), so no job can do it all: the chain
# warning -> checkpoint -> requeue or resubmission -> resume happens at least once, and the second
# job finishes it.
LONG_TRAINING = {"epochs": 7, "batch_size": 64, "max_steps_per_epoch": 2500, "steps_per_execution": 16}
SLURM = {
    "time": {"preprocess": "00:05:00", "vocabulary": "00:05:00", "train": "00:02:00", "evaluate": "00:05:00"},
    "signal_seconds_before_limit": 30,
}


def long_config(tmp_path, account, **extra):
    path = slurm_config(tmp_path, account, **extra)
    import yaml

    config = yaml.safe_load(path.read_text())
    config["slurm"].update(SLURM)
    config["experiments"] = {"tiny_char": config["experiments"]["tiny_char"]}
    config["experiments"]["tiny_char"]["training"].update(LONG_TRAINING)
    config["experiments"]["tiny_char"]["hyperparameters"] = {"hidden_units": 64}
    config["experiments"]["tiny_char"]["preprocess"] = {}  # the whole corpus: 2500 steps per epoch
    path.write_text(yaml.safe_dump(config))
    return path


def test_generated_script_is_warned_checkpoints_requeues_and_completes(local_slurm, tmp_path):
    config = long_config(tmp_path / "slurm", local_slurm)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "hpcseq",
            "sbatch",
            "--configfile",
            str(config),
            "--cluster",
            "local",
            "--output-dir",
            str(tmp_path / "jobs"),
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    script = tmp_path / "jobs" / "local" / "tiny_char.sbatch"
    assert "#SBATCH --signal=B:USR1@30" in script.read_text() and "#SBATCH --requeue" in script.read_text()
    submit = tmp_path / "submit"
    submit.mkdir()
    job_id = subprocess.run(
        ["sbatch", "--parsable", str(script)], cwd=submit, capture_output=True, text=True, check=True
    ).stdout.strip()
    row = wait_for_job(job_id, timeout=1500)
    out = (submit / f"tiny_char_out.{job_id}").read_text()
    err = (submit / f"tiny_char_err.{job_id}").read_text()
    assert row["State"] == "COMPLETED", out[-3000:] + err[-3000:]
    # the chain: at least one warning -> checkpoint -> requeue, then a run that resumed and finished
    assert "checkpoint written before the time limit: requeueing job" in out
    assert "stopped on SIGUSR1 after writing checkpoint" in out + err
    assert re.search(r"resuming from .*checkpoints/epoch-\d{4}-step-\d{7}", out)
    restarts = int(
        subprocess.run(["sacct", "-j", job_id, "-X", "-n", "-D", "--format=JobID"], capture_output=True, text=True)
        .stdout.split()
        .count(job_id)
    )
    assert restarts >= 2  # sacct -D lists each requeued run of the job

    results = tmp_path / "slurm" / "results" / "tiny_char"
    summary = json.loads((results / "model" / "training_summary.json").read_text())
    assert summary["resumed_from_epoch"] is not None or summary["resumed_at_step"]
    # the same weights as one uninterrupted run of the same settings, outside Slurm
    reference = long_config(tmp_path / "reference", local_slurm, cluster=None)
    target = tmp_path / "reference" / "results" / "tiny_char" / "model" / "training_summary.json"
    # the target first: --configfile takes several values
    snakemake(str(target), "--cores", "2", "--configfile", str(reference), cwd=tmp_path / "reference" / "run")
    expected = json.loads(
        (tmp_path / "reference" / "results" / "tiny_char" / "model" / "training_summary.json").read_text()
    )
    assert summary["weights_sha256"] == expected["weights_sha256"]
    assert (results / "eval" / "metrics.json").is_file()


def test_snakemake_profile_resubmits_a_warned_training_job_until_done(local_slurm, tmp_path):
    config = long_config(tmp_path, local_slurm)
    run_dir = tmp_path / "run"
    run = snakemake(*PROFILE, "--configfile", str(config), "--retries", "10", cwd=run_dir, timeout=2400)
    log = run.stdout + run.stderr
    train_jobs = re.findall(r"SLURM jobid (\d+) \(log: \S+/rule_train/tiny_char/", log)
    assert len(train_jobs) >= 2, log[-3000:]
    first = next(row for row in sacct(train_jobs[0]) if row["JobID"] == train_jobs[0])
    last = next(row for row in sacct(train_jobs[-1]) if row["JobID"] == train_jobs[-1])
    assert first["State"] == "FAILED" and last["State"] == "COMPLETED"
    first_log = slurm_logs(run_dir, "train", "tiny_char") / f"{train_jobs[0]}.log"
    assert "non-zero exit status 75" in first_log.read_text()  # training stopped on the warning
    train_log = (tmp_path / "logs" / "train" / "tiny_char.log").read_text()
    assert "resuming from" in train_log
    summary = json.loads((tmp_path / "results" / "tiny_char" / "model" / "training_summary.json").read_text())
    assert summary["epochs"] == 7 and summary["final"]["epoch"] == 7
