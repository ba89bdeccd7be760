"""hpcseq.job_ledger: which Slurm jobs made an experiment's results (results/<experiment>/slurm_jobs.jsonl)."""

from __future__ import annotations

import json

import pytest

from hpcseq.job_ledger import jobs_of, launch_rank, read_ledger, record_stage, slurm_job_id, start_over
from hpcseq.paths import ExperimentPaths


@pytest.fixture
def paths(tmp_path) -> ExperimentPaths:
    return ExperimentPaths.of(tmp_path / "results", "tiny_char")


def in_job(job_id: str, **more: str) -> dict:
    return {"SLURM_JOB_ID": job_id, "SLURM_CLUSTER_NAME": "local", **more}


def ledger(paths: ExperimentPaths) -> list[tuple[str, str]]:
    return [(entry["job_id"], entry["stage"]) for entry in read_ledger(paths.slurm_jobs)]


def test_each_stage_of_a_slurm_job_is_recorded_once(paths):
    assert record_stage(paths, "preprocess", {}) is None  # outside Slurm: nothing
    assert not paths.slurm_jobs.exists()
    entry = record_stage(paths, "train", in_job("101"))
    assert (entry["job_id"], entry["stage"], entry["cluster"]) == ("101", "train", "local")
    assert record_stage(paths, "train", in_job("101", SLURM_RESTART_COUNT="1")) is None  # requeued: same job
    record_stage(paths, "evaluate", in_job("101"))  # training and evaluation in one job
    record_stage(paths, "train", in_job("102"))  # Snakemake's retry: a new job
    assert ledger(paths) == [("101", "train"), ("101", "evaluate"), ("102", "train")]
    assert jobs_of(read_ledger(paths.slurm_jobs)) == {"101": ["train", "evaluate"], "102": ["train"]}
    assert all(json.loads(line) for line in paths.slurm_jobs.read_text().splitlines())


def test_only_rank_0_of_a_training_and_only_the_experiments_own_results_write(paths, tmp_path):
    assert record_stage(paths, "train", in_job("7", SLURM_PROCID="1")) is None  # srun's rank 1
    # mpirun inside a batch job: every rank inherits the batch step's SLURM_PROCID 0
    assert record_stage(paths, "train", in_job("7", SLURM_PROCID="0", OMPI_COMM_WORLD_RANK="1")) is None
    assert launch_rank({"PMIX_RANK": "3", "SLURM_PROCID": "0"}) == 3 and launch_rank({}) == 0
    scaling_run = ExperimentPaths(paths.results_dir, paths.name, model_root=tmp_path / "scaling" / "ranks-2")
    assert record_stage(scaling_run, "train", in_job("8")) is None
    assert ledger(paths) == []
    # the workflow names the experiment's own folders with --model-dir and --eval-dir: recorded
    own = ExperimentPaths(paths.results_dir, paths.name, paths.root / "model", paths.root / "." / "eval")
    assert record_stage(own, "evaluate", in_job("9")) is not None
    assert start_over(scaling_run, "restart", None, in_job("10")) == [] and ledger(paths) == [("9", "evaluate")]
    assert slurm_job_id({"SLURM_JOB_ID": "12", "SLURM_ARRAY_JOB_ID": "10", "SLURM_ARRAY_TASK_ID": "2"}) == "10_2"


def test_a_new_start_sets_the_old_training_aside_and_keeps_the_data_it_trains_on(paths):
    for job_id, stage in (("1", "preprocess"), ("2", "vocab"), ("3", "train"), ("4", "train"), ("5", "evaluate")):
        record_stage(paths, stage, in_job(job_id))
    # the settings changed, the data not: training starts over in job 6 (its line is written first)
    record_stage(paths, "train", in_job("6"))
    aside = start_over(paths, "aaaa", None, in_job("6"))
    assert [entry["job_id"] for entry in aside] == ["3", "4", "5"]
    assert ledger(paths) == [("1", "preprocess"), ("2", "vocab"), ("6", "train")]
    stamps = [entry["set_aside"] for entry in read_ledger(paths.slurm_jobs_set_aside)]
    assert {(stamp["as"], stamp["by_job"]) for stamp in stamps} == {("aaaa", "6")}
    # the data made again (another preset), then training starts over: the old data jobs go too
    record_stage(paths, "evaluate", in_job("7"))
    record_stage(paths, "preprocess", in_job("8"))
    record_stage(paths, "vocab", in_job("9"))
    start_over(paths, "restart", None, {})  # `hpcseq train --restart` outside Slurm
    assert ledger(paths) == [("8", "preprocess"), ("9", "vocab")]


def test_switching_back_to_settings_brings_their_jobs_back_with_their_checkpoints(paths):
    record_stage(paths, "vocab", in_job("1"))
    record_stage(paths, "train", in_job("2"))
    record_stage(paths, "train", in_job("3"))
    start_over(paths, "settings-a", None, in_job("3"))  # job 3 sets settings a's checkpoints aside
    assert ledger(paths) == [("1", "vocab"), ("3", "train")]
    record_stage(paths, "train", in_job("4"))
    start_over(paths, "settings-b", "settings-a", in_job("4"))  # back to a: its checkpoints resume
    assert ledger(paths) == [("1", "vocab"), ("2", "train"), ("4", "train")]
    assert [entry["job_id"] for entry in read_ledger(paths.slurm_jobs_set_aside)] == ["3"]


def test_a_ledger_with_a_broken_line_is_read_without_it(paths):
    paths.root.mkdir(parents=True)
    paths.slurm_jobs.write_text('{"job_id": "1", "stage": "train"}\n{"job_id": "2", "sta\n')
    assert ledger(paths) == [("1", "train")]
    assert read_ledger(paths.root / "missing.jsonl") == []
