"""Run directories as jobs leave them (Slurm jobs; a local run), a Slurm without sacct and squeue
(the files alone), and a clock in UTC."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from hpcseq.logs.sources import Slurm
from tests.unit.logs.excerpts import (
    CONSOLE,
    LOCAL_PREPROCESS_LOG,
    LOCAL_RUN_SNAKEMAKE_LOG,
    LOCAL_TRAIN_BENCHMARK,
    LOCAL_TRAIN_FAILED_LOG,
    LOCAL_TRAIN_LOG,
    LOCAL_TRAIN_METRICS,
    TIME_LIMIT_ERR,
)

LOCAL_RUN_LOG_NAME = "2026-11-25T142305.135409.snakemake.log"


@pytest.fixture
def utc(monkeypatch):
    """Local time is UTC (the recorded logs' times are)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def no_slurm() -> Slurm:
    return Slurm(sacct="/nonexistent/sacct", squeue="/nonexistent/squeue")


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A run directory as a `snakemake --profile slurm` run (job 101: rule train, completed) and a
    submitted job script (job 57: stopped by its time limit) leave it."""
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


def write_local_run(run: Path, snakemake_log: str | None = LOCAL_RUN_SNAKEMAKE_LOG) -> Path:
    """A run directory as `snakemake --cores 2` left it (the recorded run of excerpts.py): its
    config names the folders rulelogs/, res/ and bench/; tiny_char's preprocessing and training
    completed, tiny_sentiment's training failed."""
    files = {
        "config/config.yaml": "results_dir: res\nlogs_dir: rulelogs\nbenchmarks_dir: bench\n",
        "rulelogs/preprocess/tiny_char.log": LOCAL_PREPROCESS_LOG,
        "rulelogs/train/tiny_char.log": LOCAL_TRAIN_LOG,
        "rulelogs/train/tiny_sentiment.log": LOCAL_TRAIN_FAILED_LOG,
        "bench/train/tiny_char.tsv": LOCAL_TRAIN_BENCHMARK,
        "res/tiny_char/prepared/split_report.json": "{}",
        "res/tiny_char/model/metrics.jsonl": LOCAL_TRAIN_METRICS,
        "res/tiny_char/model/final.keras": "",
        "res/tiny_char/model/training_summary.json": "{}",
    }
    if snakemake_log is not None:
        files[f".snakemake/log/{LOCAL_RUN_LOG_NAME}"] = snakemake_log
    for name, text in files.items():
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_text(text)
    return run


@pytest.fixture
def local_run(tmp_path: Path) -> Path:
    return write_local_run(tmp_path / "local-run")
