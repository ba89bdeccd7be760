"""What a finished training run writes: each rank its record, rank 0 the final model and summary.

A rank's record (ranks/rank-<r>.json) says where and on what it ran, and the digest of its final
weights; rank 0 writes the final model and model/training_summary.json.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hpcseq.events import TRAINING_DONE, get_logger
from hpcseq.io import atomic_path, write_json
from hpcseq.paths import ExperimentPaths
from hpcseq.records import rank_report_path
from hpcseq.training.models import fused_kernel_report
from hpcseq.training.rank_data import TrainingData
from hpcseq.training.resume import Resume
from hpcseq.training.run_state import RunState

if TYPE_CHECKING:  # train.py imports this module
    from hpcseq.training.train import LearningRate

# What each rank records of where it ran (ranks/rank-<r>.json).
RANK_ENVIRONMENT = (
    "SLURM_JOB_ID",
    "SLURM_STEP_ID",
    "SLURM_PROCID",
    "SLURM_LOCALID",
    "SLURM_NODEID",
    "SLURM_NTASKS",
    "SLURM_JOB_PARTITION",
    "CUDA_VISIBLE_DEVICES",
    "PMIX_RANK",
    "OMPI_COMM_WORLD_RANK",
    "HOROVOD_RANK",
)


def weights_sha256(model) -> str:
    digest = hashlib.sha256()
    for weight in model.weights:
        digest.update(np.ascontiguousarray(weight.numpy()).tobytes())
    return digest.hexdigest()


def write_rank_report(model, paths: ExperimentPaths, ranks, device: dict, data: TrainingData) -> str:
    """ranks/rank-<r>.json: where and on what this rank ran, and its final weights' digest."""
    weights_hash = weights_sha256(model)
    report = {
        "rank": ranks.rank,
        "size": ranks.size,
        "local_rank": ranks.local_rank,
        "local_size": ranks.local_size,
        **device,
        "shard": data.shard,
        "validation_items": data.validation_items_this_rank,
        "weights_sha256": weights_hash,
        "slurm": {key: value for key, value in os.environ.items() if key in RANK_ENVIRONMENT},
    }
    write_json(rank_report_path(paths.rank_reports, ranks.rank), report)
    return weights_hash


def save_keras_model(model, path: Path) -> None:
    """A reader (or Snakemake) never sees a partial model."""
    with atomic_path(path) as tmp:
        model.save(tmp)


def training_summary(
    settings: dict,
    run: RunState,
    resume: Resume,
    device: dict,
    rate: LearningRate,
    vocabulary_size: int,
    weights_hash: str,
    fingerprint: dict,
    provenance: dict,
    model,
) -> dict:
    """model/training_summary.json (rank 0)."""
    history, data = run.history, run.data
    throughputs = [h["samples_per_second"] for h in history if h.get("samples_per_second")]
    steady = [h["steady_samples_per_second"] for h in history if h.get("steady_samples_per_second")]
    state = resume.state
    return {
        "experiment": settings["name"],
        "model": settings["model"],
        "task": settings["task"],
        # per recurrent layer, whether a GPU would run cuDNN's fused kernel (models.fused_kernel_report)
        "cudnn_kernels": fused_kernel_report(model),
        "ranks": run.ranks.size,
        "launcher": device["launcher"],
        "epochs": run.epochs,
        "resumed_from_epoch": (int(state["epochs_completed"]) if state else 0) or None,
        "resumed_at_step": int(state.get("step_in_epoch", 0)) if state else None,
        # every resume of this training, with the geometry before and after (resume._resume_record)
        "resumes": run.resumes,
        "steps_per_epoch": data.steps_per_epoch,
        "batch_size_per_rank": data.batch_size,
        "global_batch_size": data.batch_size * run.ranks.size,
        "training_items": data.items_total,
        "learning_rate": {"base": rate.base, "scaled": rate.scaled, "warmup_steps": rate.warmup_steps},
        "training_data_notes": data.notes,
        "vocabulary_size": vocabulary_size,
        "final": history[-1] if history else None,
        "best_val_loss": min((h["val_loss"] for h in history if "val_loss" in h), default=None),
        "mean_samples_per_second": float(np.mean(throughputs)) if throughputs else None,
        # the same without each fit call's first execution (tracing), epoch by epoch
        "steady_samples_per_second": float(np.mean(steady)) if steady else None,
        "wall_seconds_this_run": round(time.time() - run.started, 3),
        "weights_sha256": weights_hash,
        "fingerprint": fingerprint,
        "settings": settings,
        "device": device,
        "preset": settings.get("preset"),
        "provenance": provenance,  # where and with what this run ran (training/provenance.py)
    }


def write_training_summary(paths: ExperimentPaths, summary: dict, vocabulary) -> dict:
    """Rank 0: model/training_summary.json, with the normalisation of a forecast (evaluation
    un-normalises with it), and the run's last console line."""
    if summary["task"] == "sequence_regression":  # saved with the model: evaluation un-normalises with it
        summary["normalisation"] = vocabulary.to_json()
    write_json(paths.training_summary, summary)
    get_logger().info(TRAINING_DONE.text(model=paths.final_model, metrics=paths.metrics))
    return summary
