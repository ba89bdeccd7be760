"""`hpcseq logs` on local runs (`snakemake --cores N`, `make run`: no Slurm), issue 11.7: one row per
rule log of a stage, its state from Snakemake's log of the run, its lock and incomplete markers and
the stage's outputs, its time from the benchmark file, and the cause of a failure."""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from hpcseq import cli
from hpcseq.logs.diagnose import Facts, diagnose
from hpcseq.logs.parse import lines_from_text, parse_snakemake_run
from tests.unit.logs.conftest import LOCAL_RUN_LOG_NAME, write_local_run
from tests.unit.logs.excerpts import LOCAL_RUN_SNAKEMAKE_LOG, LOCAL_TRAIN_FAILED_LOG, LOCAL_TRAIN_LOG

BASH, SLEEP = shutil.which("bash") or "/bin/bash", shutil.which("sleep") or "/bin/sleep"  # before PATH is emptied
TRAIN_OUTPUTS = ("final.keras", "metrics.jsonl", "training_summary.json")


@pytest.fixture
def no_slurm_commands(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "no-slurm-here"))  # no sacct, no squeue


def logs(capsys, *args: str) -> str:
    assert cli.main(["logs", *args]) == 0
    return capsys.readouterr().out


# ------------------------------------------------------------------------------ the user's view


def test_a_local_run_is_a_table_of_its_rule_logs_with_the_cause_of_a_failure(
    local_run, capsys, monkeypatch, no_slurm_commands, utc
):
    """Issue 11.7: `hpcseq logs` in the directory of a local run said "no Slurm jobs found"."""
    monkeypatch.chdir(local_run)
    # no Slurm jobs: no charges (`-`), no total row
    assert logs(capsys) == (
        "JOB    RULE             EXPERIMENT      STATE      ELAPSED/LIMIT  NODES  RANKS/GPUS  EPOCHS  LOSS/VAL     "
        "ACC/VAL      SAMPLES/S  NODE-H  GPU-H\n"
        "local  preprocess_text  tiny_char       completed  00:00:00/-     vm     -           -       -            "
        "-            -          -       -\n"
        "local  train            tiny_char       completed  00:00:28/-     vm     2/-         2/2     2.967/2.950  "
        "0.195/0.187  4297       -       -\n"
        "local  train            tiny_sentiment  failed     00:00:10/-     vm     2/-         -       -            "
        "-            -          -       -\n"
        "\n"
        "rulelogs/train/tiny_sentiment.log: hpcseq_error: hpcseq train stopped with an input or config error: "
        "res/tiny_sentiment/encoded/train.npz: the training ...\n"
        "Details, evidence and what to do: hpcseq logs <LOG FILE> (a local run's job)\n"
    )
    # the same from elsewhere, naming the run directory; `local` names its local jobs only
    monkeypatch.chdir(local_run.parent)
    assert logs(capsys, str(local_run)).count("\nlocal  ") == 3
    monkeypatch.chdir(local_run)
    assert logs(capsys, "local").count("\nlocal  ") == 3


def test_a_rule_log_gives_the_detailed_view_of_its_job(local_run, capsys, monkeypatch, no_slurm_commands, utc):
    """Issue 11.7: `hpcseq logs logs/train/x.log` said "not a Slurm log hpcseq knows"."""
    monkeypatch.chdir(local_run)
    detail = logs(capsys, "rulelogs/train/tiny_sentiment.log")
    assert detail.startswith(
        "local run: rule train, experiment tiny_sentiment (Snakemake, no Slurm)\n"
        "state      failed (exit code 1)\n"
        "time       00:00:10, started 2026-11-25T14:23:35, ended 2026-11-25T14:23:45\n"
        "resources  nodes vm; ranks 2; GPUs -\n"
        f"files      {local_run / 'rulelogs/train/tiny_sentiment.log'}\n"
        f"           {local_run / '.snakemake/log' / LOCAL_RUN_LOG_NAME}\n"
    )
    words = " ".join(detail.split())
    error_line = LOCAL_TRAIN_FAILED_LOG.splitlines().index(
        "[0]<stderr>:hpcseq train: error: res/tiny_sentiment/encoded/train.npz: the training split has 4859 "
        "sentences; 2 ranks x batch 5000 need at least 10000"
    )
    assert (
        "diagnosis hpcseq_error: hpcseq train stopped with an input or config error: "
        "res/tiny_sentiment/encoded/train.npz: the training split has 4859 sentences; 2 ranks x batch 5000 need "
        "at least 10000" in words
    )
    assert f"evidence {local_run / 'rulelogs/train/tiny_sentiment.log'}:{error_line + 1}: hpcseq train: error:" in words
    assert "Run the same `snakemake --cores N ...` command (`make run`) again: it reruns rule train." in words
    assert "sacct" not in detail  # no Slurm was asked: nothing to say about it
    # a completed training: its epochs, metrics and speed from metrics.jsonl, its time from the benchmark
    detail = logs(capsys, str(local_run / "rulelogs/train/tiny_char.log"))
    assert (
        "state      completed\ntime       00:00:28, started 2026-11-25T14:23:06, ended 2026-11-25T14:23:35\n" in detail
    )
    assert "training   epoch 2/2 (this job: epochs 1-2, from metrics.jsonl)\n" in detail
    assert "diagnosis" not in detail


def test_slurm_jobs_keep_their_rows_and_a_slurm_jobs_rule_log_is_not_a_local_job(
    run_dir, capsys, monkeypatch, no_slurm_commands
):
    # run_dir: Snakemake's Slurm job 101 (its rule log logs/train/tiny_char.log) and job script 57
    monkeypatch.chdir(run_dir)
    table = logs(capsys)
    assert [line.split()[0] for line in table.splitlines()[1:3]] == ["57", "101"] and "local" not in table
    assert logs(capsys, "local").startswith("no jobs found")
    # a local run in the same directory adds its rows after the Slurm jobs
    (run_dir / "logs" / "preprocess").mkdir()
    (run_dir / "logs" / "preprocess" / "tiny_char.log").write_text("2026-11-25 14:23:05 hpcseq preprocess INFO x\n")
    (run_dir / "results" / "tiny_char" / "prepared").mkdir(parents=True)
    (run_dir / "results" / "tiny_char" / "prepared" / "split_report.json").write_text("{}")
    rows = [line.split()[:4] for line in logs(capsys).splitlines()[1:4]]
    assert rows == [
        ["57", "sbatch", "tiny_char", "timeout"],
        ["101", "train", "tiny_char", "completed"],
        ["local", "preprocess", "tiny_char", "completed"],  # no Snakemake log: the stage, not its rule
    ]


def test_without_snakemakes_log_the_configs_folders_find_the_rule_logs_and_outputs(
    tmp_path, capsys, monkeypatch, no_slurm_commands
):
    run = write_local_run(tmp_path / "run", snakemake_log=None)
    monkeypatch.chdir(run)
    states = {tuple(line.split()[1:4]) for line in logs(capsys).splitlines()[1:4]}
    assert states == {
        ("preprocess", "tiny_char", "completed"),  # its outputs are there
        ("train", "tiny_char", "completed"),
        ("train", "tiny_sentiment", "failed"),  # its log ends in an error
    }
    # the results elsewhere: --results-dir finds them
    (run / "res").rename(run / "moved")
    detail = logs(capsys, "rulelogs/train/tiny_char.log")
    assert detail.splitlines()[1] == "state      unknown"
    assert "note: no end in its log, and neither Snakemake's log of the run nor its outputs say" in detail
    detail = logs(capsys, "--results-dir", "moved", "rulelogs/train/tiny_char.log")
    assert detail.splitlines()[1] == "state      completed"
    # without config/config.yaml the default folders (logs/, results/) hold nothing
    (run / "config" / "config.yaml").unlink()
    assert logs(capsys).startswith("no jobs found")


# ----------------------------------------------------------------- running, interrupted, unknown


def running_run(run: Path, fresh: bool = True, locked: bool = True) -> Path:
    """tiny_char's training while it runs: its first lines written, its job's header in Snakemake's
    log but not its end, Snakemake's incomplete markers and (`locked`) its lock on the outputs."""
    log = LOCAL_RUN_SNAKEMAKE_LOG.splitlines()
    header = log.index("    log: rulelogs/train/tiny_char.log")
    write_local_run(run, "\n".join(log[: header + 8]) + "\n")
    (run / "rulelogs" / "train" / "tiny_char.log").write_text("\n".join(LOCAL_TRAIN_LOG.splitlines()[:6]) + "\n")
    outputs = [f"res/tiny_char/model/{name}" for name in TRAIN_OUTPUTS]
    for output in outputs:
        (run / output).unlink()
        marker = run / ".snakemake" / "incomplete" / base64.urlsafe_b64encode(output.encode()).decode()
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text('{"external_jobid": null}')
    (run / "bench" / "train" / "tiny_char.tsv").unlink()
    if locked:
        (run / ".snakemake" / "locks").mkdir()
        (run / ".snakemake" / "locks" / "0.output.lock").write_text("\n".join(outputs) + "\n")
    if not fresh:
        quiet = time.time() - 600
        for path in (run / "rulelogs" / "train" / "tiny_char.log", run / ".snakemake" / "log" / LOCAL_RUN_LOG_NAME):
            os.utime(path, (quiet, quiet))
    return run


def train_row(table: str) -> list[str]:
    return next(line.split() for line in table.splitlines() if line.startswith("local  train            tiny_char"))


def test_a_job_under_snakemakes_lock_with_a_fresh_log_runs(tmp_path, capsys, monkeypatch, no_slurm_commands):
    run = running_run(tmp_path / "run")
    monkeypatch.chdir(run)
    state, elapsed = train_row(logs(capsys))[3:5]
    assert state == "running" and re.fullmatch(r"00:00:0\d/-", elapsed)  # since Snakemake marked its outputs
    detail = logs(capsys, "rulelogs/train/tiny_char.log")
    assert re.search(
        r"note: running: Snakemake holds its lock and the log was written \d s ago \(no process on", detail
    )
    # where it runs, a process writes the log: see test_a_process_here_that_writes_the_log_is_a_running_job


def test_a_job_under_a_lock_with_nothing_written_for_long_is_unknown(tmp_path, capsys, monkeypatch, no_slurm_commands):
    run = running_run(tmp_path / "run", fresh=False)
    monkeypatch.chdir(run)
    assert train_row(logs(capsys))[3] == "unknown"
    detail = " ".join(logs(capsys, "rulelogs/train/tiny_char.log").split())
    assert "nothing was written for 10 min and no process on this machine writes its log" in detail
    assert (
        "a quiet step on another machine, or Snakemake was killed (then `snakemake --unlock` and run again)" in detail
    )


def test_a_job_that_snakemake_left_unfinished_was_interrupted(tmp_path, capsys, monkeypatch, no_slurm_commands):
    run = running_run(tmp_path / "run", locked=False)
    monkeypatch.chdir(run)
    table = logs(capsys)
    assert train_row(table)[3] == "interrupted"
    assert (
        "rulelogs/train/tiny_char.log: interrupted: Snakemake was stopped before this step ended (Ctrl-C, a kill, "
        "the machine's end).\n" in table
    )
    # Ctrl-C says so in Snakemake's log
    with open(run / ".snakemake" / "log" / LOCAL_RUN_LOG_NAME, "a") as log:
        log.write("Terminating processes on user request, this might take some time.\nComplete log(s): x\n")
    detail = " ".join(logs(capsys, "rulelogs/train/tiny_char.log").split())
    assert "diagnosis interrupted: Snakemake was stopped before this step ended (Ctrl-C)." in detail
    assert "evidence " in detail and ": Terminating processes on user request" in detail
    assert (
        "Snakemake marked its outputs incomplete; it reruns the step (should it refuse because of them, add" in detail
    )


@pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="finds processes in /proc (Linux)")
def test_a_process_here_that_writes_the_log_is_a_running_job(tmp_path, capsys, monkeypatch, no_slurm_commands):
    run = running_run(tmp_path / "run", fresh=False)  # nothing written for long, but it runs
    # the rule's command as Snakemake starts it: `bash -c '... > <log> 2>&1 || { ... }'` (appending here)
    command = f"{SLEEP} 60 >> rulelogs/train/tiny_char.log 2>&1 || {{ status=$?; exit $status; }}"
    process = subprocess.Popen([BASH, "-c", command], cwd=run, start_new_session=True)  # its own process group
    try:
        for _ in range(50):  # until bash runs its command line
            if b">>" in Path(f"/proc/{process.pid}/cmdline").read_bytes():
                break
            time.sleep(0.1)
        monkeypatch.chdir(run)
        assert train_row(logs(capsys))[3] == "running"
        assert "note: running:" not in logs(capsys, "rulelogs/train/tiny_char.log")  # known, not guessed
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # bash and its sleep
        process.wait(timeout=10)


# ------------------------------------------------------------------------------ the pieces


def test_snakemakes_log_of_a_run_tells_each_jobs_rule_log_start_end_and_failure(utc):
    run = parse_snakemake_run(lines_from_text(LOCAL_RUN_SNAKEMAKE_LOG, "run.log"))
    assert (run.host, run.ended, run.interrupted) == ("vm", True, None)
    jobs = {job.log.log_files[0]: job for job in run.jobs.values()}
    assert sorted(jobs) == [
        "rulelogs/evaluate/tiny_char.log",
        "rulelogs/preprocess/tiny_char.log",
        "rulelogs/train/tiny_char.log",
        "rulelogs/train/tiny_sentiment.log",
    ]
    done, failed = jobs["rulelogs/train/tiny_char.log"], jobs["rulelogs/train/tiny_sentiment.log"]
    assert (done.jobid, done.log.rule, done.log.finished, done.log.error, done.log.benchmark) == (
        "2",
        "train",
        True,
        False,
        "bench/train/tiny_char.tsv",
    )
    assert done.ended - done.started == 29 and done.log.wildcards == {"experiment": "tiny_char"}
    assert (failed.log.finished, failed.log.error, failed.log.exit_status, failed.ended - failed.started) == (
        False,
        True,
        1,
        10,
    )
    assert failed.log.outputs[0] == "res/tiny_sentiment/model/final.keras"


def test_ranks_that_exit_with_the_code_of_their_signal_stop_did_not_die():
    # horovodrun's report (gloo_run.py) after both ranks stopped on SIGUSR1 outside Slurm
    text = (
        "[0]<stderr>:hpcseq train: error: stopped on SIGUSR1 after writing checkpoint res/x/model/checkpoints/"
        "epoch-0001-step-0000012; run again to continue (exit code 75)\n"
        "[1]<stderr>:hpcseq train: error: stopped on SIGUSR1 after writing checkpoint res/x/model/checkpoints/"
        "epoch-0001-step-0000012; run again to continue (exit code 75)\n"
        "Process 0 exit with status code 75.\n"
        "RuntimeError: Horovod detected that one or more processes exited with non-zero status, thus causing the "
        "job to be terminated. The first process to do so was:\n"
        "Process name: 0\n"
        "Exit code: 75\n"
    )
    found = diagnose(Facts(lines=lines_from_text(text), state="FAILED", exit_code=75, rule="train"))
    assert found.kind == "time_limit" and found.evidence.line == 1
    # a rank that exits with another code did die
    died = diagnose(Facts(lines=lines_from_text(text.replace("Exit code: 75", "Exit code: 1")), state="FAILED"))
    assert died.kind == "rank_died" and "exit code 1" in died.summary
