"""Training across nodes on the real local Slurm cluster (tests/cluster/local_slurm.sh): four
slurmd, each in a UTS namespace of its own (its own hostname, port, spool and PMIx directory), all
on 127.0.0.1. The stand-ins are those of the cluster: fake GPUs, and nodes that share one machine.

What is proven here: Slurm, `srun hostname`, Horovod's local and cross ranks and MPI see separate
hosts; an experiment of 4 ranks runs as 2 nodes x 2 ranks through a generated sbatch script and
through `snakemake --profile slurm` (where a node dies in the middle and the retry resumes on two
others), with the same weights as 4 ranks of mpirun outside Slurm; the ranks' TCP connections
stay on 127.0.0.1; a drained node and a hung rank are diagnosed."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import SNAKEFILE, run_directory
from tests.slurm.conftest import (
    PROFILE,
    epoch_metrics,
    rank_process,
    rank_processes,
    sacct,
    slurm_config,
    snakemake,
    squeue_field,
    wait_for_job,
    wait_for_pending_reason,
)
from tests.slurm.test_scripts import render

NODES = ("node1", "node2", "node3", "node4")
# 4 ranks on a cluster with 2 GPUs per node: 2 nodes x 2 ranks
CROSS_NODE = {"ranks": 4}
# 6 epochs, a checkpoint after each: the node-failure test kills a node once the checkpoint of
# epoch 1 is written, five epochs before the end (after the first epoch's tracing an epoch of these
# takes 0.3 s on an idle machine, seconds under load: the ranks are held while the node dies)
EPOCHS = 6
KILLED_AFTER_EPOCH = 1


def test_each_node_is_a_host_of_its_own(local_slurm):
    nodes = subprocess.run(["sinfo", "-h", "-N", "-p", "batch", "-o", "%N"], capture_output=True, text=True)
    assert sorted(set(nodes.stdout.split())) == list(NODES)
    hosts = subprocess.run(
        ["srun", "--account", local_slurm, f"-N{len(NODES)}", "--ntasks-per-node=1", "-l", "hostname"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert hosts.returncode == 0, hosts.stderr
    assert sorted(line.split(": ")[1] for line in hosts.stdout.splitlines()) == list(NODES)


def cross_node_config(tmp_path: Path, account: str, **changes) -> Path:
    """tiny_char alone, on 4 ranks (2 nodes x 2 ranks under Slurm), EPOCHS epochs with a
    checkpoint after each: long enough for a node to die in the middle of it."""
    path = slurm_config(tmp_path, account, data_stages_on_login_node=True, **changes)
    config = yaml.safe_load(path.read_text())
    config["experiments"] = {"tiny_char": {**config["experiments"]["tiny_char"], **CROSS_NODE}}
    config["experiments"]["tiny_char"]["training"].update(epochs=EPOCHS, checkpoint_every_epochs=1)
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def four_local_ranks(local_slurm, tmp_path_factory) -> dict:
    """The reference: the same experiment on 4 ranks started by mpirun on this machine, outside
    Slurm. MPI's allreduce on 4 ranks sums in an order fixed by its algorithm (not by where the
    ranks run), so the weights must agree bit for bit with the 2-node runs."""
    base = tmp_path_factory.mktemp("four_local_ranks")
    config = cross_node_config(base, local_slurm, cluster=None, local_launcher="mpirun")
    snakemake("--cores", "2", "--configfile", str(config), cwd=base / "run")
    return json.loads((base / "results" / "tiny_char" / "model" / "training_summary.json").read_text())


class ConnectionWatch:
    """Samples `ss` while a job runs: every TCP connection of the job's processes (found by
    SLURM_JOB_ID in their environment), with both ends."""

    def __init__(self, job_id: str):
        self.job_id = job_id
        self.connections: set[tuple[str, str, str]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _in_job(self, pid: str) -> bool:
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            return False
        return f"SLURM_JOB_ID={self.job_id}".encode() in environ

    def _run(self):
        while not self._stop.wait(1.0):
            listing = subprocess.run(["ss", "-tnpH"], capture_output=True, text=True).stdout
            for line in listing.splitlines():
                fields = line.split()
                if len(fields) < 6:
                    continue
                for pid in re.findall(r"pid=(\d+)", fields[5]):
                    if self._in_job(pid):
                        self.connections.add((fields[3], fields[4], pid))


def host_of(address: str) -> str:
    """127.0.0.1 of '127.0.0.1:41234', ::1 of '[::1]:5000'."""
    return address.rsplit(":", 1)[0].strip("[]")


def assert_two_nodes_of_two_ranks(summary: dict, job_id: str) -> None:
    # each rank reported its own hostname through a Horovod allgather
    ranks = summary["provenance"]["ranks"]
    hosts = [rank["hostname"] for rank in sorted(ranks, key=lambda rank: rank["rank"])]
    assert len(hosts) == 4 and hosts[0] == hosts[1] and hosts[2] == hosts[3] and hosts[0] != hosts[2], ranks
    assert set(hosts) <= set(NODES)
    # Horovod's view: 2 ranks per host, 2 hosts
    assert sorted((r["local_rank"], r["cross_rank"]) for r in ranks) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert all(r["local_size"] == 2 and r["cross_size"] == 2 for r in ranks)
    # Slurm's view of the job and of its training step
    rows = {row["JobID"]: row for row in sacct(job_id, "JobID,JobName%60,State,NNodes,NTasks,NodeList%40")}
    steps = [row for key, row in rows.items() if re.fullmatch(rf"{job_id}\.\d+", key) and row["NTasks"] == "4"]
    assert rows[job_id]["State"] == "COMPLETED" and rows[job_id]["NNodes"] == "2", rows
    assert steps and steps[-1]["NNodes"] == "2" and steps[-1]["State"] == "COMPLETED", rows
    assert summary["provenance"]["slurm"]["SLURM_JOB_ID"] == job_id


def assert_loopback_only(connections: set) -> None:
    assert connections, "no TCP connection of the job's ranks was seen (ss)"
    others = {c for c in connections if {host_of(c[0]), host_of(c[1])} - {"127.0.0.1", "::1"}}
    assert not others, f"connections off loopback: {sorted(others)}"


def test_a_generated_script_trains_on_two_nodes_like_four_local_ranks(local_slurm, tmp_path, four_local_ranks):
    config = cross_node_config(tmp_path, local_slurm)
    script = render(config, tmp_path / "jobs")[0]
    text = script.read_text()
    assert "#SBATCH --nodes=2" in text and "#SBATCH --ntasks-per-node=2" in text
    submit = tmp_path / "submit"
    submit.mkdir()
    job_id = subprocess.run(
        ["sbatch", "--parsable", str(script)], cwd=submit, capture_output=True, text=True, check=True
    ).stdout.strip()
    with ConnectionWatch(job_id) as watch:
        row = wait_for_job(job_id, timeout=900)
    out = (submit / f"tiny_char_out.{job_id}").read_text()
    err = (submit / f"tiny_char_err.{job_id}").read_text()
    assert row["State"] == "COMPLETED", out[-3000:] + err[-3000:]
    summary = json.loads((tmp_path / "results" / "tiny_char" / "model" / "training_summary.json").read_text())
    assert_two_nodes_of_two_ranks(summary, job_id)
    assert_loopback_only(watch.connections)
    # the training log shows where each rank ran
    assert re.search(r"ranks on hosts: .*node\d.*node\d", out + err)
    assert summary["weights_sha256"] == four_local_ranks["weights_sha256"]
    assert epoch_metrics(summary["final"]) == epoch_metrics(four_local_ranks["final"])


# --------------------------------------------------------------------------------- node failures

LOCAL_SLURM = Path(__file__).resolve().parents[1] / "cluster" / "local_slurm.sh"


def nodes_of(job_id: str) -> list[str]:
    """The nodes a running job holds, first the one its batch script runs on."""
    nodes = squeue_field(job_id, "%N")
    listing = subprocess.run(["scontrol", "show", "hostnames", nodes], capture_output=True, text=True)
    return listing.stdout.split()


@pytest.fixture
def revive_nodes(local_slurm):
    """Whatever a test kills or drains is back when it ends (start restarts dead nodes)."""
    yield
    for node in NODES:
        subprocess.run(["scontrol", "update", f"NodeName={node}", "State=RESUME"], capture_output=True)
    result = subprocess.run([str(LOCAL_SLURM), "start"], capture_output=True, text=True, timeout=300, cwd="/")
    assert result.returncode == 0, result.stdout + result.stderr


def profile_run_losing_a_node(config_path: Path, run_dir: Path, results: Path) -> tuple[int, str, str, str]:
    """`snakemake --profile slurm` of a 2-node training, whose second node (not the one that runs
    the batch script) dies once training wrote its first checkpoint: (exit code, output, the
    training job's id, the node that died). Only the training runs (its summary is the target)."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), *PROFILE]
    command += ["--configfile", str(config_path), "--retries", "2", str(results / "model" / "training_summary.json")]
    snakemake_run = subprocess.Popen(
        command, cwd=run_directory(run_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.time() + 600
        while not list((results / "model" / "checkpoints").glob(f"epoch-{KILLED_AFTER_EPOCH:04d}-*")):
            assert snakemake_run.poll() is None, snakemake_run.stdout.read()
            assert time.time() < deadline, "training never wrote its first checkpoint"
            time.sleep(0.05)
        # After the first epoch's tracing an epoch of this training takes 0.3 s on an idle machine:
        # its ranks are held (SIGSTOP) while the node is found and killed, so that it dies in the
        # middle of training however fast the rest would be; the survivors then go on and find it gone.
        job_id = _squeue_train_job()
        ranks = rank_processes(job_id)
        for pid in ranks.values():
            os.kill(pid, signal.SIGSTOP)
        assert len(ranks) == CROSS_NODE["ranks"], f"training ended before the node died: ranks {ranks}"
        _batch_host, other = nodes_of(job_id)
        subprocess.run([str(LOCAL_SLURM), "kill-node", other], check=True, capture_output=True, cwd="/")
        for pid in ranks.values():
            with contextlib.suppress(ProcessLookupError):  # the ranks of the node that died are gone
                os.kill(pid, signal.SIGCONT)
        output, _ = snakemake_run.communicate(timeout=900)
    finally:
        if snakemake_run.poll() is None:
            snakemake_run.kill()
    return snakemake_run.returncode, output, job_id, other


def test_the_profile_trains_on_two_nodes_like_four_local_ranks_even_when_a_node_dies(
    local_slurm, tmp_path, revive_nodes, four_local_ranks
):
    """`snakemake --profile slurm` of a 2-node training whose second node dies once training wrote
    its first checkpoint: the job ends NODE_FAIL, `hpcseq logs` names the node and its ranks, the
    retry runs on two other nodes, resumes and ends with the weights of 4 ranks of mpirun."""
    config_path = cross_node_config(tmp_path, local_slurm)
    results = tmp_path / "results" / "tiny_char"
    run_dir = tmp_path / "run"
    returncode, output, job_id, other = profile_run_losing_a_node(config_path, run_dir, results)
    assert returncode == 0, output[-5000:]
    # the job ended as NODE_FAIL; Snakemake resubmitted it (the profile leaves reruns to Snakemake,
    # not to Slurm's requeue), away from the failed job's nodes, and it continued from a checkpoint
    trains = re.findall(r"SLURM jobid (\d+) \(log: \S+/rule_train/tiny_char/", output)
    assert trains[0] == job_id and len(trains) == 2, trains
    assert [state for state, _ in sacct_runs(job_id)] == ["NODE_FAIL"]
    summary = json.loads((results / "model" / "training_summary.json").read_text())
    assert other not in summary["provenance"]["hosts"] and summary["final"]["epoch"] == EPOCHS
    assert summary["resumed_from_epoch"] >= KILLED_AFTER_EPOCH  # at most one checkpoint interval lost
    assert summary["provenance"]["slurm"]["SLURM_JOB_ID"] == trains[1]
    # the retry: 2 nodes x 2 ranks, and the weights and metrics of 4 ranks on one machine
    assert_two_nodes_of_two_ranks(summary, trains[1])
    assert summary["weights_sha256"] == four_local_ranks["weights_sha256"]
    assert epoch_metrics(summary["final"]) == epoch_metrics(four_local_ranks["final"])
    train_log = (tmp_path / "logs" / "train" / "tiny_char.log").read_text()
    assert re.search(r"ranks on hosts: .*node\d.*node\d", train_log)
    # hpcseq logs: which node and which ranks failed, the lines that say so, the checkpoint to resume from
    logs = subprocess.run(
        [sys.executable, "-m", "hpcseq", "logs", "--json", job_id], cwd=run_dir, capture_output=True, text=True
    )
    assert logs.returncode == 0, logs.stderr
    job = json.loads(logs.stdout)["jobs"][0]
    diagnosis = job["diagnosis"]
    assert (job["state"], job["next_job"], diagnosis["kind"]) == ("node failure", trains[1], "node_failure"), job
    assert diagnosis["summary"].startswith(f"Node {other} (ranks 2-3) failed"), diagnosis
    assert "DUE TO NODE FAILURE" in diagnosis["evidence"]["text"], diagnosis
    assert any(other in item["text"] for item in diagnosis["also"]), diagnosis
    assert f"continued as job {trains[1]}" in diagnosis["next_step"], diagnosis
    # ... and that job says where it started: from the failed job's last checkpoint (epoch 1 or later)
    rerun = subprocess.run(
        [sys.executable, "-m", "hpcseq", "logs", "--json", trains[1]], cwd=run_dir, capture_output=True, text=True
    )
    rerun_job = json.loads(rerun.stdout)["jobs"][0]
    assert rerun_job["previous_job"] == job_id, rerun_job
    assert rerun_job["epochs_this_job"] <= EPOCHS - KILLED_AFTER_EPOCH, rerun_job
    assert set(rerun_job["rank_hosts"]) == set(summary["provenance"]["hosts"])
    text = subprocess.run([sys.executable, "-m", "hpcseq", "logs", job_id], cwd=run_dir, capture_output=True, text=True)
    assert f"Node {other} (ranks 2-3) failed" in " ".join(text.stdout.split()), text.stdout
    (tmp_path / "hpcseq_logs.txt").write_text(text.stdout)  # kept for the record


def sacct_runs(job_id: str) -> list[tuple[str, str]]:
    """(state, nodes) of each run of a job, requeued runs included (sacct -D)."""
    listing = subprocess.run(
        ["sacct", "-j", job_id, "-X", "-D", "-n", "-P", "-o", "State,NodeList"], capture_output=True, text=True
    ).stdout
    return [tuple(line.split("|")) for line in listing.splitlines() if line.strip()]


def _squeue_train_job() -> str:
    listing = subprocess.run(["squeue", "-h", "-t", "R", "-o", "%i %D %k"], capture_output=True, text=True).stdout
    running = [line.split()[0] for line in listing.splitlines() if line.split()[1] == "2"]
    assert len(running) == 1, listing
    return running[0]


def test_a_job_queued_behind_drained_nodes_waits_and_logs_says_why(local_slurm, tmp_path, revive_nodes):
    for node in NODES[1:]:  # one node is left: a 2-node job must wait
        subprocess.run(
            ["scontrol", "update", f"NodeName={node}", "State=DRAIN", "Reason=hpcseq test maintenance"], check=True
        )
    job_id = subprocess.run(
        [
            *("sbatch", "--parsable", "--nodes=2", "--account", local_slurm, "--job-name=behind_drained"),
            *(f"--output={tmp_path}/behind_drained_out.%j", "--wrap", "hostname"),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout.strip()
    wait_for_pending_reason(job_id)
    logs = subprocess.run(
        [sys.executable, "-m", "hpcseq", "logs", "--json", job_id], cwd=tmp_path, capture_output=True, text=True
    )
    assert logs.returncode == 0, logs.stderr
    job = json.loads(logs.stdout)["jobs"][0]
    assert job["state"] == "pending", job
    assert job["reason_text"] and "drained" in job["reason_text"], job
    # back in service: the job runs on two nodes
    for node in NODES[1:]:
        subprocess.run(["scontrol", "update", f"NodeName={node}", "State=RESUME"], check=True)
    row = wait_for_job(job_id, timeout=120)
    assert row["State"] == "COMPLETED"


def test_a_rank_that_hangs_on_another_node_ends_the_job_and_logs_names_it(local_slurm, tmp_path):
    """SIGSTOP one rank on the second node: its watcher (the next rank) sees no heartbeat for
    hang_timeout_seconds and exits, srun --kill-on-bad-exit ends the step, and the job ends long
    before its time limit (20 minutes)."""
    config_path = cross_node_config(tmp_path, local_slurm)
    config = yaml.safe_load(config_path.read_text())
    config["experiments"]["tiny_char"]["training"].update(epochs=200, hang_timeout_seconds=10)
    config_path.write_text(yaml.safe_dump(config))
    script = render(config_path, tmp_path / "jobs")[0]
    submit = tmp_path / "submit"
    submit.mkdir()
    job_id = subprocess.run(
        ["sbatch", "--parsable", str(script)], cwd=submit, capture_output=True, text=True, check=True
    ).stdout.strip()
    out = submit / f"tiny_char_out.{job_id}"
    deadline = time.time() + 300
    while not (out.is_file() and re.search(r"epoch 2/200", out.read_text())):
        assert time.time() < deadline, "training never reached epoch 2"
        time.sleep(1)
    hung = rank_process(job_id, 3)
    os.kill(hung, signal.SIGSTOP)
    stopped = time.time()
    row = wait_for_job(job_id, timeout=300)
    ended = time.time()
    assert row["State"] == "FAILED", row
    assert ended - stopped < 10 + 60, f"the job ended {ended - stopped:.0f} s after the stop"
    logs = subprocess.run(
        [sys.executable, "-m", "hpcseq", "logs", "--json", job_id], cwd=submit, capture_output=True, text=True
    )
    diagnosis = json.loads(logs.stdout)["jobs"][0]["diagnosis"]
    host = _host_of_rank(json.loads(logs.stdout)["jobs"][0], 3)
    assert diagnosis["kind"] == "rank_hung", diagnosis
    assert diagnosis["summary"].startswith(f"Rank 3 on {host}"), diagnosis


def _host_of_rank(job: dict, rank: int) -> str:
    """The host of a rank, from the rank-to-host map `hpcseq logs` read in the training log."""
    return job["rank_hosts"][rank]
