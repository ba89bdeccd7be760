"""hpcseq.logs.charges: node-hours and GPU-hours of sacct's recorded answers, and how `hpcseq logs`
shows them (table with a total row, detailed view, JSON). The expected figures are worked out here
by hand from the recorded lines (excerpts.SACCT_CHARGES: AllocNodes, ElapsedRaw, AllocTRES)."""

from __future__ import annotations

import json

import pytest

from hpcseq.logs import collect
from hpcseq.logs.charges import (
    CHARGE_RULE,
    OUTSIDE_SLURM,
    Charges,
    charges_text,
    hours_text,
    job_charges,
    total_charges,
    total_text,
)
from hpcseq.logs.render import render_detail, render_json, render_table
from hpcseq.logs.sources import Slurm, parse_sacct
from tests.unit.logs.excerpts import SACCT_CHARGES, SACCT_PENDING_AGAIN
from tests.unit.logs.test_assemble import recorded_command

JOBS = parse_sacct(SACCT_CHARGES)


def hours(seconds: float) -> float:
    return pytest.approx(seconds / 3600)


def test_every_run_of_a_requeued_job_counts():
    charged = job_charges(JOBS["236"])  # 4 s, 4 s and 7 s on 1 node with 2 GPUs
    assert (charged.runs, charged.node_hours, charged.gpu_hours) == (3, hours(15), hours(2 * 15))
    assert not charged.so_far


def test_a_job_requeued_and_waiting_again_counts_its_runs_so_far():
    charged = job_charges(parse_sacct(SACCT_PENDING_AGAIN)["236"])  # the pending run has no AllocTRES yet
    assert (charged.runs, charged.node_hours, charged.gpu_hours, charged.so_far) == (3, hours(8), hours(16), True)


def test_a_running_job_counts_its_time_so_far():
    charged = job_charges(JOBS["240"])
    assert (charged.node_hours, charged.gpu_hours, charged.so_far) == (hours(53), hours(53), True)
    assert charges_text(charged) == "0.015 node-hours, 0.015 GPU-hours so far (the job has not ended)"


def test_a_cpu_only_job_has_no_gpu_hours():
    charged = job_charges(JOBS["237"])
    assert (charged.node_hours, charged.gpu_hours) == (hours(5), 0)


def test_a_partial_node_pays_the_node_and_the_allocation_line_counts_not_the_steps():
    # one GPU asked for on the whole-node partition: the node, and the 2 GPUs Slurm allocated it
    assert (job_charges(JOBS["238"]).node_hours, job_charges(JOBS["238"]).gpu_hours) == (hours(5), hours(10))
    # two nodes: 4 GPUs allocated, though its step 239.0 holds 2
    two_nodes = job_charges(JOBS["239"])
    assert (two_nodes.node_hours, two_nodes.gpu_hours) == (hours(10), hours(20))
    assert "allow_partial_node" in CHARGE_RULE and "whole node" in CHARGE_RULE


def test_without_accounting_the_figures_are_unknown_never_zero():
    charged = job_charges(None, "sacct: error: Slurm accounting storage is disabled")
    assert (charged.node_hours, charged.gpu_hours, charged.known) == (None, None, False)
    assert charges_text(charged) == "unknown: no accounting data (sacct: error: Slurm accounting storage is disabled)"
    squeue_only = parse_sacct(SACCT_CHARGES)["240"]
    squeue_only.source = "squeue"
    assert job_charges(squeue_only).node_hours is None
    assert total_text(total_charges([charged])) == "unknown (no accounting data for 1 job(s))"


def test_totals_sum_the_known_and_count_the_unknown():
    total = total_charges(
        [job_charges(JOBS["236"]), job_charges(JOBS["240"]), OUTSIDE_SLURM, Charges(None, None, None)]
    )
    assert (total.node_hours, total.gpu_hours, total.jobs, total.unknown_jobs) == (hours(68), hours(83), 3, 1)
    assert total.so_far
    assert total_text(total) == "0.019 node-hours, 0.023 GPU-hours so far, and 1 job(s) of unknown charge"
    assert [hours_text(value) for value in (0.0004, 1.234, 250.4, None)] == ["0.000", "1.23", "250", "unknown"]


@pytest.fixture
def recorded_slurm(tmp_path) -> Slurm:
    return Slurm(
        sacct=recorded_command(tmp_path, "sacct", SACCT_CHARGES),
        squeue=recorded_command(tmp_path, "squeue", ""),
        sacctmgr="/nonexistent/sacctmgr",
    )


def test_hpcseq_logs_shows_them_in_the_table_the_detail_and_json(tmp_path, recorded_slurm):
    records, notes = collect(["236", "237", "239"], slurm=recorded_slurm, cwd=tmp_path)
    table = render_table(records, notes).splitlines()
    assert table[0].split()[-2:] == ["NODE-H", "GPU-H"]
    assert [line.split()[-2:] for line in table[1:4]] == [["0.004", "0.008"], ["0.001", "0.000"], ["0.003", "0.006"]]
    assert table[4].split() == ["total", "0.008", "0.014"]  # (15 + 5 + 10) s and (30 + 0 + 20) s
    assert table[5].startswith("NODE-H/GPU-H: charged node-hours and GPU-hours over all runs")
    detail = render_detail(records[0])
    assert "charged    0.004 node-hours, 0.008 GPU-hours over 3 runs\n" in detail
    assert "Charged node-hours = AllocNodes x ElapsedRaw / 3600" in detail.replace("\n           ", " ")
    document = json.loads(render_json(records, notes))
    requeued = document["jobs"][0]["charges"]
    assert (requeued["runs"], requeued["node_hours"], requeued["gpu_hours"]) == (3, hours(15), hours(30))
    assert (document["total"]["node_hours"], document["total"]["gpu_hours"]) == (hours(30), hours(50))
    assert (document["total"]["jobs"], document["total"]["unknown_jobs"]) == (3, 0)


def test_a_running_job_is_marked_in_the_table(tmp_path, recorded_slurm):
    records, notes = collect(["240", "237"], slurm=recorded_slurm, cwd=tmp_path)
    table = render_table(records, notes).splitlines()
    assert table[2].split()[-2:] == ["0.015+", "0.015+"]  # still growing
    assert table[3].split() == ["total", "0.016+", "0.015+"]
