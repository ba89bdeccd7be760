"""Budget, QoS and partition limits on the JSC-like partitions of the real local Slurm (issue 13):
the cluster definition `local-jsc` of config/config.yaml and the partitions jsc and jsc-devel of
tests/cluster/local_slurm.sh, which admit only the budget jsc-budget and allow the QoS course.

Each refusal is shown twice: hpcseq refuses before anything is submitted (`snakemake --profile
slurm` at workflow validation, `hpcseq sbatch` before writing a script), and Slurm itself refuses
the same request (`sbatch --test-only`). Only cheap jobs reach Slurm: the preprocessing of one tiny
experiment, and a generated script submitted on hold and cancelled before it starts."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT, run_snakemake
from tests.slurm.conftest import (
    JSC_ACCOUNT,
    PROFILE,
    sacct_row,
    slurm_config,
    wait_for_job,
)
from tests.slurm.conftest import (
    SUBMITTED as SUBMITTED_RULE,
)

# What tests/cluster/local_slurm.sh sets up for the JSC-like partitions.
JSC_QOS = "course"
CLUSTER = "local-jsc"
SLURM_TIME = {"preprocess": "00:05:00", "vocabulary": "00:05:00", "train": "00:10:00", "evaluate": "00:05:00"}
SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+)")
COURSE_RESERVATION = "dl-course"  # the README's course example names it
RESERVED_NODE = "node4"  # one node of four: the other tests' jobs keep the other three


def jsc_config(tmp_path: Path, account: str | None, **slurm) -> Path:
    """The tiny config of the Slurm tests on the JSC-like partitions; account None: none in the config.
    Preprocessing is a Slurm job there (not a login-node rule): the one cheap job these tests submit."""
    path = slurm_config(tmp_path, JSC_ACCOUNT, cluster=CLUSTER, slurm={"account": account, "time": SLURM_TIME, **slurm})
    config = yaml.safe_load(path.read_text())
    config["clusters"][CLUSTER]["light_stages_on_login_node"] = False
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def course_reservation(local_slurm):
    """A course's reservation of one node for root, as a course at JSC gets one (of GPU nodes);
    deleted afterwards. A job without --reservation cannot start on that node while it lasts."""
    create = ["scontrol", "create", "reservation", f"ReservationName={COURSE_RESERVATION}", "Users=root",
              f"Nodes={RESERVED_NODE}", "StartTime=now", "Duration=60"]  # fmt: skip
    subprocess.run(["scontrol", "delete", f"ReservationName={COURSE_RESERVATION}"], capture_output=True)
    subprocess.run(create, check=True, capture_output=True)
    yield COURSE_RESERVATION
    subprocess.run(["scontrol", "delete", f"ReservationName={COURSE_RESERVATION}"], check=True)


def environment(account: str | None = None) -> dict:
    """This process's environment without any budget (SBATCH_ACCOUNT, or a surrounding job's), with
    SBATCH_ACCOUNT set to `account` if given."""
    env = {k: v for k, v in os.environ.items() if k not in ("SBATCH_ACCOUNT", "SLURM_JOB_ACCOUNT", "SLURM_JOB_ID")}
    if account:
        env["SBATCH_ACCOUNT"] = account
    return env


def hpcseq_sbatch(config: Path, *arguments: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hpcseq", "sbatch", "--configfile", str(config), "--cluster", CLUSTER, *arguments],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env or environment(),
    )


def sbatch_test_only(*options: str) -> subprocess.CompletedProcess:
    """What Slurm itself says to a job with these options (sbatch --test-only: nothing is queued)."""
    return subprocess.run(
        ["sbatch", "--test-only", *options, "--wrap", "true"], capture_output=True, text=True, env=environment()
    )


def preprocess_target(config: Path) -> str:
    results = yaml.safe_load(config.read_text())["results_dir"]
    return f"{results}/tiny_char/prepared/split_report.json"


def test_slurm_itself_refuses_a_job_without_the_budget_on_the_jsc_partitions(local_slurm):
    """With AccountingStorageEnforce=associations a job without --account runs on the user's default
    account (hpcseq): the JSC-like partitions admit only jsc-budget, so Slurm refuses it there."""
    for partition in ("jsc", "jsc-devel"):
        refused = sbatch_test_only("-p", partition)
        assert refused.returncode != 0, refused.stderr
        assert "Invalid account or account/partition combination specified" in refused.stderr
        assert sbatch_test_only("-p", partition, "-A", local_slurm).returncode != 0
        accepted = sbatch_test_only("-p", partition, "-A", JSC_ACCOUNT, f"--qos={JSC_QOS}")
        assert accepted.returncode == 0, accepted.stderr
    # the QoS is the budget's, not the default account's; the other partitions are unchanged
    assert "Invalid qos specification" in sbatch_test_only("-p", "batch", "-A", local_slurm, f"--qos={JSC_QOS}").stderr
    assert sbatch_test_only("-p", "batch").returncode == 0


def test_a_missing_budget_is_refused_before_submission_by_the_profile_and_by_hpcseq_sbatch(local_slurm, tmp_path):
    config = jsc_config(tmp_path, None)
    run = run_snakemake(
        *PROFILE, preprocess_target(config), "--configfile", str(config), cwd=tmp_path / "run", check=False,
        env=environment(),
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "config key slurm.account: cluster local-jsc charges every job to a compute budget" in output
    assert "--config 'slurm={account: NAME}'" in output and "export SBATCH_ACCOUNT=NAME" in output
    assert not SUBMITTED.search(output)  # nothing reached Slurm
    scripts = hpcseq_sbatch(config, "--output-dir", str(tmp_path / "jobs"), cwd=tmp_path)
    assert scripts.returncode == 2
    assert "config key slurm.account: cluster local-jsc charges every job" in scripts.stderr
    assert not (tmp_path / "jobs").exists()


def test_budget_from_sbatch_account_and_qos_reach_slurm_through_the_profile(local_slurm, course_reservation, tmp_path):
    """No account in the config: hpcseq takes SBATCH_ACCOUNT and hands it to the plugin as the job's
    slurm_account; the QoS goes as the plugin's qos resource (never slurm_extra, which it forbids).
    A reservation goes to training jobs only (slurm.reservation_stages): this preprocessing job runs
    outside it, on a node the reservation does not hold."""
    config = jsc_config(tmp_path, None, qos=JSC_QOS, reservation=course_reservation)
    run = run_snakemake(
        *PROFILE, preprocess_target(config), "--configfile", str(config), cwd=tmp_path / "run",
        timeout=300, env=environment(JSC_ACCOUNT),
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert f"slurm_account={JSC_ACCOUNT}" in output and f"qos={JSC_QOS}" in output  # the job's resources
    [job_id] = SUBMITTED.findall(output)
    row = wait_for_job(job_id, timeout=120)
    assert row["State"] == "COMPLETED", row
    job = sacct_row(job_id, "JobID,Account,QOS,Partition,Reservation,NodeList")
    assert (job["Account"], job["QOS"], job["Partition"]) == (JSC_ACCOUNT, JSC_QOS, "jsc")
    assert job["Reservation"] == "" and job["NodeList"] != RESERVED_NODE, job
    assert "--reservation" not in output


def test_the_course_command_submits_only_training_jobs_and_only_they_take_the_reservation(
    local_slurm, course_reservation, tmp_path
):
    """The README's course command (account and reservation on the command line, whole nodes) on
    the test cluster's whole-node partitions, for one experiment: preprocessing and vocabulary run
    where Snakemake runs, evaluation in the training job, so Slurm sees one job, which trains in the
    reservation on a whole node, and evaluates there."""
    config = slurm_config(tmp_path, JSC_ACCOUNT, cluster=CLUSTER, slurm={"time": SLURM_TIME})
    run = run_snakemake(
        *PROFILE, "tiny_char", "--configfile", str(config),
        "--config", f"slurm={{account: {JSC_ACCOUNT}, reservation: {course_reservation}}}",
        cwd=tmp_path / "run", timeout=600, env=environment(),
    )  # fmt: skip
    submitted = SUBMITTED_RULE.findall(run.stdout + run.stderr)
    assert [(rule, experiment) for _, rule, experiment in submitted] == [("train", "tiny_char")], submitted
    [(job_id, _, _)] = submitted
    assert wait_for_job(job_id, timeout=120)["State"] == "COMPLETED"
    job = sacct_row(job_id, "JobID,JobName%60,Account,Reservation,Partition,AllocNodes,AllocTRES%80,NodeList")
    # Slurm's own account of the run: every job the plugin submitted bears the run's name
    same_run = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-S", "now-1hour", f"--name={job['JobName']}", "--format=JobID"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert same_run == [job_id], (job["JobName"], same_run)
    assert (job["Account"], job["Reservation"], job["Partition"]) == (JSC_ACCOUNT, course_reservation, "jsc"), job
    assert job["NodeList"] == RESERVED_NODE and job["AllocNodes"] == "1", job
    node_cpus = subprocess.run(["scontrol", "show", "node", RESERVED_NODE, "-o"], capture_output=True, text=True)
    cpus = re.search(r"CPUTot=(\d+)", node_cpus.stdout).group(1)
    assert f"cpu={cpus}," in job["AllocTRES"] and "gres/gpu=2" in job["AllocTRES"], job  # the whole node
    results = Path(yaml.safe_load(config.read_text())["results_dir"]) / "tiny_char"
    evaluation = (results / "eval" / "metrics.json").read_text()
    assert '"model_metrics"' in evaluation
    logs = Path(yaml.safe_load(config.read_text())["logs_dir"])
    assert (
        "hpcseq evaluate" in (logs / "evaluate" / "tiny_char.log").read_text()
        or (logs / "evaluate" / "tiny_char.log").stat().st_size
    )


def test_budget_and_qos_of_a_generated_script_reach_slurm(local_slurm, tmp_path):
    """The script is submitted on hold (it would train) and cancelled: sacct shows what Slurm took."""
    config = jsc_config(tmp_path, None)
    jobs = tmp_path / "jobs"
    written = hpcseq_sbatch(
        config, "--experiment", "tiny_char", "--account", JSC_ACCOUNT, "--qos", JSC_QOS, "--output-dir", str(jobs),
        cwd=tmp_path,
    )  # fmt: skip
    assert written.returncode == 0, written.stderr
    script = jobs / CLUSTER / "tiny_char.sbatch"
    text = script.read_text()
    assert f"#SBATCH --account={JSC_ACCOUNT}" in text and f"#SBATCH --qos={JSC_QOS}" in text
    submitted = subprocess.run(
        ["sbatch", "--parsable", "--hold", str(script)], capture_output=True, text=True, cwd=tmp_path,
        env=environment(),
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip().split(";")[0]
    try:
        job = sacct_row(job_id, "JobID,Account,QOS,Partition,State")
        assert (job["Account"], job["QOS"], job["Partition"], job["State"]) == (JSC_ACCOUNT, JSC_QOS, "jsc", "PENDING")
    finally:
        subprocess.run(["scancel", job_id], check=True)


def test_the_devel_partition_limits_are_slurms_and_a_request_above_them_is_refused_before_submission(
    local_slurm, tmp_path
):
    shipped = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())["clusters"][CLUSTER]
    partition = subprocess.run(
        ["scontrol", "show", "partition", "jsc-devel", "-o"], capture_output=True, text=True, check=True
    ).stdout
    assert f"MaxTime={shipped['max_time']['gpu_devel']} " in partition
    assert f"MaxNodes={shipped['max_nodes']['gpu_devel']} " in partition
    # Slurm refuses 20 minutes and 3 nodes on jsc-devel, and takes 10 minutes on 2 nodes
    devel = ("-p", "jsc-devel", "-A", JSC_ACCOUNT)
    too_long, too_many = sbatch_test_only(*devel, "-t", "00:20:00"), sbatch_test_only(*devel, "-N", "3")
    assert too_long.returncode != 0 and "Requested time limit is invalid" in too_long.stderr
    assert too_many.returncode != 0 and "Node count specification invalid" in too_many.stderr
    accepted = sbatch_test_only(*devel, "-t", "00:10:00", "-N", "2")
    assert accepted.returncode == 0, accepted.stderr
    # hpcseq refuses them first: hpcseq sbatch, and the profile at validation
    config = jsc_config(tmp_path, JSC_ACCOUNT)
    refused = hpcseq_sbatch(config, "--partition", "gpu_devel", "--time", "00:20:00", "--stdout", cwd=tmp_path)
    assert refused.returncode == 2
    assert "option --time: 00:20:00 is above the 00:10:00 limit of partition jsc-devel on local-jsc" in refused.stderr
    three_nodes = {"tiny_char": {"ranks": 6, "slurm": {"partition": "gpu_devel", "time": "00:05:00"}}}
    raw = yaml.safe_load(config.read_text())
    raw["experiments"]["tiny_char"].update(three_nodes["tiny_char"])
    config.write_text(yaml.safe_dump(raw))
    run = run_snakemake("-n", *PROFILE, "--configfile", str(config), cwd=tmp_path / "run", check=False)
    assert run.returncode != 0
    assert (
        "config key experiments.tiny_char.ranks: 6 ranks ask for 3 nodes, above the 2-node limit of partition "
        "jsc-devel on local-jsc"
    ) in run.stdout + run.stderr
