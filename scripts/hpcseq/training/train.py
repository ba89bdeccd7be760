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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hpcseq.data.vocabulary import char_split_length, load_char_ids, load_sentences, load_vocabulary
from hpcseq.errors import CheckpointError, ConfigError, HpcseqError, InputDataError
from hpcseq.events import EXPERIMENT_STARTED, RESUMING, TRAINING_DONE, get_logger, setup_logging
from hpcseq.io import atomic_open, write_json
from hpcseq.paths import ExperimentPaths
from hpcseq.training import inputs
from hpcseq.training.callbacks import make_callbacks
from hpcseq.training.checkpoints import CheckpointStore, ForeignCheckpointError, fingerprint_differences
from hpcseq.training.run_state import (
    RunState,
    build_metrics,
    random_generators,
    restore_random_generator_states,
    seed_random_generators,
)
from hpcseq.training.signals import INTERRUPTIONS

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


@dataclass
class TrainingData:
    steps_per_epoch: int
    batch_size: int
    items_total: int
    items_this_rank: int
    shard: dict
    make_training: Callable[[int, int], object]
    validation: object
    validation_items_this_rank: int
    notes: list = field(default_factory=list)


def batch_per_rank(training: dict, size: int, experiment: str = "") -> int:
    """training.batch_size per rank, or global_batch_size split over the ranks."""
    total = training.get("global_batch_size")
    if total is None:
        return training["batch_size"]
    if total % size:
        raise ConfigError(
            f"experiments.{experiment}.training.global_batch_size", f"{total} cannot be split evenly over {size} ranks"
        )
    return total // size


def _validation_batch_size(batch_size: int) -> int:
    return max(batch_size, 1024)


def char_data(settings: dict, encoded_dir: Path, rank: int, size: int) -> TrainingData:
    hp, training = settings["hyperparameters"], settings["training"]
    length, step = hp["sequence_length"], hp["step"]
    batch = batch_per_rank(training, size, settings["name"])
    total_chars = char_split_length(encoded_dir, "train")
    total_windows = inputs.window_count(total_chars, length, step)
    shard = inputs.WindowShard.for_rank(total_chars, length, step, rank, size)
    steps = inputs.steps_per_epoch(total_windows // size, batch, training["max_steps_per_epoch"])
    if steps < 1:
        raise InputDataError(
            encoded_dir / "train.ids",
            f"the training split has {total_chars} characters = {total_windows} windows of "
            f"{length}+1; {size} ranks x batch {batch} need at least {size * batch} windows",
        )
    ids = load_char_ids(encoded_dir, "train", shard.char_start, shard.char_stop)
    validation_chars = char_split_length(encoded_dir, "validation")
    vshard = inputs.WindowShard.for_rank(validation_chars, length, step, rank, size)
    if vshard.windows < 1:
        raise InputDataError(
            encoded_dir / "validation.ids",
            f"the validation split has {validation_chars} characters: too few for one window of "
            f"{length}+1 per rank ({size} ranks)",
        )
    validation_ids = load_char_ids(encoded_dir, "validation", vshard.char_start, vshard.char_stop)
    seed = training["seed"]
    notes = []
    if training["max_steps_per_epoch"] is not None and steps * batch * size < total_windows:
        notes.append(
            f"each epoch uses {steps * batch * size} of {total_windows} training windows "
            f"(max_steps_per_epoch = {training['max_steps_per_epoch']}), a fresh random subset every epoch"
        )
    return TrainingData(
        steps_per_epoch=steps,
        batch_size=batch,
        items_total=total_windows,
        items_this_rank=shard.windows,
        shard={
            "kind": "windows",
            "first": shard.first_window,
            "count": shard.windows,
            "char_start": shard.char_start,
            "char_stop": shard.char_stop,
            "bytes_loaded": int(ids.nbytes),
        },
        make_training=lambda first, last: inputs.char_training_dataset(
            ids, length, step, batch, steps, seed, rank, first, last
        ),
        validation=inputs.char_eval_dataset(validation_ids, length, step, _validation_batch_size(batch)),
        validation_items_this_rank=vshard.windows,
        notes=notes,
    )


def sentence_data(settings: dict, encoded_dir: Path, rank: int, size: int) -> TrainingData:
    hp, training = settings["hyperparameters"], settings["training"]
    batch = batch_per_rank(training, size, settings["name"])
    flat, offsets, labels = load_sentences(encoded_dir, "train")
    total = len(labels)
    steps = inputs.steps_per_epoch(total // size, batch, training["max_steps_per_epoch"])
    if steps < 1:
        raise InputDataError(
            encoded_dir / "train.npz",
            f"the training split has {total} sentences; {size} ranks x batch {batch} need at least {size * batch}",
        )
    mine = inputs.strided_shard(total, rank, size)
    matrix = inputs.pad_sentences(flat, offsets, hp["sentence_length"], hp["padding"])[mine]
    my_labels = labels[mine]
    vflat, voffsets, vlabels = load_sentences(encoded_dir, "validation")
    vmine = inputs.strided_shard(len(vlabels), rank, size)
    if len(vmine) < 1:
        raise InputDataError(
            encoded_dir / "validation.npz",
            f"the validation split has {len(vlabels)} sentences, fewer than the {size} ranks",
        )
    vmatrix = inputs.pad_sentences(vflat, voffsets, hp["sentence_length"], hp["padding"])[vmine]
    seed = training["seed"]
    notes = []
    if training["max_steps_per_epoch"] is not None and steps * batch * size < total:
        notes.append(f"each epoch uses {steps * batch * size} of {total} training sentences")
    return TrainingData(
        steps_per_epoch=steps,
        batch_size=batch,
        items_total=total,
        items_this_rank=len(mine),
        shard={
            "kind": "sentences",
            "stride": size,
            "offset": rank,
            "count": len(mine),
            "first_indices": mine[:5].tolist(),
        },
        make_training=lambda first, last: inputs.sentence_training_dataset(
            matrix, my_labels, batch, steps, seed, rank, first, last
        ),
        validation=inputs.sentence_eval_dataset(vmatrix, vlabels[vmine], _validation_batch_size(batch)),
        validation_items_this_rank=len(vmine),
        notes=notes,
    )


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def weights_sha256(model) -> str:
    digest = hashlib.sha256()
    for weight in model.weights:
        digest.update(np.ascontiguousarray(weight.numpy()).tobytes())
    return digest.hexdigest()


def fingerprint_of(settings: dict, vocab_path: Path, items_total: int) -> dict:
    return {
        "model": settings["model"],
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
    """Save to a temporary .keras file and rename: a reader never sees a partial model."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".tmp-{os.getpid()}-{path.name}"
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


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


def train(settings: dict, paths: ExperimentPaths, restart: bool = False, foreign_checkpoints: str = "refuse") -> dict:
    """`foreign_checkpoints`: "refuse" (stop with the differences) or "set-aside" (what the
    workflow asks for: Snakemake reruns training because the settings changed)."""
    from hpcseq.training.distributed import configure_devices, init_horovod

    started = time.time()
    ranks = init_horovod()
    log = setup_logging("train", ranks.rank, ranks.size)
    if not ranks.is_root:
        log.setLevel("WARNING")  # console output from rank 0 only
    training, hp = settings["training"], settings["hyperparameters"]
    device = configure_devices(ranks, training["threads_per_rank"])

    import tensorflow as tf

    from hpcseq.training.models import LOSSES, METRICS, WarmupSchedule, build_model, make_optimizer

    log.info(
        EXPERIMENT_STARTED.text(
            name=settings["name"],
            model=settings["model"],
            ranks=ranks.size,
            launcher=device["launcher"],
            host=device["host"],
            device=f"GPU {device['gpu']}" if device["gpu"] else f"CPU, {device['threads_per_rank']} threads per rank",
        )
    )
    # Same seed on every rank: identical initial weights (broadcast below makes it certain) and
    # reproducible runs on CPU.
    tf.keras.utils.set_random_seed(training["seed"])
    tf.config.experimental.enable_op_determinism()
    # Dropout draws from tf.random.Generator variables (seeded from the seed above) instead of
    # stateful random ops: reproducible, and the generators' state is saved in checkpoints.
    tf.keras.backend.experimental.enable_tf_random_generator()

    vocabulary = load_vocabulary(paths.vocab)
    loader = char_data if settings["model"] == "char_rnn" else sentence_data
    data = loader(settings, paths.encoded, ranks.rank, ranks.size)
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

    model = build_model(settings["model"], vocabulary.size, hp)
    # Horovod: scale the learning rate by the number of ranks (the global batch grows with them),
    # ramping up from the single-rank rate over the warmup epochs.
    base_rate = training["learning_rate"]
    scale = training["scale_learning_rate"] and training.get("global_batch_size") is None
    target_rate = base_rate * ranks.size if scale else base_rate
    warmup_steps = int(round(training["warmup_epochs"] * data.steps_per_epoch)) if target_rate != base_rate else 0
    optimizer = make_optimizer(training["optimizer"], WarmupSchedule(base_rate, target_rate, warmup_steps))
    # Horovod: wrap the optimizer so gradients are averaged across ranks (allreduce) before each update.
    optimizer = ranks.hvd.DistributedOptimizer(optimizer)
    model.compile(
        loss=LOSSES[settings["model"]],
        optimizer=optimizer,
        metrics=METRICS[settings["model"]],
        steps_per_execution=training["steps_per_execution"],
    )
    # Create the optimizer's slot variables now, so that they can be restored and broadcast.
    optimizer.build(model.trainable_variables)
    generators = random_generators(model)
    seed_random_generators(generators, training["seed"], ranks.rank)
    build_metrics(model, next(iter(data.validation)))

    fingerprint = fingerprint_of(settings, paths.vocab, data.items_total)
    store = CheckpointStore(paths.checkpoints, fingerprint, keep=training["keep_checkpoints"])
    decision = _decide_resume(ranks, store, restart, foreign_checkpoints)
    state = decision["state"]
    initial_epoch, start_step = 0, 0
    history: list[dict] = []
    restore_metrics = None
    if state is not None:
        if ranks.is_root:
            store.restore(Path(decision["path"]), model, optimizer)
        initial_epoch = int(state["epochs_completed"])
        start_step = int(state.get("step_in_epoch", 0))
        history = list(state.get("history", []))
        same_ranks = int(state.get("ranks", 0)) == ranks.size and state.get("steps_per_epoch") == data.steps_per_epoch
        saved_rng = state.get("random_generators")
        if generators and saved_rng and same_ranks:
            restore_random_generator_states(generators, saved_rng[ranks.rank])
        elif generators:
            log.info(
                "dropout generators seeded afresh: the checkpoint was written by %s rank(s), this run has %d",
                state.get("ranks"),
                ranks.size,
            )
        if start_step and not same_ranks:
            log.warning(
                "the checkpoint is %d steps into epoch %d with %s ranks; with %d ranks the epoch's "
                "steps differ: epoch %d starts over",
                start_step,
                initial_epoch + 1,
                state.get("ranks"),
                ranks.size,
                initial_epoch + 1,
            )
            start_step = 0
        if start_step:
            restore_metrics = state["metric_states"][ranks.rank]
        log.info(
            RESUMING.text(
                path=decision["path"],
                done=initial_epoch,
                epochs=training["epochs"],
                within=f", {start_step} of {data.steps_per_epoch} steps into the next" if start_step else "",
            )
        )
    # Horovod: rank 0's variables (fresh or restored) and optimizer state go to every rank, so
    # all ranks start from the same state.
    ranks.collectives.broadcast_variables(model.variables + list(optimizer.variables), root_rank=0)
    if ranks.is_root:
        _rewrite_metrics(paths.metrics, history)

    epochs = training["epochs"]
    interruptions = INTERRUPTIONS
    interruptions.install()
    run = RunState(
        tf=tf,
        ranks=ranks,
        data=data,
        store=store,
        paths=paths,
        settings=settings,
        generators=generators,
        history=history,
        epochs=epochs,
        started=started,
        interruptions=interruptions,
        restore_metrics=restore_metrics,
    )
    callbacks = [
        # Horovod: average the epoch's metrics over ranks, so that rank 0 logs and checkpoints
        # the global values rather than its own shard's.
        ranks.hvd.callbacks.MetricAverageCallback(),
        *make_callbacks(run),
    ]
    steps = data.steps_per_epoch
    fit = dict(validation_data=data.validation, callbacks=callbacks, verbose=0)
    if initial_epoch < epochs and start_step:
        # finish the interrupted epoch first: its remaining steps, then the following epochs
        run.step_offset = start_step
        model.fit(
            data.make_training(initial_epoch * steps + start_step, (initial_epoch + 1) * steps),
            epochs=initial_epoch + 1,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps - start_step,
            **fit,
        )
        initial_epoch += 1
    if initial_epoch < epochs:
        model.fit(
            data.make_training(initial_epoch * steps, epochs * steps),
            epochs=epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps,
            **fit,
        )
    else:
        log.info("all %d epochs were already done; writing the final model from the last checkpoint", epochs)
    resumed_from = (int(state["epochs_completed"]) if state else 0) or None

    weights_hash = weights_sha256(model)
    rank_report = {
        "rank": ranks.rank,
        "size": ranks.size,
        "local_rank": ranks.local_rank,
        "local_size": ranks.local_size,
        **device,
        "shard": data.shard,
        "validation_items": data.validation_items_this_rank,
        "weights_sha256": weights_hash,
        "slurm": {
            k: v
            for k, v in os.environ.items()
            if k
            in (
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
        },
    }
    write_json(paths.rank_reports / f"rank-{ranks.rank}.json", rank_report)
    summary = {}
    if ranks.is_root:
        _save_keras_model(model, paths.final_model)
        throughputs = [h["samples_per_second"] for h in history if h.get("samples_per_second")]
        summary = {
            "experiment": settings["name"],
            "model": settings["model"],
            "ranks": ranks.size,
            "launcher": device["launcher"],
            "epochs": epochs,
            "resumed_from_epoch": resumed_from,
            "resumed_at_step": int(state.get("step_in_epoch", 0)) if state else None,
            "steps_per_epoch": data.steps_per_epoch,
            "batch_size_per_rank": data.batch_size,
            "global_batch_size": data.batch_size * ranks.size,
            "training_items": data.items_total,
            "learning_rate": {"base": base_rate, "scaled": target_rate, "warmup_steps": warmup_steps},
            "subset_notes": data.notes,
            "vocabulary_size": vocabulary.size,
            "final": history[-1] if history else None,
            "best_val_loss": min((h["val_loss"] for h in history if "val_loss" in h), default=None),
            "mean_samples_per_second": float(np.mean(throughputs)) if throughputs else None,
            "wall_seconds_this_run": round(time.time() - started, 3),
            "weights_sha256": weights_hash,
            "fingerprint": fingerprint,
            "settings": settings,
            "device": device,
            "preset": settings.get("preset"),
        }
        write_json(paths.training_summary, summary)
        log.info(TRAINING_DONE.text(model=paths.final_model, metrics=paths.metrics))
    return summary
