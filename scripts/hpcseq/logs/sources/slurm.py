"""Asking Slurm: sacct, squeue and sacctmgr, each optional. When they are missing, or sacct fails
(no accounting), the answer says so and `hpcseq logs` uses the files alone. These are the only
subprocesses of `hpcseq logs`."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from hpcseq.logs.sources.accounting import (
    SACCT_FIELDS,
    SQUEUE_FORMAT,
    NodeEvent,
    SlurmAnswer,
    SlurmJob,
    job_id_key,
    parse_node_events,
    parse_sacct,
    parse_squeue,
)


def run_command(argv: list[str], timeout: float = 60) -> tuple[int, str, str]:
    """(exit code, stdout, stderr); exit code 127 when the program does not exist."""
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        return 127, "", f"{argv[0]}: command not found"
    except subprocess.TimeoutExpired:
        return 124, "", f"{argv[0]} did not answer within {timeout:.0f} s"
    except OSError as error:
        return 126, "", f"{argv[0]}: {error}"
    return result.returncode, result.stdout, result.stderr


@dataclass
class Slurm:
    """sacct and squeue, each optional (the names can point elsewhere for tests)."""

    sacct: str = "sacct"
    squeue: str = "squeue"
    sacctmgr: str = "sacctmgr"

    def failed_nodes(self, run: SlurmJob) -> list[NodeEvent]:
        """The nodes of a NODE_FAIL run that went down while it ran (Slurm's node events)."""
        if run.state != "NODE_FAIL" or not run.node_list or not run.start or not run.end:
            return []
        # the node's event starts when slurmctld gives up on it, which is also when the run ends
        query = ["show", "event", f"nodes={run.node_list}", f"start={run.start}"]
        code, out, _ = run_command([self.sacctmgr, "-n", "-P", *query, "format=NodeName,TimeStart,State,Reason"])
        if code != 0:
            return []
        return [event for event in parse_node_events(out) if run.start <= event.start <= run.end]

    def accounting(self, job_ids: list[str]) -> tuple[dict[str, SlurmJob], str | None]:
        """sacct's jobs (every run, with -D) of one call for all ids, or ({}, why sacct gave none)."""
        ids = ",".join(sorted(set(job_ids), key=job_id_key))
        code, out, err = run_command([self.sacct, "-P", "-n", "-D", "-j", ids, f"--format={','.join(SACCT_FIELDS)}"])
        if code != 0:
            return {}, (err.strip() or out.strip() or f"exit code {code}").splitlines()[0]
        return parse_sacct(out), None

    def query(self, job_ids: list[str]) -> SlurmAnswer:
        notes: list[str] = []
        if not job_ids:
            return SlurmAnswer({}, notes, True)
        ids = ",".join(sorted(set(job_ids), key=job_id_key))
        jobs, failure = self.accounting(job_ids)
        sacct_ok = failure is None
        if sacct_ok:
            for job in jobs.values():
                for run in (*job.earlier_runs, job):
                    run.failed_nodes = self.failed_nodes(run)
        else:
            notes.append(f"sacct gave no accounting data ({failure}): states come from squeue and the log files")
        code, out, err = run_command([self.squeue, "-h", "-j", ids, "-o", SQUEUE_FORMAT])
        if code == 0:
            for job_id, queued in parse_squeue(out).items():
                known = jobs.get(job_id)
                if known is None:
                    jobs[job_id] = queued
                    continue
                # squeue knows the live state better: the pending reason and the expected start
                if queued.state == "PENDING" or known.state in ("PENDING", "RUNNING"):
                    known.state = queued.state
                    known.reason = queued.reason or known.reason
                    known.expected_start = queued.expected_start
                    if queued.elapsed_seconds is not None:
                        known.elapsed_seconds = queued.elapsed_seconds
        elif not sacct_ok:
            first = (err.strip() or f"exit code {code}").splitlines()[0]
            notes.append(f"squeue did not answer either ({first}): states come from the log files alone")
        return SlurmAnswer(jobs, notes, sacct_ok, failure)
