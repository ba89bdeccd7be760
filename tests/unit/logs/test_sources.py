"""hpcseq.logs.sources: sacct's and squeue's answers, and the files of a run directory."""

from __future__ import annotations

import stat
from pathlib import Path

from hpcseq.logs.diagnose import pending_reason
from hpcseq.logs.sources import (
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
from tests.unit.logs.excerpts import FIELDS, SACCT

# ---------------------------------------------------------------------------------- sacct/squeue


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
    running = jobs["70"]
    assert (running.elapsed_seconds, running.limit_seconds, running.gpus, running.node_list) == (30, 180, 2, "vm")
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


def test_without_sacct_and_squeue_the_answer_is_empty_with_a_note(tmp_path, no_slurm):
    answer = no_slurm.query(["57"])
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
    script = found["57"]
    assert (script.experiment, script.out.name, script.err.name) == (
        "tiny_char",
        "tiny_char_out.57",
        "tiny_char_err.57",
    )
    single = files_of_path(tmp_path / "tiny_char_err.57")
    assert single.out == tmp_path / "tiny_char_out.57" and single.job_id == "57"
    located = files_from_slurm(SlurmJob("35", submit_line=f"sbatch --parsable --output {logs}/%j.log --wrap=x"))
    assert located.slurm_log == logs / "35.log" and located.rule == "train"
    by_name = files_from_slurm(SlurmJob("57", name="tiny_char", work_dir=str(tmp_path)))
    assert by_name.out == tmp_path / "tiny_char_out.57"


def test_a_pending_reason_with_details_or_as_squeue_describes_it_is_named():
    # both seen on the test cluster with two of its three nodes drained (squeue -o %r)
    drained = "the nodes it needs are down, drained or reserved (`sinfo -R` says why)"
    assert pending_reason("ReqNodeNotAvail, UnavailableNodes:node[2-3]") == drained
    assert (
        pending_reason("Nodes required for job are DOWN, DRAINED or reserved for jobs in higher priority partitions")
        == drained
    )
