"""`hpcseq logs` on text: parsing of console lines, metrics, Snakemake's and Slurm's output, and the
diagnosis of every kind of failure.

Excerpts marked "recorded here" were written by real jobs on the local Slurm cluster
(tests/cluster/local_slurm.sh; tests/slurm/test_logs.py makes the same ones). Failures that cannot
happen on this machine (no GPU, one node, no Lmod, no NCCL) use excerpts in the form the real
systems print them; each says where it comes from.
"""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest

from hpcseq import cli
from hpcseq.records import read_epoch_records
from hpcseq.logs import collect
from hpcseq.logs import main as logs_main
from hpcseq.logs.diagnose import Facts, diagnose, display_path, is_noise, pending_reason, tracebacks
from hpcseq.logs.parse import (
    Checkpoint,
    console_progress,
    lines_from_text,
    parse_script_output,
    parse_snakemake_log,
    records_between,
    results_dir_from,
    timestamp,
)
from hpcseq.logs.render import JobRecord, follow, render_detail, render_json, render_table
from hpcseq.logs.sources import (
    LogsError,
    Slurm,
    SlurmJob,
    discover,
    files_from_slurm,
    files_of_path,
    gpus_of,
    parse_sacct,
    parse_squeue,
    script_of,
    split_state,
)

NO_SLURM = Slurm(sacct="/nonexistent/sacct", squeue="/nonexistent/squeue")


def facts(text: str, path: str = "job.err", **values) -> Facts:
    return Facts(lines=lines_from_text(text, path), **values)


# ------------------------------------------------------------------------------------- parsing

CONSOLE = """\
2026-11-22 11:04:08 hpcseq train rank 0/2 INFO experiment tiny_char: char_rnn on 2 rank(s), launcher srun, host vm, CPU, 1 threads per rank
2026-11-22 11:04:09 hpcseq train rank 0/2 INFO data: 23990 training items (11995 on this rank), 30 steps per epoch of 32 per rank, global batch 64
2026-11-22 11:04:38 hpcseq train rank 0/2 INFO epoch 1/500 loss 3.3705 sparse_categorical_accuracy 0.1073 val_loss 3.0801 val_sparse_categorical_accuracy 0.1886 | 122 samples/s | 17.7 s
2026-11-22 11:04:38 hpcseq train rank 0/2 INFO epoch 2/500 loss 2.9669 sparse_categorical_accuracy 0.1948 val_loss 2.9499 val_sparse_categorical_accuracy 0.1870 | 8903 samples/s | 0.3 s
2026-11-22 11:04:39 hpcseq train rank 0/2 INFO epoch 3/500 loss 2.9149 sparse_categorical_accuracy 0.1896 val_loss 2.8815 val_sparse_categorical_accuracy 0.1930 | 8715 samples/s | 0.4 s
2026-11-22 11:04:40 hpcseq train rank 0/2 INFO checkpoint /r/results/tiny_char/model/checkpoints/epoch-0003-step-0000000 written in 0.23 s
2026-11-22 11:04:59 hpcseq train rank 0/2 WARNING received SIGTERM: will checkpoint after the current step and stop
2026-11-22 11:05:00 hpcseq train rank 0/2 INFO checkpoint /r/results/tiny_char/model/checkpoints/epoch-0003-step-0000005 written in 0.01 s
"""  # recorded here (job 57, cut)


def test_console_progress_reads_epochs_metrics_ranks_and_the_last_checkpoint():
    progress = console_progress(lines_from_text(CONSOLE))
    assert (progress.epochs_done, progress.epochs_planned, progress.epochs_this_job) == (3, 500, 3)
    assert (progress.loss, progress.val_loss) == (2.9149, 2.8815)
    assert (progress.accuracy, progress.val_accuracy) == (0.1896, 0.1930)
    assert progress.samples_per_second == 8715  # the median: the first epoch's 122/s includes compiling
    assert (progress.ranks, progress.launcher, progress.host) == (2, "srun", "vm")
    assert progress.last_checkpoint.describe() == "epoch 3 + 5 steps of epoch 4"
    assert not progress.finished and progress.training_started


def test_horovodrun_prefixes_are_stripped_and_the_rank_kept():
    # horovodrun prefixes every line with [rank]<stream>:, mpirun --tag-output with [job,rank]<stream>:
    text = (
        "[0]<stdout>:2026-11-22 07:59:09 hpcseq train rank 0/2 INFO epoch 1/25 loss 2.1197 "
        "sparse_categorical_accuracy 0.3823 val_loss 1.9879 val_sparse_categorical_accuracy 0.4123 | "
        "31151 samples/s | 32.8 s\n[1,1]<stderr>:Traceback (most recent call last):\n"
    )
    lines = lines_from_text(text)
    assert [line.rank for line in lines] == [0, 1]
    assert lines[1].text == "Traceback (most recent call last):"
    progress = console_progress(lines)
    assert (progress.epochs_done, progress.epochs_planned, progress.loss, progress.val_accuracy) == (
        1,
        25,
        2.1197,
        0.4123,
    )
    assert progress.samples_per_second == 31151


def test_sentiment_accuracy_key_and_the_end_of_training():
    text = (
        "2026-11-22 11:11:12 hpcseq train rank 0/2 INFO epoch 2/2 loss 0.6374 accuracy 0.5719 val_loss 0.6038 "
        "val_accuracy 0.6838 | 1704 samples/s | 0.8 s\n"
        "2026-11-22 11:11:12 hpcseq train rank 0/2 INFO done: final model /r/x/model/final.keras, metrics "
        "/r/x/model/metrics.jsonl\n"
    )
    progress = console_progress(lines_from_text(text))
    assert (progress.accuracy, progress.val_accuracy, progress.finished) == (0.5719, 0.6838, True)


def test_metrics_file_skips_a_cut_off_line_and_records_are_chosen_by_time(tmp_path):
    path = tmp_path / "metrics.jsonl"
    records = [
        {"epoch": e, "epochs": 5, "loss": 3.0 - e / 10, "time": f"2026-11-22T11:0{e}:00+0000"} for e in (1, 2, 3)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + '{"epoch": 4, "epo')
    read = read_epoch_records(path, missing_ok=True)
    assert [r["epoch"] for r in read] == [1, 2, 3]
    start = timestamp("2026-11-22T11:01:30+0000")
    assert [r["epoch"] for r in records_between(read, start, None)] == [2, 3]
    assert [r["epoch"] for r in records_between(read, start, timestamp("2026-11-22T11:02:30+0000"))] == [2]
    assert read_epoch_records(tmp_path / "missing.jsonl", missing_ok=True) == []
    with pytest.raises(FileNotFoundError):
        read_epoch_records(tmp_path / "missing.jsonl")


def test_timestamps_of_sacct_metrics_and_console_agree():
    os.environ["TZ"] = "UTC"
    try:
        import time

        time.tzset()
        assert (
            timestamp("2026-11-22T11:04:38")
            == timestamp("2026-11-22T11:04:38+0000")
            == timestamp("2026-11-22 11:04:38")
        )
        assert timestamp("2026-11-22T12:04:38+0100") == timestamp("2026-11-22T11:04:38+0000")
        assert timestamp("Unknown") is None and timestamp(None) is None
    finally:
        del os.environ["TZ"]
        time.tzset()


SNAKEMAKE_LOG = """\
Building DAG of jobs...
[Sun Nov 22 08:20:14 2026]
localrule train:
    input: /tmp/s1/results/tiny_sentiment/vocab.json, /tmp/s1/results/tiny_sentiment/encoded/train.npz
    output: /tmp/s1/results/tiny_sentiment/model/final.keras, /tmp/s1/results/tiny_sentiment/model/metrics.jsonl
    log: /tmp/s1/logs/train/tiny_sentiment.log
    jobid: 0
    wildcards: experiment=tiny_sentiment
RuleException:
CalledProcessError in file "/work/main/workflow/rules/train.smk", line 37:
Command 'set -euo pipefail;  python -m hpcseq launch --ranks 2 ... > /tmp/s1/logs/train/tiny_sentiment.log 2>&1' returned non-zero exit status 2.
[Sun Nov 22 08:20:14 2026]
Error in rule train:
    message: None
    log: /tmp/s1/logs/train/tiny_sentiment.log (check log file(s) for error details)
"""  # recorded here (a Snakemake job step's Slurm log, shortened)


def test_snakemake_slurm_log_names_rule_log_outputs_and_the_failure():
    parsed = parse_snakemake_log(lines_from_text(SNAKEMAKE_LOG))
    assert parsed.rule == "train" and parsed.wildcards == {"experiment": "tiny_sentiment"}
    assert parsed.log_files == ["/tmp/s1/logs/train/tiny_sentiment.log"]
    assert parsed.error and not parsed.finished and parsed.exit_status == 2
    assert results_dir_from(parsed.outputs, "tiny_sentiment") == "/tmp/s1/results"
    finished = parse_snakemake_log(
        lines_from_text("localrule evaluate:\nFinished jobid: 0 (Rule: evaluate)\n1 of 1 steps (100%) done\n")
    )
    assert finished.finished and not finished.error


def test_script_output_counts_only_the_latest_run_of_a_requeued_job():
    text = (
        "2026-11-22 11:20:04 job 72 on vm (restart 0)\n"
        "2026-11-22 11:20:04 checkpoint written before the time limit: requeueing job 72\n"
        "2026-11-22 11:20:36 job 72 on vm (restart 1)\n"
        "2026-11-22 11:20:36 done\n"
    )  # recorded here (a requeued job, --open-mode=append)
    output = parse_script_output(lines_from_text(text))
    assert (output.restarts, output.done, output.requeue_line) == (1, True, None)
    first = parse_script_output(lines_from_text("\n".join(text.splitlines()[:2])))
    assert first.requeue_line is not None and not first.done


# ---------------------------------------------------------------------------------- sacct/squeue

FIELDS = (
    "JobID|JobIDRaw|JobName|State|ExitCode|Elapsed|ElapsedRaw|Timelimit|TimelimitRaw|NNodes|NodeList|NTasks|"
    "AllocTRES|Reason|Submit|Start|End|Partition|WorkDir|SubmitLine"
)
SACCT = """\
60|60|tiny_char|CANCELLED by 0|0:0|00:00:26|26|00:05:00|5|1|vm||billing=2,cpu=2,gres/gpu=2,mem=2000M,node=1|None|2026-11-22T11:09:29|2026-11-22T11:09:30|2026-11-22T11:09:56|gpus|/tmp/c/submit|sbatch --parsable /tmp/c/jobs/local/tiny_char.sbatch
60.batch|60.batch|batch|CANCELLED|0:15|00:00:26|26|||1|vm|1|cpu=2,gres/gpu=2,mem=2000M,node=1||2026-11-22T11:09:30|2026-11-22T11:09:30|2026-11-22T11:09:56||||
60.0|60.0|python|COMPLETED|0:0|00:00:01|1|||1|vm|1|cpu=1,gres/gpu=2,mem=1000M,node=1||2026-11-22T11:09:30|2026-11-22T11:09:30|2026-11-22T11:09:31|||srun --nodes=1 --ntasks=1 python -m hpcseq preprocess
60.2|60.2|python|FAILED|15:0|00:00:28|28|||1|vm|2|cpu=2,gres/gpu=2,mem=2000M,node=1||2026-11-22T11:09:31|2026-11-22T11:09:31|2026-11-22T11:09:59|||srun --mpi=pmix --ntasks=2 python -m hpcseq train --config c.yaml --experiment tiny_char
72|72|rqtest|REQUEUED|0:0|00:00:00|0|00:02:00|2|1|vm||billing=1,cpu=1,mem=1000M,node=1|None|2026-11-22T11:20:03|2026-11-22T11:20:04|2026-11-22T11:20:04|batch|/tmp/rq|sbatch --parsable rq.sbatch
72.batch|72.batch|batch|COMPLETED|0:0|00:00:00|0|||1|vm|1|cpu=1,mem=1000M,node=1||2026-11-22T11:20:04|2026-11-22T11:20:04|2026-11-22T11:20:04||||
72|72|rqtest|COMPLETED|0:0|00:00:00|0|00:02:00|2|1|vm||billing=1,cpu=1,mem=1000M,node=1|None|2026-11-22T11:20:04|2026-11-22T11:20:36|2026-11-22T11:20:36|batch|/tmp/rq|sbatch --parsable rq.sbatch
72.batch|72.batch|batch|COMPLETED|0:0|00:00:00|0|||1|vm|1|cpu=1,mem=1000M,node=1||2026-11-22T11:20:36|2026-11-22T11:20:36|2026-11-22T11:20:36||||
73|73|wrap|FAILED|1:0|00:00:01|1|UNLIMITED|UNLIMITED|1|vm||cpu=1,node=1|None|2026-11-22T11:30:00|2026-11-22T11:30:00|2026-11-22T11:30:01|batch|/tmp|sbatch --wrap=grep x | sort
"""  # recorded here with `sacct -P -n -D --format=<FIELDS>` (jobs 60 and 72); 73 has a '|' in its submit line


def test_sacct_rows_make_jobs_with_steps_requeued_runs_and_cancelling_user():
    jobs = parse_sacct(SACCT, tuple(FIELDS.split("|")))
    cancelled = jobs["60"]
    assert (cancelled.state, cancelled.cancelled_by, cancelled.exit_code) == ("CANCELLED", "root", 0)
    assert (cancelled.elapsed_seconds, cancelled.limit_seconds, cancelled.gpus, cancelled.nodes) == (26, 300, 2, 1)
    assert cancelled.training_step.step_id == "60.2" and cancelled.training_step.tasks == 2
    assert script_of(cancelled) == "/tmp/c/jobs/local/tiny_char.sbatch"
    requeued = jobs["72"]
    assert requeued.state == "COMPLETED" and [run.state for run in requeued.earlier_runs] == ["REQUEUED"]
    assert requeued.start == requeued.end == "2026-11-22T11:20:36"  # the latest run
    assert jobs["73"].submit_line == "sbatch --wrap=grep x | sort" and jobs["73"].limit_seconds is None


def test_squeue_gives_the_pending_reason_and_expected_start():
    jobs = parse_squeue(
        "71|PENDING|BeginTime|0:00|1-00:00:00|1|(BeginTime)|N/A|2026-11-22T12:19:26|pendtest\n"
        "70|RUNNING|None|0:30|3:00|1|vm|gres:gpu:2|2026-11-22T11:19:06|tiny_char\n"
    )
    assert (jobs["71"].state, jobs["71"].reason, jobs["71"].limit_seconds) == ("PENDING", "BeginTime", 86400)
    assert jobs["71"].expected_start == "2026-11-22T12:19:26" and jobs["71"].node_list is None
    assert (jobs["70"].elapsed_seconds, jobs["70"].limit_seconds, jobs["70"].gpus, jobs["70"].node_list) == (
        30,
        180,
        2,
        "vm",
    )
    assert pending_reason("BeginTime") == "asked to start later (--begin)" and pending_reason("Weird") is None


def test_gpus_and_states():
    assert gpus_of("billing=2,cpu=2,gres/gpu:a100=4,gres/gpu=4,mem=2000M,node=1") == 4
    assert gpus_of("cpu=1,mem=1000M,node=1") == 0 and gpus_of("") is None
    assert split_state("CANCELLED by 0") == ("CANCELLED", "root") and split_state("COMPLETED+") == ("COMPLETED", None)


def _fake_command(directory: Path, name: str, message: str) -> str:
    path = directory / name
    path.write_text(f"#!/bin/sh\necho '{message}' >&2\nexit 1\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_without_sacct_and_squeue_the_answer_is_empty_with_a_note(tmp_path):
    answer = NO_SLURM.query(["57"])
    assert answer.jobs == {} and not answer.sacct_ok
    assert "command not found" in answer.notes[0] and "from the log files alone" in answer.notes[1]
    # a cluster without accounting: sacct exists and fails like this
    disabled = Slurm(
        sacct=_fake_command(tmp_path, "sacct", "sacct: error: Slurm accounting storage is disabled"),
        squeue="/nonexistent/squeue",
    )
    assert "accounting storage is disabled" in disabled.query(["57"]).notes[0]


# ---------------------------------------------------------------------------- files of a run dir


def test_discover_finds_snakemake_logs_and_sbatch_output_files(tmp_path):
    logs = tmp_path / ".snakemake" / "slurm_logs" / "rule_train" / "tiny_char"
    logs.mkdir(parents=True)
    for job_id in ("33", "35"):
        (logs / f"{job_id}.log").write_text("")
    (tmp_path / "tiny_char_out.57").write_text("")
    (tmp_path / "tiny_char_err.57").write_text("")
    (tmp_path / "notes_out.txt").write_text("")
    found = discover(tmp_path)
    assert sorted(found) == ["33", "35", "57"]
    assert (found["35"].rule, found["35"].experiment, found["35"].kind) == ("train", "tiny_char", "snakemake")
    assert (found["57"].experiment, found["57"].out.name, found["57"].err.name) == (
        "tiny_char",
        "tiny_char_out.57",
        "tiny_char_err.57",
    )
    single = files_of_path(tmp_path / "tiny_char_err.57")
    assert single.out == tmp_path / "tiny_char_out.57" and single.job_id == "57"
    located = files_from_slurm(SlurmJob("35", submit_line=f"sbatch --parsable --output {logs}/%j.log --wrap=x"))
    assert located.slurm_log == logs / "35.log" and located.rule == "train"
    assert (
        files_from_slurm(SlurmJob("57", name="tiny_char", work_dir=str(tmp_path))).out == tmp_path / "tiny_char_out.57"
    )


# ---------------------------------------------------------------------------------- diagnoses

TIME_LIMIT_ERR = """\
srun: Job step aborted: Waiting up to 7 seconds for job step to finish.
slurmstepd-vm: error: *** JOB 57 ON vm CANCELLED AT 2026-11-22T11:04:59 DUE TO TIME LIMIT ***
slurmstepd-vm: error: *** STEP 57.2 ON vm CANCELLED AT 2026-11-22T11:04:59 DUE TO TIME LIMIT ***
srun: got SIGCONT
srun: forcing job termination
hpcseq train: error: stopped on SIGTERM after writing checkpoint /r/results/tiny_char/model/checkpoints/epoch-0039-step-0000005; run again to continue (exit code 143)
srun: error: vm: task 1: Exited with exit code 143
srun: error: vm: task 0: Killed
"""  # recorded here (job 57: --time=00:01:00, no --signal)


def test_time_limit_names_the_checkpoint_and_how_to_resume():
    checkpoint = Checkpoint("/r/results/tiny_char/model/checkpoints/epoch-0039-step-0000005", 39, 5)
    found = diagnose(
        facts(
            TIME_LIMIT_ERR,
            "tiny_char_err.57",
            state="TIMEOUT",
            exit_code=0,
            checkpoint=checkpoint,
            epochs_done=39,
            epochs_planned=500,
            training_started=True,
            limit_seconds=60,
            experiment="tiny_char",
            script="jobs/local/tiny_char.sbatch",
        )
    )
    assert found.kind == "time_limit"
    assert "time limit of 00:01:00 after epoch 39 of 500" in found.summary
    assert (found.evidence.path, found.evidence.line) == ("tiny_char_err.57", 2)
    assert "epoch 39 + 5 steps of epoch 40" in found.next_step
    assert "`sbatch jobs/local/tiny_char.sbatch`" in found.next_step
    assert "slurm.time.train" in found.next_step and "hpcseq sbatch --time" in found.next_step


def test_without_sacct_the_marker_alone_says_time_limit_and_later_kills_are_consequences():
    found = diagnose(facts(TIME_LIMIT_ERR, state=None, training_started=True))
    assert found.kind == "time_limit" and found.evidence.line == 2


def test_a_snakemake_retry_after_sigusr1_is_a_time_limit_continued_by_the_next_job():
    text = (
        "2026-11-22 09:00:00 hpcseq train rank 0/2 WARNING received SIGUSR1: will checkpoint after the current "
        "step and stop\n"
        "hpcseq train: error: stopped on SIGUSR1 after writing checkpoint /r/x/model/checkpoints/epoch-0004-step-"
        "0000000; run again to continue (exit code 75)\n"
    )
    found = diagnose(
        facts(
            text,
            "logs/train/x.log",
            state="FAILED",
            exit_code=75,
            rule="train",
            experiment="x",
            training_started=True,
            next_job="88",
            checkpoint=Checkpoint("/r/c/epoch-0004-step-0000000", 4, 0),
        )
    )
    assert found.kind == "time_limit" and "exit code 75" in found.summary
    assert "continued as job 88" in found.next_step and "epoch 4" in found.next_step
    assert found.evidence.line == 2


CANCEL_ERR = """\
srun: got SIGCONT
srun: Job step aborted: Waiting up to 7 seconds for job step to finish.
slurmstepd-vm: error: *** JOB 60 ON vm CANCELLED AT 2026-11-22T11:09:56 ***
srun: forcing job termination
slurmstepd-vm: error: *** STEP 60.2 ON vm CANCELLED AT 2026-11-22T11:09:56 ***
hpcseq train: error: stopped on SIGTERM after writing checkpoint /r/c/epoch-0002-step-0000025; run again to continue (exit code 143)
srun: error: vm: tasks 0-1: Exited with exit code 143
"""  # recorded here (job 60, scancel during epoch 3)


def test_cancelled_by_the_user():
    found = diagnose(
        facts(
            CANCEL_ERR,
            "tiny_char_err.60",
            state="CANCELLED",
            cancelled_by="root",
            checkpoint=Checkpoint("/r/c/epoch-0002-step-0000025", 2, 25),
            epochs_done=2,
            epochs_planned=500,
            training_started=True,
        )
    )
    assert found.kind == "cancelled"
    assert found.summary == "The job was cancelled by root at 2026-11-22T11:09:56 (scancel) during epoch 3."
    assert found.evidence.line == 3 and "epoch 2 + 25 steps of epoch 3" in found.next_step


RANK_KILLED_ERR = """\
srun: error: vm: task 1: Killed
slurmstepd-vm: error:  mpi/pmix_v4: _errhandler: vm [0]: pmixp_client_v2.c:211: Error handler invoked: status = -61, source = [slurm.pmix.58.2:1]
slurmstepd-vm: error: *** STEP 58.2 ON vm CANCELLED AT 2026-11-22T11:07:32 ***
srun: Job step aborted: Waiting up to 7 seconds for job step to finish.
srun: error: vm: task 0: Killed
training failed with exit code 137
"""  # recorded here (job 58: rank 1's python got SIGKILL during training; srun --mpi=pmix -n 2)


def test_a_killed_rank_is_the_cause_not_the_pmix_error_or_the_step_cancel_after_it():
    found = diagnose(facts(RANK_KILLED_ERR, state="FAILED", exit_code=9, training_started=True))
    assert found.kind == "rank_died" and found.evidence.line == 1
    assert found.summary == "Horovod rank 1 on vm ended early: Killed."
    assert "killed from outside" in found.next_step


def test_horovodrun_and_mpirun_report_a_dead_rank():
    # horovodrun's own message (horovod/runner/gloo_run.py) after rank 1 was SIGKILLed
    horovodrun = (
        "RuntimeError: Horovod detected that one or more processes exited with non-zero status, thus "
        "causing the job to be terminated. The first process to do so was:\nProcess name: 1\nExit code: 137\n"
    )
    found = diagnose(facts(horovodrun, state="FAILED", training_started=True))
    assert found.kind == "rank_died" and "process 1 exited with exit code 137 (signal 9)" in found.summary
    # OpenMPI's mpirun (4.x) after a rank was killed
    mpirun = (
        "--------------------------------------------------------------------------\n"
        "Primary job  terminated normally, but 1 process returned\n"
        "a non-zero exit code. Per user-direction, the job has been aborted.\n"
        "--------------------------------------------------------------------------\n"
        "mpirun noticed that process rank 1 with PID 0 on node jwc03n042 exited on signal 9 (Killed).\n"
    )
    found = diagnose(facts(mpirun, state="FAILED", training_started=True))
    assert found.kind == "rank_died" and found.evidence.line == 5 and "MPI rank 1 on jwc03n042" in found.summary


INTERLEAVED = """\
Traceback (most recent call last):
Traceback (most recent call last):
  File "<frozen runpy>", line 198, in _run_module_as_main
  File "/work/main/scripts/hpcseq/cli.py", line 88, in cmd_train
    train(settings, paths, restart=args.restart)
  File "/work/main/scripts/hpcseq/train.py", line 81, in char_data
    ids = load_char_ids(encoded_dir, "train", shard.char_start, shard.char_stop)
  File "/work/main/scripts/hpcseq/vocab.py", line 234, in load_char_ids
    ids = np.memmap(encoded_dir / f"{split}.ids", dtype=np.dtype(index["dtype"]), mode="r", shape=(length,))
          ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/work/main/.venv/train/lib/python3.11/site-packages/numpy/core/memmap.py", line 268, in __new__
  File "<frozen runpy>", line 198, in _run_module_as_main
  File "/work/main/scripts/hpcseq/cli.py", line 88, in cmd_train
    mm = mmap.mmap(fid.fileno(), bytes, access=acc, offset=start)
    train(settings, paths, restart=args.restart)
  File "/work/main/scripts/hpcseq/vocab.py", line 234, in load_char_ids
    ids = np.memmap(encoded_dir / f"{split}.ids", dtype=np.dtype(index["dtype"]), mode="r", shape=(length,))
  File "/work/main/.venv/train/lib/python3.11/site-packages/numpy/core/memmap.py", line 268, in __new__
    mm = mmap.mmap(fid.fileno(), bytes, access=acc, offset=start)
         ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
ValueError: mmap length is greater than file size
         ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
ValueError: mmap length is greater than file size
srun: error: vm: tasks 0-1: Exited with exit code 1
training failed with exit code 1
"""  # recorded here (job 59, shortened): two ranks' tracebacks interleaved line by line on one stderr


def test_python_exception_points_at_the_projects_own_frame_even_when_ranks_interleave():
    found = diagnose(facts(INTERLEAVED, "tiny_char_err.59", state="FAILED", exit_code=1, training_started=True))
    assert found.kind == "python_exception"
    assert found.location == "scripts/hpcseq/vocab.py:234"
    assert found.summary.startswith(
        "ValueError: mmap length is greater than file size in scripts/hpcseq/vocab.py, line 234 (load_char_ids)"
    )
    assert (found.evidence.path, found.evidence.line) == ("tiny_char_err.59", 21)
    assert "numpy" not in found.location and "shorter than its index" in found.next_step


def test_horovodrun_prefixes_are_stripped_and_the_rank_named_and_consequences_skipped():
    text = """\
[1]<stderr>:Traceback (most recent call last):
[1]<stderr>:  File "/home/u/hpcseq/scripts/hpcseq/train.py", line 212, in train
[1]<stderr>:    vocabulary = load_vocabulary(paths.vocab)
[1]<stderr>:  File "/home/u/hpcseq/scripts/hpcseq/vocab.py", line 201, in load_vocabulary
[1]<stderr>:    document = json.loads(path.read_text(encoding="utf-8"))
[1]<stderr>:  File "/usr/lib/python3.11/json/__init__.py", line 346, in loads
[1]<stderr>:    return _default_decoder.decode(s)
[1]<stderr>:json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)
[0]<stderr>:Traceback (most recent call last):
[0]<stderr>:  File "/home/u/hpcseq/scripts/hpcseq/train.py", line 287, in train
[0]<stderr>:    model.fit(data.make_training(0, 100), epochs=epochs)
[0]<stderr>:horovod.common.exceptions.HorovodInternalError: Horovod has been shut down. This was caused by an exception on one of the ranks
RuntimeError: Horovod detected that one or more processes exited with non-zero status, thus causing the job to be terminated. The first process to do so was:
Process name: 1
Exit code: 1
"""  # the shape horovodrun gives (see horovod/runner/gloo_run.py); paths of a user's checkout
    found = diagnose(facts(text, state="FAILED", training_started=True))
    assert found.kind == "python_exception" and found.location == "scripts/hpcseq/vocab.py:201"
    assert "JSONDecodeError" in found.summary and "on rank 1" in found.summary


def test_chained_exceptions_report_the_one_that_ended_the_program():
    text = """\
Traceback (most recent call last):
  File "/x/scripts/hpcseq/config.py", line 10, in load
    raise KeyError("a")
KeyError: 'a'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/x/scripts/hpcseq/config.py", line 12, in load
    raise RuntimeError("config broken")
RuntimeError: config broken
"""
    found = diagnose(facts(text, state="FAILED"))
    assert found.summary.startswith("RuntimeError: config broken") and found.location == "scripts/hpcseq/config.py:12"
    assert len(tracebacks(lines_from_text(text))) == 2
    assert display_path("/p/project/x/scripts/hpcseq/vocab.py") == "scripts/hpcseq/vocab.py"


# GPU out of memory as TensorFlow 2.15 prints it on a GPU node (JUWELS Booster, A100): bfc allocator
# warning, then the ResourceExhaustedError with the OOM line.
GPU_OOM = """\
2026-11-20 14:02:11.532871: W external/local_tsl/tsl/framework/bfc_allocator.cc:485] Allocator (GPU_0_bfc) ran out of memory trying to allocate 3.81GiB (rounded to 4089446400)requested by op sequential/lstm/while/body/_1/lstm_cell/MatMul
Traceback (most recent call last):
  File "/p/project/training2543/hpcseq/scripts/hpcseq/train.py", line 287, in train
    model.fit(data.make_training(initial_epoch * steps, epochs * steps), epochs=epochs,
  File "/p/software/stages/2024/TensorFlow/lib/python3.11/site-packages/tensorflow/python/eager/execute.py", line 53, in quick_execute
    tensors = pywrap_tfe.TFE_Py_Execute(ctx._handle, device_name, op_name,
tensorflow.python.framework.errors_impl.ResourceExhaustedError: Graph execution error:

OOM when allocating tensor with shape[8192,31104] and type float on /job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc
"""


def test_gpu_out_of_memory_wins_over_the_python_exception_it_raises():
    found = diagnose(facts(GPU_OOM, state="FAILED", exit_code=1, training_started=True))
    assert found.kind == "gpu_out_of_memory" and found.evidence.line == 9
    assert "batch_size" in found.next_step
    # the driver's own message, as TensorFlow logs it when cuMemAlloc fails
    driver = (
        "2026-11-20 14:02:11.101: E external/local_xla/xla/stream_executor/cuda/cuda_driver.cc:1001] failed to "
        "allocate 39.50GiB (42412539904 bytes) from device: CUDA_ERROR_OUT_OF_MEMORY: out of memory\n"
    )
    assert diagnose(facts(driver, state="FAILED")).kind == "gpu_out_of_memory"


def test_host_out_of_memory_from_sacct_and_the_oom_kill_lines_explains_the_killed_rank():
    # Slurm 21.08+ with cgroups (the form seen on JSC systems); the killed rank follows
    text = (
        "slurmstepd: error: Detected 1 oom_kill event in StepId=4711.0. Some of the step tasks have been OOM "
        "Killed.\nsrun: error: jrc0731: task 1: Out Of Memory\nsrun: error: jrc0731: task 0: Killed\n"
    )
    found = diagnose(facts(text, state="OUT_OF_MEMORY", job_id="4711", training_started=True))
    assert found.kind == "host_out_of_memory" and found.evidence.line == 1
    assert "sacct -j 4711 --format=JobID,MaxRSS,ReqMem" in found.next_step
    assert diagnose(facts("", state="OUT_OF_MEMORY")).kind == "host_out_of_memory"
    # older Slurm: "oom-kill event(s) in step ... cgroup"
    old = "slurmstepd: error: Detected 1 oom-kill event(s) in step 3495064.0 cgroup.\n"
    assert diagnose(facts(old, state="FAILED")).kind == "host_out_of_memory"


def test_environment_errors():
    # Lmod (JSC's module system) when setup.modules names a module that does not exist
    lmod = (
        "Lmod has detected the following error:  The following module(s) are unknown:\n"
        '"TensorFlow/2.99"\n\nPlease check the spelling or version number. Also try "module spider ..."\n'
    )
    found = diagnose(facts(lmod, state="FAILED", exit_code=1))
    assert found.kind == "environment" and "TensorFlow/2.99" in found.summary and "module spider" in found.next_step
    # bash without environment modules (a machine without Lmod, or a non-login batch shell)
    no_module = "/var/spool/slurmd/job4711/slurm_script: line 24: module: command not found\n"
    assert "no `module` command" in diagnose(facts(no_module, state="FAILED")).summary
    missing = (
        "hpcseq launch: error: the training interpreter /p/home/u/venv/bin/python does not exist: run `make "
        "setup` (which builds .venv/train), or set `training_python` in the config\n"
    )
    found = diagnose(facts(missing, state="FAILED", exit_code=2))
    assert found.kind == "environment" and "/p/home/u/venv/bin/python" in found.summary
    imported = (
        'Traceback (most recent call last):\n  File "/x/scripts/hpcseq/distributed.py", line 30, in '
        "init_horovod\n    import horovod.tensorflow.keras as hvd\nModuleNotFoundError: No module named "
        "'horovod'\n"
    )
    found = diagnose(facts(imported, state="FAILED", exit_code=1))
    assert found.kind == "environment" and "No module named 'horovod'" in found.summary


def test_ranks_that_could_not_start():
    # OpenMPI built without Slurm PMI support, started by srun (the OpenMPI help text)
    text = """\
--------------------------------------------------------------------------
The application appears to have been direct launched using "srun",
but OMPI was not built with SLURM's PMI support and therefore cannot
execute.
--------------------------------------------------------------------------
*** An error occurred in MPI_Init_thread
*** on a NULL communicator
[jrc0456:12345] Local abort before MPI_INIT completed completed successfully, but am not able to aggregate error messages, and not able to guarantee that all other processes were killed!
srun: error: jrc0456: tasks 0-3: Exited with exit code 1
"""
    found = diagnose(facts(text, state="FAILED", exit_code=1))
    assert found.kind == "mpi_launch" and found.evidence.line == 2 and "srun --mpi=list" in found.next_step
    plugin = "srun: error: Couldn't find the specified plugin name for mpi/pmix_v5 looking at all files\n"
    assert diagnose(facts(plugin, state="FAILED")).kind == "mpi_launch"
    # the same PMIx words after training ran are consequences of a dead rank, not a launch failure
    assert diagnose(facts(RANK_KILLED_ERR, state="FAILED", training_started=True)).kind == "rank_died"


# Horovod's stall inspector (horovod/common/stall_inspector.cc, 0.28) while rank 1 hangs; the job then
# ran into its time limit
STALL = """\
[2026-11-20 10:15:42.118342: W /tmp/pip-install-abc/horovod/common/stall_inspector.cc:107] One or more tensors were submitted to be reduced, gathered or broadcasted by subset of ranks and are waiting for remainder of ranks for more than 60 seconds. This may indicate that different ranks are trying to submit different tensors or that only subset of ranks is submitting tensors, which will cause deadlock.
Missing ranks:
1: [DistributedAdam_Allreduce/cond/HorovodAllreduce_DistributedAdam_Allreduce_cond_truediv_0, DistributedAdam_Allreduce/cond_1/HorovodAllreduce_DistributedAdam_Allreduce_cond_1_truediv_1_0 ...]
slurmstepd: error: *** JOB 9001 ON jwb0001 CANCELLED AT 2026-11-20T12:00:01 DUE TO TIME LIMIT ***
"""


def test_a_horovod_stall_explains_the_time_limit_that_followed():
    found = diagnose(facts(STALL, state="TIMEOUT", training_started=True))
    assert found.kind == "horovod_stall" and found.evidence.line == 1
    assert "rank(s) 1 never joined" in found.summary and "more than 60 s" in found.summary
    assert "time limit" in found.summary
    # while the job still runs, the stall is the one thing worth reporting
    assert diagnose(facts(STALL.splitlines()[0], state="RUNNING")).kind == "horovod_stall"
    assert diagnose(facts(CONSOLE, state="RUNNING")) is None


def test_mismatched_collectives():
    # Horovod 0.28's coordinator error, raised in TensorFlow on every rank
    text = (
        "tensorflow.python.framework.errors_impl.FailedPreconditionError: Mismatched ALLREDUCE tensor shapes: "
        "One rank sent a tensor of shape [128,35], but another rank sent a tensor of shape [64,35].\n"
    )
    found = diagnose(facts(text, state="FAILED", training_started=True))
    assert found.kind == "collective_mismatch" and "[128,35]" in found.summary
    other = "Mismatched operations: One rank did an ALLREDUCE, but another rank did an ALLGATHER.\n"
    assert diagnose(facts(other, state="FAILED")).kind == "collective_mismatch"


def test_nccl_and_cuda_errors():
    # Horovod with NCCL on a GPU node (the form of horovod/common/ops/nccl_operations.cc errors)
    nccl = (
        "[1]<stderr>:horovod.common.exceptions.HorovodInternalError: ncclCommInitRank failed: unhandled cuda "
        "error (run with NCCL_DEBUG=INFO for details)\n"
    )
    found = diagnose(facts(nccl, state="FAILED", training_started=True))
    assert found.kind == "nccl_cuda" and "NCCL" in found.summary and "NCCL_DEBUG=INFO" in found.next_step
    cuda = (
        "2026-11-20 09:00:01.5: F external/local_xla/xla/stream_executor/cuda/cuda_driver.cc:152] Check failed: "
        "CUDA error: an illegal memory access was encountered (cudaErrorIllegalAddress)\n"
    )
    assert diagnose(facts(cuda, state="FAILED")).kind == "nccl_cuda"
    # TensorFlow on a CPU-only node says this and trains on: not a failure cause
    cpu = (
        "2026-11-22 11:04:00.1: E external/local_xla/xla/stream_executor/cuda/cuda_driver.cc:274] failed call to "
        "cuInit: CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected\n"
    )
    assert diagnose(facts(cpu + TIME_LIMIT_ERR, state="TIMEOUT")).kind == "time_limit"


def test_node_failure_and_preemption():
    # Slurm's messages when a node dies under a job / a higher-priority job preempts it
    node = (
        "slurmstepd: error: *** JOB 9172554 ON jwb0153 CANCELLED AT 2026-11-20T03:12:09 DUE TO NODE FAILURE, "
        "SEE SLURMCTLD LOG FOR DETAILS ***\nsrun: error: jwb0153: task 2: Killed\n"
    )
    found = diagnose(facts(node, state="NODE_FAIL", nodes="jwb0153"))
    assert found.kind == "node_failure" and found.evidence.line == 1 and "--exclude" in found.next_step
    assert diagnose(facts("", state="NODE_FAIL")).kind == "node_failure"
    preempt = "slurmstepd: error: *** JOB 512 ON node07 CANCELLED AT 2026-11-20T08:00:00 DUE TO PREEMPTION ***\n"
    assert diagnose(facts(preempt, state="PREEMPTED")).kind == "preempted"
    assert diagnose(facts(preempt, state=None)).kind == "preempted"


def test_hpcseq_errors_show_the_message_with_its_continuation_lines():
    text = (
        "hpcseq train: error: invalid configuration:\n"
        "  - config key experiments.x.ranks: 0 is not a whole number >= 1\n"
        "  - config key slurm.time.train: '25:99' is not a Slurm time limit\n"
        "srun: error: vm: tasks 0-1: Exited with exit code 2\n"
    )
    found = diagnose(facts(text, state="FAILED", exit_code=2))
    assert found.kind == "hpcseq_error" and found.evidence.line == 1
    assert "experiments.x.ranks" in found.summary and "slurm.time.train" in found.summary
    assert "hpcseq config" in found.next_step
    data = "hpcseq train: error: /r/x/encoded/train.ids: the training split has 10 characters = 0 windows of 10+1\n"
    assert diagnose(facts(data, state="FAILED")).kind == "hpcseq_error"


def test_unknown_failures_show_the_last_error_like_lines_and_completed_jobs_have_none():
    text = "starting\nsomething odd happened: error 42 in widget\nmore\nfatal: widget gave up\n"
    found = diagnose(facts(text, state="FAILED", exit_code=3))
    assert found.kind == "unknown" and found.evidence.line == 4 and [e.line for e in found.also] == [2]
    assert diagnose(facts(text, state="COMPLETED")) is None
    assert diagnose(facts(text, state="PENDING")) is None
    assert diagnose(facts("", state="FAILED", exit_code=1)).evidence is None


def test_tensorflow_noise():
    assert is_noise(
        "2026-11-22 11:04:01.123456: I tensorflow/core/util/port.cc:113] oneDNN custom operations are on. "
        "You may see slightly different numerical results"
    )
    assert is_noise(
        "2026-11-22 11:04:01.2: E external/local_xla/xla/stream_executor/cuda/cuda_dnn.cc:9261] Unable to "
        "register cuDNN factory: Attempting to register factory for plugin cuDNN when one has already been "
        "registered"
    )
    assert not is_noise("ValueError: mmap length is greater than file size")


# ----------------------------------------------------------------------- collect, render, CLI


def make_run_dir(tmp_path: Path) -> Path:
    """A run directory as a `snakemake --profile slurm` run and a submitted script leave it."""
    run = tmp_path / "run"
    results = run / "results"
    slurm_logs = run / ".snakemake" / "slurm_logs" / "rule_train" / "tiny_char"
    slurm_logs.mkdir(parents=True)
    (run / "logs" / "train").mkdir(parents=True)
    (slurm_logs / "101.log").write_text(
        "localrule train:\n    output: results/tiny_char/model/final.keras, results/tiny_char/model/metrics.jsonl\n"
        "    log: logs/train/tiny_char.log\n    wildcards: experiment=tiny_char\n"
        "Finished jobid: 0 (Rule: train)\n1 of 1 steps (100%) done\n"
    )
    (run / "logs" / "train" / "tiny_char.log").write_text(
        "hpcseq launch: srun --mpi=pmix --nodes=1 --ntasks=2 python -m hpcseq train\n"
        "2026-11-22 11:11:25 hpcseq train rank 0/2 INFO experiment tiny_char: char_rnn on 2 rank(s), launcher srun, "
        "host vm, CPU, 1 threads per rank\n"
        "2026-11-22 11:11:41 hpcseq train rank 0/2 INFO epoch 1/2 loss 3.3705 sparse_categorical_accuracy 0.1073 "
        "val_loss 3.0801 val_sparse_categorical_accuracy 0.1886 | 280 samples/s | 9.6 s\n"
        "2026-11-22 11:11:42 hpcseq train rank 0/2 INFO epoch 2/2 loss 2.9669 sparse_categorical_accuracy 0.1948 "
        "val_loss 2.9499 val_sparse_categorical_accuracy 0.1870 | 9085 samples/s | 0.3 s\n"
        "2026-11-22 11:11:43 hpcseq train rank 0/2 INFO done: final model results/tiny_char/model/final.keras, "
        "metrics results/tiny_char/model/metrics.jsonl\n"
    )
    model = results / "tiny_char" / "model"
    model.mkdir(parents=True)
    (model / "metrics.jsonl").write_text(
        "".join(
            json.dumps(
                {
                    "epoch": e,
                    "epochs": 2,
                    "loss": loss,
                    "sparse_categorical_accuracy": acc,
                    "val_loss": vloss,
                    "val_sparse_categorical_accuracy": vacc,
                    "samples_per_second": sps,
                    "epoch_seconds": 1.0,
                    "time": f"2026-11-22T11:11:4{e}+0000",
                }
            )
            + "\n"
            for e, loss, acc, vloss, vacc, sps in (
                (1, 3.37052, 0.10729, 3.08011, 0.18862, 280.48),
                (2, 2.96691, 0.19479, 2.94994, 0.18695, 9085.29),
            )
        )
    )
    (run / "tiny_char_out.57").write_text(CONSOLE)
    (run / "tiny_char_err.57").write_text(TIME_LIMIT_ERR)
    return run


def test_collect_without_slurm_reports_what_the_files_say(tmp_path):
    run = make_run_dir(tmp_path)
    records, notes = collect([str(run)], slurm=NO_SLURM)
    assert [r.job_id for r in records] == ["57", "101"]
    script, rule = records
    assert (rule.rule, rule.experiment, rule.state, rule.epochs_done, rule.epochs_planned) == (
        "train",
        "tiny_char",
        "completed",
        2,
        2,
    )
    assert (rule.loss, rule.val_accuracy, rule.progress_from) == (2.96691, 0.18695, "metrics.jsonl")
    assert rule.ranks == 2 and rule.diagnosis is None
    assert str(run / "logs" / "train" / "tiny_char.log") in rule.files
    assert (script.rule, script.state, script.epochs_done, script.epochs_planned) == ("sbatch", "timeout", 3, 500)
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
    ]
    assert table.splitlines()[2].split()[:8] == ["101", "train", "tiny_char", "completed", "-/-", "-", "2/-", "2/2"]
    assert "57: time_limit:" in table


def test_without_slurm_a_scripts_training_failure_on_stderr_makes_the_job_failed(tmp_path):
    # the generated script prints its start line to stdout and "training failed ..." to stderr
    (tmp_path / "tiny_char_out.58").write_text("2026-11-22 11:07:20 job 58 on vm (restart 0)\n")
    (tmp_path / "tiny_char_err.58").write_text(RANK_KILLED_ERR)
    records, _ = collect([str(tmp_path)], slurm=NO_SLURM)
    assert [(r.job_id, r.state, r.exit_code) for r in records] == [("58", "failed", 137)]
    assert records[0].diagnosis.kind == "rank_died"


def test_the_detailed_view_and_json(tmp_path):
    run = make_run_dir(tmp_path)
    records, notes = collect(["57"], slurm=NO_SLURM, cwd=run)
    assert [r.job_id for r in records] == ["57"]
    text = render_detail(records[0], notes)
    assert "diagnosis  time_limit:" in text and f"evidence   {run / 'tiny_char_err.57'}:2:" in text
    assert "next step" in text and f"last lines of {run / 'tiny_char_out.57'}:" in text
    data = json.loads(render_json(records, notes))
    job = data["jobs"][0]
    assert job["diagnosis"]["kind"] == "time_limit" and job["diagnosis"]["evidence"]["line"] == 2
    assert job["epochs_done"] == 3 and job["active"] is False and data["notes"]


def test_unknown_job_id_is_a_usage_error_with_exit_code_2(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "no-slurm-here"))  # no sacct, no squeue
    assert cli.main(["logs", "4711"]) == 2
    assert "hpcseq logs: error: job 4711: no log files in" in capsys.readouterr().err
    with pytest.raises(LogsError, match="neither a job id nor an existing file"):
        collect(["no/such/thing"], slurm=NO_SLURM, cwd=tmp_path)
    assert cli.main(["logs", "--interval", "0", "--follow"]) == 2


def test_cli_json_on_a_run_directory(tmp_path, capsys, monkeypatch):
    run = make_run_dir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "no-slurm-here"))
    monkeypatch.chdir(run)
    assert cli.main(["logs", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {job["job_id"]: job["state"] for job in data["jobs"]} == {"57": "timeout", "101": "completed"}


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


def test_main_follow_stops_on_ctrl_c(monkeypatch, tmp_path, capsys):
    run = make_run_dir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "no-slurm-here"))
    monkeypatch.chdir(run)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("hpcseq.logs.follow", interrupted)
    args = SimpleNamespace(targets=[], results_dir=None, json=False, follow=True, interval=1.0)
    assert logs_main(args) == 0


def test_snakemake_retries_form_a_chain_and_only_the_latest_owns_the_rule_log(tmp_path):
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
    records, _ = collect([str(run)], slurm=NO_SLURM)
    first, second = records
    assert (first.state, first.exit_code, first.next_job, first.state_text) == (
        "requeued",
        75,
        "202",
        "requeued -> 202",
    )
    assert first.diagnosis.kind == "time_limit" and "continued as job 202" in first.diagnosis.next_step
    assert first.epochs_done is None and not any(
        path.endswith("x.log") and "logs/train" in path for path in first.files
    )
    assert (second.state, second.previous_job, second.epochs_done, second.epochs_planned) == ("completed", "201", 5, 5)
    assert str(run / "logs" / "train" / "x.log") in second.files
