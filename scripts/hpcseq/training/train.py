"""Distributed training with Horovod, in the order of Horovod's Keras examples.

    1. hvd.init()                           (distributed.init_horovod)
    2. pin one GPU per local rank           (distributed.configure_devices)
    3. scale the learning rate by ranks, with warmup (models.WarmupSchedule)
    4. hvd.DistributedOptimizer             (gradients averaged by allreduce)
    5. broadcast the initial state from rank 0 (after a possible restore from a checkpoint)
    6. average metrics over ranks at the end of each epoch
    7. checkpoints, metrics file and console output on rank 0 only

Each rank reads only its shard of the training data. The same code runs as one plain process
and under horovodrun, mpirun and srun. A rerun continues from the last complete checkpoint
(resume.py: where the run starts); what a finished run writes is outputs.py's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import tensorflow as tf

from hpcseq.data.vocabulary import load_vocabulary
from hpcseq.events import EXPERIMENT_STARTED, get_logger, setup_logging
from hpcseq.paths import ExperimentPaths
from hpcseq.training.callbacks import make_callbacks
from hpcseq.training.checkpoints import CheckpointStore
from hpcseq.training.distributed import configure_devices, init_horovod
from hpcseq.training.models import LOSSES, METRICS, WarmupSchedule, fused_kernel_report, make_optimizer
from hpcseq.training.models import build_model as build_keras_model
from hpcseq.training.outputs import save_keras_model, training_summary, write_rank_report, write_training_summary
from hpcseq.training.provenance import record_provenance
from hpcseq.training.rank_data import TrainingData, load_rank_data, resolved_hyperparameters
from hpcseq.training.resume import Resume, continue_records, fingerprint_of, geometry_of, restore_checkpoint
from hpcseq.training.run_state import RunState, build_metrics, random_generators, seed_random_generators
from hpcseq.training.signals import INTERRUPTIONS
from hpcseq.training.watchdog import start_watchdog


@dataclass
class LearningRate:
    base: float
    scaled: float
    warmup_steps: int


def train(settings: dict, paths: ExperimentPaths, restart: bool = False, foreign_checkpoints: str = "refuse") -> dict:
    """`foreign_checkpoints`: "refuse" (stop with the differences) or "set-aside" (what the
    workflow asks for: Snakemake reruns training because the settings changed)."""
    started = time.time()
    # Horovod: hvd.init(), then one GPU per local rank (and the node's CPUs shared between its ranks)
    ranks, device = start_ranks(settings)
    # every rank's heartbeat; a rank that hangs ends the job after hang_timeout_seconds
    watchdog = start_watchdog(ranks, paths.heartbeats, settings["training"]["hang_timeout_seconds"])
    tf = make_reproducible(settings["training"]["seed"])
    provenance = record_provenance(ranks, device["launcher"])  # rank 0: where and with what it ran
    vocabulary = load_vocabulary(paths.vocab)
    settings = {**settings, "hyperparameters": resolved_hyperparameters(settings, paths.encoded)}
    # Horovod: each rank reads only its shard of the training data
    data = load_data(settings, paths, ranks)
    # Horovod: the learning rate scaled by the ranks, gradients averaged over them (DistributedOptimizer)
    model, optimizer, rate = build_model(tf, settings, vocabulary.size, data, ranks)
    generators = prepare_resumable_state(model, data, settings, ranks)
    fingerprint = fingerprint_of(settings, paths.vocab, data.items_total)
    store = CheckpointStore(paths.checkpoints, fingerprint, keep=settings["training"]["keep_checkpoints"])
    # Horovod: rank 0 restores the checkpoint; every rank learns by broadcast where the run continues
    # (on another number of ranks too: resume.py says what it keeps of the batch and learning rate)
    geometry = geometry_of(ranks.size, data, rate)
    resume = restore_checkpoint(
        ranks, store, model, optimizer, generators, data, settings, restart, foreign_checkpoints, geometry
    )
    # Horovod: rank 0's variables (fresh or restored) and optimizer state go to every rank, so
    # all ranks start from the same state.
    ranks.collectives.broadcast_variables(model.variables + list(optimizer.variables), root_rank=0)
    if ranks.is_root:  # Horovod: files are written by rank 0 only
        continue_records(paths, resume, store)
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
        geometry=geometry,
        resumes=resume.resumes,
    )
    # Horovod: metrics averaged over the ranks at each epoch's end; rank 0 checkpoints and logs
    fit(model, data, run, resume)
    watchdog.stop()  # every rank is past its last collective of training
    weights_hash = write_rank_report(model, paths, ranks, device, data)  # every rank: its record, its weights' digest
    if not ranks.is_root:
        return {}
    save_keras_model(model, paths.final_model)
    summary = training_summary(
        settings, run, resume, device, rate, vocabulary.size, weights_hash, fingerprint, provenance, model
    )
    return write_training_summary(paths, summary, vocabulary)


# ------------------------------------------------------------------------------------- steps


def start_ranks(settings: dict):
    """Horovod's start and the devices of this rank; the experiment's first console line."""
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
    training = settings["training"]
    model = build_keras_model(
        settings["model"], settings["task"], settings["architecture"], vocabulary_size, settings["hyperparameters"]
    )
    for layer in fused_kernel_report(model):  # no GPU needed to know: the layers' own properties
        fused = "yes" if layer["fused_cudnn_kernel"] else "no, " + "; ".join(layer["why_not"])
        get_logger().info("cuDNN fused kernel on a GPU, layer %s (%s): %s", layer["layer"], layer["cell"], fused)
    rate = learning_rate(training, data.steps_per_epoch, ranks.size)
    optimizer = make_optimizer(training["optimizer"], WarmupSchedule(rate.base, rate.scaled, rate.warmup_steps))
    # Horovod: wrap the optimizer so gradients are averaged across ranks (allreduce) before each
    # update. One rank has nothing to average: unwrapped, the same updates cost about 5% less per
    # step of a small model (docs/developing/benchmark.md).
    if ranks.size > 1:
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
