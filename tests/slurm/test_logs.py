"""`hpcseq logs` on logs made for real on the local Slurm cluster (tests/cluster/local_slurm.sh):
generated job scripts that complete, run past their time limit, raise a Python exception in
hpcseq's code, get cancelled, and lose a Horovod rank to SIGKILL; a job that waits; a job that
requeues itself; and a whole `snakemake --profile slurm` run.

The jobs are submitted together at the start of the module (Slurm runs them one after the other:
each asks for the node's two GPUs) and each test then looks at one of them. The only stand-ins
are those of the cluster itself: two fake GPUs (gres) and one node.
"""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from hpcseq.job_ledger import read_ledger
from hpcseq.paths import ExperimentPaths
from tests.conftest import REPO_ROOT
from tests.slurm.conftest import rank_process, slurm_config, wait_for_job, wait_for_pending_reason


def hpcseq(*args: str, cwd: Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hpcseq", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def logs_json(*targets: str, cwd: Path, env: dict | None = None) -> dict[str, dict]:
    result = hpcseq("logs", "--json", *targets, cwd=cwd, env=env)
    assert result.returncode == 0, result.stderr
    return {job["job_id"]: job for job in json.loads(result.stdout)["jobs"]}


def metrics_records(results: Path, experiment: str = "tiny_char") -> list[dict]:
    path = results / experiment / "model" / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def experiment_dir(base: Path, name: str, account: str, ranks: int | None = None, **training) -> SimpleNamespace:
    """Its own config (results, logs), job script and submit directory."""
    root = base / name
    config_path = slurm_config(root, account)
    config = yaml.safe_load(config_path.read_text())
    if training:
        config["experiments"]["tiny_char"]["training"].update(training)
        config["slurm"]["signal_seconds_before_limit"] = None  # no SIGUSR1: the limit hits training itself
    if ranks is not None:
        config["experiments"]["tiny_char"]["ranks"] = ranks
    config_path.write_text(yaml.safe_dump(config))
    submit = root / "submit"
    submit.mkdir()
    return SimpleNamespace(root=root, config=config_path, submit=submit, results=root / "results")


def render(place: SimpleNamespace, *options: str) -> Path:
    result = hpcseq(
        "sbatch",
        "--configfile",
        str(place.config),
        "--cluster",
        "local",
        "--experiment",
        "tiny_char",
        "--output-dir",
        str(place.root / "jobs"),
        "--workdir",  # submitted from place.submit, run in this checkout
        str(REPO_ROOT),
        *options,
        cwd=place.root,
    )
    assert result.returncode == 0, result.stderr
    return place.root / "jobs" / "local" / "tiny_char.sbatch"


def submit(script: Path, cwd: Path, *options: str) -> str:
    result = subprocess.run(
        ["sbatch", "--parsable", *options, str(script)], cwd=cwd, capture_output=True, text=True, check=True
    )
    return result.stdout.strip().split(";")[0]


def charged_by_sacct(job_id: str) -> SimpleNamespace:
    """What a job was charged, worked out here from a separate `sacct -D -X` call (the allocation
    line of each run): node-hours = sum of AllocNodes x ElapsedRaw / 3600, GPU-hours = sum of
    gres/gpu (AllocTRES) x ElapsedRaw / 3600. The expected values of the tests of hpcseq's figures."""
    result = subprocess.run(
        ["sacct", "-j", job_id, "-D", "-X", "-P", "-n", "--format=JobID,AllocNodes,ElapsedRaw,AllocTRES"],
        capture_output=True,
        text=True,
        check=True,
    )
    runs = [line.split("|") for line in result.stdout.splitlines() if line.split("|")[0] == job_id]
    node_seconds = sum(int(nodes) * int(elapsed) for _, nodes, elapsed, _ in runs)
    gpus = [int(match.group(1)) if (match := re.search(r"gres/gpu=(\d+)", tres)) else 0 for *_, tres in runs]
    gpu_seconds = sum(count * int(run[2]) for count, run in zip(gpus, runs, strict=True))
    elapsed = [int(run[2]) for run in runs]
    return SimpleNamespace(
        node_hours=node_seconds / 3600, gpu_hours=gpu_seconds / 3600, runs=len(runs), elapsed=elapsed
    )


def assert_charges(found: dict, expected: SimpleNamespace) -> None:
    """hpcseq's `charges` of a job (--json) against sacct's figures."""
    assert found["runs"] == expected.runs, found
    assert found["node_hours"] == pytest.approx(expected.node_hours) and expected.node_hours > 0, found
    assert found["gpu_hours"] == pytest.approx(expected.gpu_hours), found
    assert not found["so_far"], found


def epoch_line_written(place: SimpleNamespace, job_id: str) -> bool:
    out = place.submit / f"tiny_char_out.{job_id}"
    return out.is_file() and re.search(r"hpcseq train .* epoch \d+/", out.read_text()) is not None


def checkpoint_written(place: SimpleNamespace) -> bool:
    return any((place.results / "tiny_char" / "model" / "checkpoints").glob("epoch-*"))


def lower_priority(pid: int) -> int:
    """Nice 19 for every thread of a process (Linux keeps a nice value per thread); returns pid."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            os.setpriority(os.PRIO_PROCESS, int(task.name), 19)
        except ProcessLookupError:  # a thread that ended meanwhile
            continue
    return pid


def kill_rank(job_id: str, rank: int) -> int:
    pid = rank_process(job_id, rank)
    os.kill(pid, signal.SIGKILL)
    return pid


TIMEOUT_EPOCHS = 100_000

REQUEUE_SCRIPT = """\
#!/bin/bash
#SBATCH --job-name=requeue_me
#SBATCH --output=requeue_me_out.%j
#SBATCH --error=requeue_me_err.%j
#SBATCH --time=00:02:00
#SBATCH --partition=batch
#SBATCH --requeue
#SBATCH --open-mode=append
# the generated script's lines for a requeue, without training: the first run requeues itself
echo "$(date "+%F %T") job ${SLURM_JOB_ID} on ${SLURM_JOB_NODELIST} (restart ${SLURM_RESTART_COUNT:-0})"
sleep 2  # each run lasts long enough for sacct to count it (ElapsedRaw > 0): both are charged
if [ "${SLURM_RESTART_COUNT:-0}" -eq 0 ]; then
    echo "$(date "+%F %T") checkpoint written before the time limit: requeueing job ${SLURM_JOB_ID}"
    scontrol requeue "${SLURM_JOB_ID}"
    exit 0
fi
echo "$(date "+%F %T") done"
"""


@pytest.fixture(scope="module")
def jobs(local_slurm, tmp_path_factory):
    base = tmp_path_factory.mktemp("logs")
    places = {
        "success": experiment_dir(base, "success", local_slurm),
        "exception": experiment_dir(base, "exception", local_slurm),
        "killed": experiment_dir(base, "killed", local_slurm, epochs=500),
        "cancelled": experiment_dir(base, "cancelled", local_slurm, epochs=500),
        # one rank (one core) trains until the limit: the other jobs keep the other core. Alone on
        # a node it trains about 250 of these tiny epochs a minute: far more than it can finish. (A
        # limit of 1 minute left no epoch done under load: start-up and tracing took all of it.)
        "timeout": experiment_dir(
            base, "timeout", local_slurm, ranks=1, epochs=TIMEOUT_EPOCHS, checkpoint_every_epochs=25
        ),
    }
    scripts = {
        "success": render(places["success"]),
        "killed": render(places["killed"], "--time", "00:03:00"),
        "cancelled": render(places["cancelled"], "--time", "00:05:00"),
        "timeout": render(places["timeout"], "--time", "00:02:00"),
    }
    # the data stages here, then train.ids cut short: np.memmap in hpcseq/vocab.py fails in the job
    exception = places["exception"]
    for stage in ("preprocess", "vocab"):
        result = hpcseq(stage, "--configfile", str(exception.config), "--experiment", "tiny_char", cwd=exception.root)
        assert result.returncode == 0, result.stderr
    ids_file = exception.results / "tiny_char" / "encoded" / "train.ids"
    with open(ids_file, "r+b") as handle:
        handle.truncate(1000)
    scripts["exception"] = render(exception, "--no-data-steps")

    ids = {
        name: submit(scripts[name], places[name].submit)
        for name in ("success", "exception", "killed", "cancelled", "timeout")
    }
    requeue_dir = base / "requeue"
    requeue_dir.mkdir()
    (requeue_dir / "requeue_me.sbatch").write_text(REQUEUE_SCRIPT)
    ids["requeue"] = submit(requeue_dir / "requeue_me.sbatch", requeue_dir, "--account", local_slurm)
    follow = subprocess.Popen(
        [sys.executable, "-m", "hpcseq", "logs", "--follow", "--interval", "3", ids["success"]],
        cwd=places["success"].submit,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    acted = {"killed": None, "cancelled": None, "timeout": None}
    deadline = time.time() + 900
    try:
        while not all(acted.values()):
            if time.time() > deadline:
                raise TimeoutError(f"training of {acted} never started")
            if acted["cancelled"] is None and epoch_line_written(places["cancelled"], ids["cancelled"]):
                subprocess.run(["scancel", ids["cancelled"]], check=True)
                acted["cancelled"] = "scancel"
            if acted["killed"] is None and epoch_line_written(places["killed"], ids["killed"]):
                acted["killed"] = kill_rank(ids["killed"], 1)
            if acted["timeout"] is None and checkpoint_written(places["timeout"]):
                # all it needs now is to reach its limit: its rank leaves the cores to the other
                # jobs and test suites (it still trains, and Slurm still ends it at the limit)
                acted["timeout"] = lower_priority(rank_process(ids["timeout"], 0))
            time.sleep(1)
        rows = {name: wait_for_job(job_id, timeout=900) for name, job_id in ids.items()}
        follow_out, follow_err = follow.communicate(timeout=120)
    finally:
        if follow.poll() is None:
            follow.kill()
    return SimpleNamespace(
        places=places, ids=ids, rows=rows, requeue_dir=requeue_dir, follow=(follow.returncode, follow_out, follow_err)
    )


def detail(jobs, name: str) -> tuple[dict, str]:
    place = jobs.places[name]
    job_id = jobs.ids[name]
    data = logs_json(job_id, cwd=place.submit)[job_id]
    text = hpcseq("logs", job_id, cwd=place.submit)
    assert text.returncode == 0, text.stderr
    return data, text.stdout


def test_a_completed_run_shows_epochs_metrics_and_speed_from_metrics_jsonl(jobs):
    assert jobs.rows["success"]["State"] == "COMPLETED"
    data, text = detail(jobs, "success")
    records = metrics_records(jobs.places["success"].results)
    last = records[-1]
    assert (data["state"], data["rule"], data["experiment"]) == ("completed", "sbatch", "tiny_char")
    assert (data["epochs_done"], data["epochs_planned"], data["progress_from"]) == (2, 2, "metrics.jsonl")
    assert (data["loss"], data["val_loss"]) == (last["loss"], last["val_loss"])
    assert (data["accuracy"], data["val_accuracy"]) == (
        last["sparse_categorical_accuracy"],
        last["val_sparse_categorical_accuracy"],
    )
    assert data["samples_per_second"] == statistics.median(r["samples_per_second"] for r in records)
    assert (data["ranks"], data["gpus"], data["nodes"]) == (2, 2, 1)
    assert 0 < data["elapsed_seconds"] <= data["limit_seconds"] == 20 * 60
    assert data["diagnosis"] is None and "diagnosis" not in text
    assert "epoch 2/2" in text and "state      completed (Slurm: COMPLETED, exit code 0)" in text


def test_follow_watches_the_job_until_it_ends(jobs):
    # a single job id: the detailed view, redrawn every 3 s until the job has ended
    code, out, err = jobs.follow
    job_id = jobs.ids["success"]
    assert code == 0, err
    assert out.count(f"job {job_id}: ") >= 2, out
    first, last = out.split("next refresh in")[0], out.rsplit(f"job {job_id}: ", 1)[1]
    assert re.search(r"state +(pending|running)", first), first
    assert "state      completed" in last and "next refresh" not in last and "epoch 2/2" in last


def test_time_limit_names_epochs_checkpoint_and_how_to_resume(jobs):
    assert jobs.rows["timeout"]["State"] == "TIMEOUT"
    data, text = detail(jobs, "timeout")
    records = metrics_records(jobs.places["timeout"].results)
    assert data["state"] == "timeout" and data["limit_seconds"] == 120
    assert data["epochs_done"] == records[-1]["epoch"] >= 1 and data["epochs_planned"] == TIMEOUT_EPOCHS
    assert data["loss"] == records[-1]["loss"]
    diagnosis = data["diagnosis"]
    assert diagnosis["kind"] == "time_limit"
    assert diagnosis["evidence"]["path"].endswith(f"tiny_char_err.{jobs.ids['timeout']}")
    assert "DUE TO TIME LIMIT" in diagnosis["evidence"]["text"]
    # the checkpoint it names is the newest complete one on disk
    checkpoints = sorted((jobs.places["timeout"].results / "tiny_char" / "model" / "checkpoints").glob("epoch-*"))
    state = json.loads((checkpoints[-1] / "state.json").read_text())
    assert data["checkpoint_path"] == str(checkpoints[-1])
    assert data["checkpoint"].startswith(f"epoch {state['epochs_completed']}")
    assert str(checkpoints[-1]) in diagnosis["next_step"]
    assert f"sbatch {jobs.places['timeout'].root / 'jobs' / 'local' / 'tiny_char.sbatch'}" in diagnosis["next_step"]
    assert "slurm.time.train" in diagnosis["next_step"]
    assert "diagnosis  time_limit" in text and "next step" in text


def test_a_python_exception_is_located_in_the_projects_code(jobs):
    assert jobs.rows["exception"]["State"] == "FAILED"
    data, text = detail(jobs, "exception")
    source = (REPO_ROOT / "scripts" / "hpcseq" / "data" / "vocabulary.py").read_text().splitlines()
    memmap_line = next(i for i, line in enumerate(source, 1) if "np.memmap(" in line)
    diagnosis = data["diagnosis"]
    assert data["state"] == "failed" and diagnosis["kind"] == "python_exception"
    assert diagnosis["location"] == f"scripts/hpcseq/data/vocabulary.py:{memmap_line}"
    assert diagnosis["summary"].startswith("ValueError: mmap length is greater than file size")
    assert diagnosis["evidence"]["text"] == "ValueError: mmap length is greater than file size"
    assert "numpy" not in diagnosis["location"]
    assert f"code       scripts/hpcseq/data/vocabulary.py:{memmap_line}" in text


def test_a_cancelled_job_says_by_whom_and_where_training_stands(jobs):
    assert jobs.rows["cancelled"]["State"].startswith("CANCELLED")
    data, text = detail(jobs, "cancelled")
    import pwd

    user = pwd.getpwuid(os.geteuid()).pw_name
    diagnosis = data["diagnosis"]
    assert (data["state"], data["reason"]) == ("cancelled", user)
    assert diagnosis["kind"] == "cancelled" and f"cancelled by {user}" in diagnosis["summary"]
    assert "CANCELLED AT" in diagnosis["evidence"]["text"] and "DUE TO" not in diagnosis["evidence"]["text"]
    assert data["epochs_done"] >= 1 and data["checkpoint_path"] and data["checkpoint_path"] in diagnosis["next_step"]
    assert f"state      cancelled by {user}" in text


def test_a_rank_killed_during_training_is_named(jobs):
    assert jobs.rows["killed"]["State"] == "FAILED"
    data, _ = detail(jobs, "killed")
    diagnosis = data["diagnosis"]
    assert data["state"] == "failed" and data["epochs_done"] >= 1
    assert diagnosis["kind"] == "rank_died"
    assert diagnosis["evidence"]["text"].endswith("task 1: Killed")
    assert "rank 1" in diagnosis["summary"] and "killed from outside" in diagnosis["next_step"]


def test_a_requeued_job_counts_its_runs_and_is_charged_for_each(jobs):
    job_id = jobs.ids["requeue"]
    assert jobs.rows["requeue"]["State"] == "COMPLETED"
    data = logs_json(job_id, cwd=jobs.requeue_dir)[job_id]
    assert data["state"] == "completed" and data["runs"] == 2
    assert any("REQUEUED" in note for note in data["notes"])
    # both runs are charged, as sacct tells them: a CPU-only job (partition batch), no GPU-hours
    expected = charged_by_sacct(job_id)
    assert expected.runs == 2 and expected.gpu_hours == 0
    assert all(seconds >= 2 for seconds in expected.elapsed), expected  # each run counts
    assert_charges(data["charges"], expected)
    text = hpcseq("logs", job_id, cwd=jobs.requeue_dir).stdout
    assert f"charged    {expected.node_hours:.3f} node-hours, 0.000 GPU-hours over 2 runs\n" in text


def test_a_waiting_job_shows_why(local_slurm, tmp_path):
    job_id = subprocess.run(
        [
            "sbatch",
            "--parsable",
            "--begin=now+3600",
            "--job-name=logs_waiting",
            f"--output={tmp_path}/logs_waiting_out.%j",
            "--account",
            local_slurm,
            "--wrap",
            "true",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout.strip()
    try:
        wait_for_pending_reason(job_id, "BeginTime")  # Slurm's own word first: hpcseq logs reports it
        data = logs_json(job_id, cwd=tmp_path)[job_id]
        text = hpcseq("logs", job_id, cwd=tmp_path).stdout
    finally:
        subprocess.run(["scancel", job_id], check=True)
    assert (data["state"], data["reason"], data["active"]) == ("pending", "BeginTime", True)
    assert data["reason_text"] == "asked to start later (--begin)" and data["expected_start"]
    assert "pending (BeginTime)" in text


def test_the_table_of_all_runs_and_the_same_answers_without_sacct_and_squeue(jobs, tmp_path):
    places = jobs.places
    dirs = [str(places[name].submit) for name in ("success", "exception", "killed", "cancelled", "timeout")]
    table = hpcseq("logs", *dirs, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    rows = {line.split()[0]: line.split() for line in table.stdout.splitlines()[1:6]}
    expected = {
        "success": "completed",
        "exception": "failed",
        "killed": "failed",
        "cancelled": "cancelled",
        "timeout": "timeout",
    }
    assert {name: rows[jobs.ids[name]][3] for name in expected} == expected
    # each job's charge and their total, against sacct (the total row follows the jobs' rows)
    charged = {name: charged_by_sacct(jobs.ids[name]) for name in expected}
    for name, figures in charged.items():
        assert rows[jobs.ids[name]][-2:] == [f"{figures.node_hours:.3f}", f"{figures.gpu_hours:.3f}"], name
    total = table.stdout.splitlines()[6].split()
    assert total == [
        "total",
        *(f"{sum(getattr(c, key) for c in charged.values()):.3f}" for key in ("node_hours", "gpu_hours")),
    ]
    document = json.loads(hpcseq("logs", "--json", *dirs, cwd=tmp_path).stdout)
    for job in document["jobs"]:
        assert_charges(job["charges"], charged_by_sacct(job["job_id"]))
    assert document["total"]["node_hours"] == pytest.approx(sum(c.node_hours for c in charged.values()))
    assert document["total"]["gpu_hours"] == pytest.approx(sum(c.gpu_hours for c in charged.values()))
    # a cluster without accounting, and no squeue: the files alone
    fake = tmp_path / "bin"
    fake.mkdir()
    for name, message in (
        ("sacct", "sacct: error: Slurm accounting storage is disabled"),
        ("squeue", "slurm_load_jobs error: Unable to contact slurm controller"),
    ):
        (fake / name).write_text(f"#!/bin/sh\necho '{message}' >&2\nexit 1\n")
        (fake / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}
    result = hpcseq("logs", "--json", *dirs, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    found = {job["job_id"]: job for job in document["jobs"]}
    assert {name: found[jobs.ids[name]]["state"] for name in expected} == expected
    kinds = {name: (found[jobs.ids[name]]["diagnosis"] or {}).get("kind") for name in expected}
    assert kinds == {
        "success": None,
        "exception": "python_exception",
        "killed": "rank_died",
        "cancelled": "cancelled",
        "timeout": "time_limit",
    }
    assert found[jobs.ids["success"]]["epochs_done"] == 2 and found[jobs.ids["success"]]["slurm_state"] is None
    assert any("accounting storage is disabled" in note for note in document["notes"])
    # and what the jobs were charged is unknown, not 0
    assert all(job["charges"]["node_hours"] is None and job["charges"]["gpu_hours"] is None for job in found.values())
    assert (document["total"]["node_hours"], document["total"]["unknown_jobs"]) == (None, len(found))


def test_unknown_job_id_is_a_usage_error(local_slurm, tmp_path):
    result = hpcseq("logs", "999999999", cwd=tmp_path)
    assert result.returncode == 2
    assert "hpcseq logs: error: job 999999999: no log files in" in result.stderr
    assert "Slurm does not know it" in result.stderr


def test_a_snakemake_profile_run_directory(profile_pipeline):
    run_dir = profile_pipeline.run_dir  # the user's run directory: Snakemake started there, its jobs ran there
    submitted = {job: rule for job, (rule, _) in profile_pipeline.submitted.items()}
    experiments = {job: experiment for job, (_, experiment) in profile_pipeline.submitted.items()}
    assert {
        "preprocess_text",
        "preprocess_sentences",
        "vocabulary_characters",
        "vocabulary_words",
        "train",
        "evaluate",
    } <= set(submitted.values())
    found = logs_json(cwd=run_dir)
    assert set(found) == set(submitted)
    results = profile_pipeline.root / "results"
    for job_id, rule in submitted.items():
        job = found[job_id]
        assert (job["rule"], job["experiment"], job["state"]) == (rule, experiments[job_id], "completed"), job
        assert job["diagnosis"] is None and job["nodes"] == 1
        if rule == "train":
            records = metrics_records(results, job["experiment"])
            accuracy = "sparse_categorical_accuracy" if job["experiment"] == "tiny_char" else "accuracy"
            assert (job["epochs_done"], job["epochs_planned"], job["ranks"], job["gpus"]) == (2, 2, 2, 2)
            assert (job["loss"], job["val_loss"], job["accuracy"], job["val_accuracy"]) == (
                records[-1]["loss"],
                records[-1]["val_loss"],
                records[-1][accuracy],
                records[-1][f"val_{accuracy}"],
            )
            assert job["samples_per_second"] == statistics.median(r["samples_per_second"] for r in records)
            assert any(path.endswith(f"logs/train/{job['experiment']}.log") for path in job["files"])
        else:
            assert job["epochs_done"] is None and job["gpus"] == 0
    table = hpcseq("logs", cwd=run_dir)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert len(lines) == 1 + len(submitted) + 2  # the jobs, their charges' total and the columns' legend
    for line in lines[1 : 1 + len(submitted)]:
        job_id, rule, experiment, state = line.split()[:4]
        assert (rule, experiment, state) == (submitted[job_id], experiments[job_id], "completed")
        assert_charges(found[job_id]["charges"], charged_by_sacct(job_id))
    assert lines[1 + len(submitted)].startswith("total")
    # every stage that ran in a Slurm job recorded it in its experiment's job ledger (job_ledger.py)
    stages = {"preprocess": "preprocess", "vocabulary": "vocab", "train": "train", "evaluate": "evaluate"}
    ledgers = {
        (entry["job_id"], experiment)
        for experiment in set(experiments.values())
        for entry in read_ledger(ExperimentPaths.of(results, experiment).slurm_jobs)
    }
    staged = {job for job, rule in submitted.items() if rule.split("_")[0] in stages}
    assert ledgers == {(job, experiments[job]) for job in staged}
    train = next(job_id for job_id, rule in submitted.items() if rule == "train")
    detail_view = hpcseq("logs", train, cwd=run_dir).stdout
    assert f"job {train}: rule train, experiment {experiments[train]} (Snakemake)" in detail_view
    assert "epoch 2/2" in detail_view
