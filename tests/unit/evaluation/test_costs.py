"""results/summary.md: what each experiment's Slurm jobs (its ledger) were charged, from one sacct
call (recorded answers: tests/unit/logs/excerpts.SACCT_CHARGES)."""

from __future__ import annotations

import copy
import json

from hpcseq.evaluation.costs import cost_line, experiment_costs
from hpcseq.evaluation.summary import write_summary
from hpcseq.io import write_json
from hpcseq.job_ledger import LEDGER_RULE, record_stage
from hpcseq.logs.charges import CHARGE_RULE
from hpcseq.logs.sources import Slurm
from hpcseq.paths import ExperimentPaths
from tests.unit.evaluation.test_summary import PROVENANCE, SENTIMENT_RESULT
from tests.unit.logs.excerpts import SACCT_CHARGES


def counting_sacct(tmp_path, output: str, code: int = 0) -> Slurm:
    """A sacct that prints a recorded answer (or fails) and counts its calls in sacct.calls."""
    (tmp_path / "sacct.txt").write_text(output)
    path = tmp_path / "sacct"
    path.write_text(f"#!/bin/sh\necho \"$@\" >> '{tmp_path}/sacct.calls'\ncat '{tmp_path}/sacct.txt'\nexit {code}\n")
    path.chmod(0o755)
    return Slurm(sacct=str(path), squeue="/nonexistent/squeue")


def experiment(results, name: str, jobs: dict[str, list[str]], slurm_job: str | None = None) -> None:
    """An evaluated experiment whose stages ran in `jobs` ({job id: stages})."""
    paths = ExperimentPaths.of(results, name)
    provenance = copy.deepcopy(PROVENANCE)
    provenance["slurm"] = {"SLURM_JOB_ID": slurm_job} if slurm_job else None
    write_json(paths.eval_metrics, {**SENTIMENT_RESULT, "training": {"ranks": 2, "provenance": provenance}})
    for job_id, stages in jobs.items():
        for stage in stages:
            record_stage(paths, stage, {"SLURM_JOB_ID": job_id})


def test_the_summary_sums_each_experiments_jobs_and_says_how(tmp_path):
    results = tmp_path / "results"
    experiment(results, "a", {"237": ["preprocess", "vocab"], "236": ["train", "evaluate"]}, slurm_job="236")
    experiment(results, "b", {"239": ["train"]}, slurm_job="239")
    experiment(results, "local", {})
    slurm = counting_sacct(tmp_path, SACCT_CHARGES)
    text = write_summary(results, ["a", "b", "local"], tmp_path / "summary.md", slurm=slurm)
    # job 236: 3 runs (4 + 4 + 7 s) with 2 GPUs; 237: 5 s, no GPU; 239: 5 s on 2 nodes with 4 GPUs
    assert (
        "*Charged* 0.006 node-hours, 0.008 GPU-hours. 2 Slurm job(s) (node-hours/GPU-hours): 237 preprocess, "
        "vocab 0.001/0.000; 236 train, evaluate, 3 runs 0.004/0.008\n" in text
    )
    assert (
        "*Charged* 0.003 node-hours, 0.006 GPU-hours. 1 Slurm job(s) (node-hours/GPU-hours): 239 train 0.003/0.006"
        in text
    )
    assert "*Charged* nothing: it ran outside Slurm (no charge)" in text
    assert "*Charged on Slurm, all experiments below:* 0.008 node-hours, 0.014 GPU-hours." in text
    assert f"*How charges are counted:* {CHARGE_RULE} {LEDGER_RULE}" in text
    assert (tmp_path / "sacct.calls").read_text().count("\n") == 1  # one sacct call for all jobs
    assert "-j 236,237,239 " in (tmp_path / "sacct.calls").read_text()


def test_without_accounting_the_charge_is_unknown(tmp_path):
    results = tmp_path / "results"
    experiment(results, "a", {"236": ["train"], "237": ["evaluate"]})
    slurm = counting_sacct(tmp_path, "sacct: error: Slurm accounting storage is disabled\n", code=1)
    costs = experiment_costs(results, ["a"], slurm)
    line = cost_line(costs["a"], {})
    assert line == (
        "*Charged* unknown for 2 Slurm job(s) (236 train; 237 evaluate): no accounting data "
        "(sacct: error: Slurm accounting storage is disabled)"
    )
    # a job that sacct does not know, beside one it does
    known = experiment_costs(results, ["a"], counting_sacct(tmp_path, SACCT_CHARGES.replace("237|", "999|")))
    assert cost_line(known["a"], {}) == (
        "*Charged* 0.004 node-hours, 0.008 GPU-hours, and 1 job(s) of unknown charge. 2 Slurm job(s) "
        "(node-hours/GPU-hours): 236 train, 3 runs 0.004/0.008; 237 evaluate unknown (sacct does not know the job)"
    )


def test_a_training_of_before_the_ledger_and_a_summary_of_local_runs_asks_no_sacct(tmp_path):
    results = tmp_path / "results"
    experiment(results, "old", {}, slurm_job="4711")
    text = write_summary(results, ["old"], tmp_path / "summary.md", slurm=counting_sacct(tmp_path, ""))
    assert "*Charged* not known: no Slurm jobs recorded (its training ran in Slurm job 4711)" in text
    assert "How charges are counted" not in text and not (tmp_path / "sacct.calls").exists()
    assert json.loads(ExperimentPaths.of(results, "old").eval_metrics.read_text())["model"] == "sentiment_lstm"
