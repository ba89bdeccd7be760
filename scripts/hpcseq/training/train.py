"""Distributed training with Horovod, in the order of Horovod's Keras examples.

    1. hvd.init()                           (distributed.init_horovod)
    2. pin one GPU per local rank           (distributed.configure_devices)
    3. scale the learning rate by ranks, with warmup (models.WarmupSchedule)
    4. hvd.DistributedOptimizer             (gradients averaged by allreduce)
    5. broadcast the initial state from rank 0 (after a possible restore from a checkpoint)
    6. average metrics over ranks at the end of each epoch
    7. checkpoints, metrics file and console output on rank 0 only

Each rank reads only its shard of the training data. The same code runs as one plain process
and under horovodrun, mpirun and srun. A rerun continues from the last complete checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hpcseq import job_ledger
from hpcseq.data.vocabulary import load_vocabulary
from hpcseq.errors import CheckpointError, HpcseqError
from hpcseq.events import EXPERIMENT_STARTED, RESUMING, TRAINING_DONE, get_logger, setup_logging
from hpcseq.io import atomic_open, atomic_path, file_sha256, write_json
from hpcseq.paths import ExperimentPaths
from hpcseq.records import rank_report_path
from hpcseq.training.callbacks import make_callbacks
from hpcseq.training.checkpoints import CheckpointStore, ForeignCheckpointError, fingerprint_differences
from hpcseq.training.provenance import record_provenance
from hpcseq.training.rank_data import TrainingData, load_rank_data, resolved_hyperparameters
from hpcseq.training.run_state import (
    RunState,
    build_metrics,
    random_generators,
    restore_random_generator_states,
    seed_random_generators,
)
from hpcseq.training.signals import INTERRUPTIONS
from hpcseq.training.watchdog import start_watchdog

# The settings a checkpoint must share with the run that continues it (with the model, its
# hyperparameters, the vocabulary and the number of training items).
FINGERPRINT_TRAINING_KEYS = (
    "batch_size",
    "global_batch_size",
    "optimizer",
    "learning_rate",
    "scale_learning_rate",
    "warmup_epochs",
    "seed",
    "max_steps_per_epoch",
)
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


@dataclass
class LearningRate:
    base: float
    scaled: float
    warmup_steps: int


@dataclass
class Resume:
    """Where this run starts: from scratch, or inside the epoch a checkpoint stopped in."""

    path: str | None = None
    state: dict | None = None
    initial_epoch: int = 0
    start_step: int = 0  # steps of `initial_epoch` already done
    history: list = field(default_factory=list)
    restore_metrics: list | None = None  # this rank's partial metric sums of that epoch


def train(settings: dict, paths: ExperimentPaths, restart: bool = False, foreign_checkpoints: str = "refuse") -> dict:
    """`foreign_checkpoints`: "refuse" (stop with the differences) or "set-aside" (what the
    workflow asks for: Snakemake reruns training because the settings changed)."""
    started = time.time()
    ranks, device = start_ranks(settings)
    # every rank's heartbeat; a rank that hangs ends the job after hang_timeout_seconds
    watchdog = start_watchdog(ranks, paths.heartbeats, settings["training"]["hang_timeout_seconds"])
    tf = make_reproducible(settings["training"]["seed"])
    provenance = record_provenance(ranks, device["launcher"])  # rank 0: where and with what it ran
    vocabulary = load_vocabulary(paths.vocab)
    settings = {**settings, "hyperparameters": resolved_hyperparameters(settings, paths.encoded)}
    data = load_data(settings, paths, ranks)
    model, optimizer, rate = build_model(tf, settings, vocabulary.size, data, ranks)
    generators = prepare_resumable_state(model, data, settings, ranks)
    fingerprint = fingerprint_of(settings, paths.vocab, data.items_total)
    store = CheckpointStore(paths.checkpoints, fingerprint, keep=settings["training"]["keep_checkpoints"])
    resume = restore_checkpoint(
        ranks, store, model, optimizer, generators, data, settings, restart, foreign_checkpoints
    )
    # Horovod: rank 0's variables (fresh or restored) and optimizer state go to every rank, so
    # all ranks start from the same state.
    ranks.collectives.broadcast_variables(model.variables + list(optimizer.variables), root_rank=0)
    if ranks.is_root:
        _rewrite_metrics(paths.metrics, resume.history)
        if store.started_over:  # the Slurm jobs of the old start go aside with its checkpoints
            job_ledger.start_over(paths, **store.started_over)
    INTERRUPTIONS.install()
    run = RunState(
        tf=tf,
        ranks=ranks,
        data=data,
        store=store,
        paths=paths,
        settings=settings,
        generators=generators,
        history=resume.history,
        epochs=settings["training"]["epochs"],
        started=started,
        interruptions=INTERRUPTIONS,
        restore_metrics=resume.restore_metrics,
        watchdog=watchdog,
    )
    fit(model, data, run, resume)
    watchdog.stop()  # every rank is past its last collective of training
    weights_hash = write_rank_report(model, paths, ranks, device, data)
    if not ranks.is_root:
        return {}
    _save_keras_model(model, paths.final_model)
    summary = training_summary(
        settings, run, resume, device, rate, vocabulary.size, weights_hash, fingerprint, provenance, model
    )
    if settings["task"] == "sequence_regression":  # saved with the model: evaluation un-normalises with it
        summary["normalisation"] = vocabulary.to_json()
    write_json(paths.training_summary, summary)
    get_logger().info(TRAINING_DONE.text(model=paths.final_model, metrics=paths.metrics))
    return summary


# ------------------------------------------------------------------------------------- steps


def start_ranks(settings: dict):
    """Horovod's start and the devices of this rank; the experiment's first console line."""
    from hpcseq.training.distributed import configure_devices, init_horovod

    ranks = init_horovod()
    log = setup_logging("train", ranks.rank, ranks.size)
    if not ranks.is_root:
        log.setLevel("WARNING")  # console output from rank 0 only
    device = configure_devices(ranks, settings["training"]["threads_per_rank"])
    on = f"GPU {device['gpu']}" if device["gpu"] else f"CPU, {device['threads_per_rank']} threads per rank"
    log.info(
        EXPERIMENT_STARTED.text(
            name=settings["name"],
            model=settings["model"],
            ranks=ranks.size,
            launcher=device["launcher"],
            host=device["host"],
            device=on,
        )
    )
    return ranks, device


def make_reproducible(seed: int):
    """TensorFlow seeded and deterministic; returns the module."""
    import tensorflow as tf

    # Same seed on every rank: identical initial weights (broadcast below makes it certain) and
    # reproducible runs on CPU.
    tf.keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    # Dropout draws from tf.random.Generator variables (seeded from the seed above) instead of
    # stateful random ops: reproducible, and the generators' state is saved in checkpoints.
    tf.keras.backend.experimental.enable_tf_random_generator()
    return tf


def load_data(settings: dict, paths: ExperimentPaths, ranks) -> TrainingData:
    """This rank's shard of the training and validation splits."""
    data = load_rank_data(settings, paths.encoded, ranks.rank, ranks.size)
    log = get_logger()
    for note in data.notes:
        log.info("subset: %s", note)
    log.info(
        "data: %d training items (%d on this rank), %d steps per epoch of %d per rank, global batch %d",
        data.items_total,
        data.items_this_rank,
        data.steps_per_epoch,
        data.batch_size,
        data.batch_size * ranks.size,
    )
    return data


def learning_rate(training: dict, steps_per_epoch: int, size: int) -> LearningRate:
    """Horovod: the rate scaled by the number of ranks (the global batch grows with them), reached
    after warmup epochs from the single-rank rate; not scaled when the global batch is fixed."""
    base = training["learning_rate"]
    scale = training["scale_learning_rate"] and training.get("global_batch_size") is None
    scaled = base * size if scale else base
    warmup_steps = round(training["warmup_epochs"] * steps_per_epoch) if scaled != base else 0
    return LearningRate(base, scaled, warmup_steps)


def build_model(tf, settings: dict, vocabulary_size: int, data: TrainingData, ranks):
    """The compiled model with Horovod's distributed optimizer; (model, optimizer, learning rate)."""
    from hpcseq.training.models import LOSSES, METRICS, WarmupSchedule, fused_kernel_report, make_optimizer
    from hpcseq.training.models import build_model as build_keras_model

    training = settings["training"]
    model = build_keras_model(
        settings["model"], settings["task"], settings["architecture"], vocabulary_size, settings["hyperparameters"]
    )
    for layer in fused_kernel_report(model):  # no GPU needed to know: the layers' own properties
        fused = "yes" if layer["fused_cudnn_kernel"] else "no, " + "; ".join(layer["why_not"])
        get_logger().info("cuDNN fused kernel on a GPU, layer %s (%s): %s", layer["layer"], layer["cell"], fused)
    rate = learning_rate(training, data.steps_per_epoch, ranks.size)
    optimizer = make_optimizer(training["optimizer"], WarmupSchedule(rate.base, rate.scaled, rate.warmup_steps))
    # Horovod: wrap the optimizer so gradients are averaged across ranks (allreduce) before each update.
    optimizer = ranks.hvd.DistributedOptimizer(optimizer)
    model.compile(
        loss=LOSSES[settings["task"]],
        optimizer=optimizer,
        metrics=METRICS[settings["task"]],
        steps_per_execution=training["steps_per_execution"],
    )
    # Create the optimizer's slot variables now, so that they can be restored and broadcast.
    optimizer.build(model.trainable_variables)
    return model, optimizer, rate


def prepare_resumable_state(model, data: TrainingData, settings: dict, ranks) -> list:
    """Dropout generators seeded per rank and metric trackers built: what a checkpoint saves."""
    generators = random_generators(model)
    seed_random_generators(generators, settings["training"]["seed"], ranks.rank)
    build_metrics(model, next(iter(data.validation)))
    return generators


def restore_checkpoint(
    ranks, store: CheckpointStore, model, optimizer, generators, data, settings, restart, foreign_checkpoints
) -> Resume:
    """Rank 0 restores the latest complete checkpoint of these settings, if any; every rank learns
    where the run continues (epoch, step, its own dropout and metric state)."""
    decision = _decide_resume(ranks, store, restart, foreign_checkpoints)
    state = decision["state"]
    if state is None:
        return Resume()
    if ranks.is_root:
        store.restore(Path(decision["path"]), model, optimizer)
    resume = Resume(
        path=decision["path"],
        state=state,
        initial_epoch=int(state["epochs_completed"]),
        start_step=int(state.get("step_in_epoch", 0)),
        history=list(state.get("history", [])),
    )
    same_ranks = int(state.get("ranks", 0)) == ranks.size and state.get("steps_per_epoch") == data.steps_per_epoch
    _restore_generators(generators, state, same_ranks, ranks)
    log = get_logger()
    if resume.start_step and not same_ranks:
        log.warning(
            "the checkpoint is %d steps into epoch %d with %s ranks; with %d ranks the epoch's "
            "steps differ: epoch %d starts over",
            resume.start_step,
            resume.initial_epoch + 1,
            state.get("ranks"),
            ranks.size,
            resume.initial_epoch + 1,
        )
        resume.start_step = 0
    if resume.start_step:
        resume.restore_metrics = state["metric_states"][ranks.rank]
    within = f", {resume.start_step} of {data.steps_per_epoch} steps into the next" if resume.start_step else ""
    log.info(
        RESUMING.text(path=resume.path, done=resume.initial_epoch, epochs=settings["training"]["epochs"], within=within)
    )
    return resume


def fit(model, data: TrainingData, run: RunState, resume: Resume) -> None:
    """Keras fit over the remaining epochs, finishing an interrupted epoch first."""
    callbacks = [
        # Horovod: average the epoch's metrics over ranks, so that rank 0 logs and checkpoints
        # the global values rather than its own shard's.
        run.ranks.hvd.callbacks.MetricAverageCallback(),
        *make_callbacks(run),
    ]
    steps, epochs = data.steps_per_epoch, run.epochs
    initial_epoch = resume.initial_epoch
    options = dict(validation_data=data.validation, callbacks=callbacks, verbose=0)
    if initial_epoch < epochs and resume.start_step:
        # finish the interrupted epoch first: its remaining steps, then the following epochs
        run.step_offset = resume.start_step
        model.fit(
            data.make_training(initial_epoch * steps + resume.start_step, (initial_epoch + 1) * steps),
            epochs=initial_epoch + 1,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps - resume.start_step,
            **options,
        )
        initial_epoch += 1
    if initial_epoch < epochs:
        model.fit(
            data.make_training(initial_epoch * steps, epochs * steps),
            epochs=epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps,
            **options,
        )
    else:
        get_logger().info("all %d epochs were already done; writing the final model from the last checkpoint", epochs)


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
    from hpcseq.training.models import fused_kernel_report

    history, data = run.history, run.data
    throughputs = [h["samples_per_second"] for h in history if h.get("samples_per_second")]
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
        "wall_seconds_this_run": round(time.time() - run.started, 3),
        "weights_sha256": weights_hash,
        "fingerprint": fingerprint,
        "settings": settings,
        "device": device,
        "preset": settings.get("preset"),
        "provenance": provenance,  # where and with what this run ran (training/provenance.py)
    }


# ----------------------------------------------------------------------------------- helpers


def weights_sha256(model) -> str:
    digest = hashlib.sha256()
    for weight in model.weights:
        digest.update(np.ascontiguousarray(weight.numpy()).tobytes())
    return digest.hexdigest()


def fingerprint_of(settings: dict, vocab_path: Path, items_total: int) -> dict:
    return {
        "model": settings["model"],
        "architecture": settings["architecture"],
        "hyperparameters": settings["hyperparameters"],
        "training": {key: settings["training"].get(key) for key in FINGERPRINT_TRAINING_KEYS},
        "vocabulary_sha256": file_sha256(vocab_path),
        "training_items": items_total,
    }


def _rewrite_metrics(path: Path, history: list[dict]) -> None:
    with atomic_open(path) as handle:
        for line in history:
            handle.write(json.dumps(line) + "\n")


def _save_keras_model(model, path: Path) -> None:
    """A reader (or Snakemake) never sees a partial model."""
    with atomic_path(path) as tmp:
        model.save(tmp)


def _restore_generators(generators: list, state: dict, same_ranks: bool, ranks) -> None:
    """Each rank's dropout generators continue where they stopped, if the rank layout is the same."""
    saved = state.get("random_generators")
    if generators and saved and same_ranks:
        restore_random_generator_states(generators, saved[ranks.rank])
    elif generators:
        get_logger().info(
            "dropout generators seeded afresh: the checkpoint was written by %s rank(s), this run has %d",
            state.get("ranks"),
            ranks.size,
        )


def _latest_checkpoint(store: CheckpointStore, foreign_checkpoints: str):
    """The checkpoint to continue from; foreign ones are refused, or set aside when asked to."""
    try:
        return store.latest()
    except ForeignCheckpointError as foreign:
        if foreign_checkpoints != "set-aside":
            raise
        aside, own_back = store.set_aside_foreign(foreign)
        differences = fingerprint_differences(foreign.fingerprint, store.fingerprint)
        get_logger().warning(
            "checkpoints of other settings (%s) set aside in %s; %s",
            "; ".join(differences),
            aside,
            "the checkpoints of these settings, set aside earlier, are back" if own_back else "starting from scratch",
        )
        return store.latest()


def _decide_resume(ranks, store: CheckpointStore, restart: bool, foreign_checkpoints: str = "refuse") -> dict:
    """Rank 0 looks for a checkpoint; every rank gets its decision (or its error) by broadcast,
    so that a refused checkpoint stops all ranks instead of leaving them waiting."""
    decision = None
    if ranks.is_root:
        try:
            if restart:
                store.clear()
            info = _latest_checkpoint(store, foreign_checkpoints)
            decision = {"ok": True, "path": str(info.path) if info else None, "state": info.state if info else None}
        except HpcseqError as error:
            decision = {"ok": False, "error": str(error)}
    decision = ranks.collectives.broadcast_object(decision, root_rank=0)
    if not decision["ok"]:
        raise CheckpointError(decision["error"])
    return decision
