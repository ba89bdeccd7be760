"""What a training run needs to stop anywhere and continue exactly: checkpoints at epoch ends,
every N minutes and on a signal, with the state that makes a resumed run equal an uninterrupted one.

A checkpoint holds, besides weights and optimizer state (tf.train.Checkpoint), in state.json:
the position in the data order (epochs completed, step inside the epoch: a batch is a pure
function of its global step, see inputs.py), every rank's dropout-generator state and partial
epoch metric accumulators (so that the resumed epoch reports the same training loss), the
metrics history, and the fingerprint of the settings (checkpoint.py refuses foreign ones).

Signals: Slurm sends SIGUSR1 before the time limit (`--signal=USR1@120`) and SIGTERM when it
cancels or preempts a job. The handler only sets a flag; after the current step every rank
learns, through one small allreduce, whether any rank was signalled (or rank 0's clock says a
checkpoint is due), so all ranks stop at the same step; rank 0 writes the checkpoint and all
exit with 75 (SIGUSR1: requeue me) or 143 (SIGTERM).
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass, field

from hpcseq.atomic import append_line
from hpcseq.errors import HpcseqError
from hpcseq.runlog import get_logger
from hpcseq.shuffle import mix64

REQUEUE_EXIT_CODE = 75   # EX_TEMPFAIL: checkpointed before the time limit, continue in a new job
TERMINATED_EXIT_CODE = 143  # 128 + SIGTERM


class TrainingInterrupted(HpcseqError):
    """Training stopped on a signal after writing a checkpoint; a rerun continues from it."""

    def __init__(self, signal_number: int, checkpoint: str | None):
        self.exit_code = REQUEUE_EXIT_CODE if signal_number == signal.SIGUSR1 else TERMINATED_EXIT_CODE
        name = signal.Signals(signal_number).name
        super().__init__(f"stopped on {name} after writing checkpoint {checkpoint}; run again to continue "
                         f"(exit code {self.exit_code})")


class Interruptions:
    """Records SIGUSR1/SIGTERM; the training loop acts on it between steps."""

    def __init__(self):
        self.signal_number = 0

    def install(self) -> None:
        for signal_number in (signal.SIGUSR1, signal.SIGTERM):
            signal.signal(signal_number, self._handle)
        if os.environ.get("HPCSEQ_TIME_LIMIT_WARNING") == "1" and not self.signal_number:
            # the job script got Slurm's warning before training started: checkpoint after the first steps
            get_logger().warning("the time-limit warning arrived before training started")
            self.signal_number = signal.SIGUSR1

    def _handle(self, signal_number, frame) -> None:
        if not self.signal_number:
            get_logger().warning("received %s: will checkpoint after the current step and stop",
                                 signal.Signals(signal_number).name)
        self.signal_number = signal_number


# One per process: the command line installs it before TensorFlow is even imported, so a signal
# that arrives while the job is still starting is not lost (SIGUSR1 would otherwise kill it).
INTERRUPTIONS = Interruptions()


# ----------------------------------------------------------------------------- random generators

def random_generators(model) -> list:
    """(name, tf.random.Generator) of every layer or recurrent cell that draws random numbers.

    With tf.keras.backend.experimental.enable_tf_random_generator(), dropout uses
    tf.random.Generator objects, which Keras creates lazily and which are not part of
    model.variables; they are created here so that they can be seeded per rank and saved in
    checkpoints. Relies on Keras 2.15's RandomGenerator internals (_maybe_init, _generator).
    """
    modules = []
    for layer in model.layers:
        modules.append(layer)
        if getattr(layer, "cell", None) is not None:  # recurrent layers keep their dropout in the cell
            modules.append(layer.cell)
    found = {}
    for module in modules:
        generator = getattr(module, "_random_generator", None)
        if generator is None or not hasattr(generator, "_maybe_init"):
            continue
        generator._maybe_init()
        if getattr(generator, "_generator", None) is not None:
            found[module.name] = generator._generator
    return sorted(found.items())


def seed_random_generators(generators: list, seed: int, rank: int) -> None:
    """Different dropout masks on every rank (they see different data), reproducible per rank."""
    for index, (_, generator) in enumerate(generators):
        generator.reset_from_seed(mix64(mix64(seed) + 7919 * rank + index) & ((1 << 63) - 1))


def random_generator_states(generators: list) -> dict:
    return {name: generator.state.numpy().tolist() for name, generator in generators}


def restore_random_generator_states(generators: list, states: dict) -> None:
    for name, generator in generators:
        generator.state.assign(states[name])


# ------------------------------------------------------------------------------ epoch metrics

def build_metrics(model, sample_batch) -> None:
    """Create the compiled loss and metric trackers before fit (Keras makes them lazily at the
    first step), so that a resumed epoch can start from the saved partial sums."""
    import tensorflow as tf

    inputs, targets = sample_batch
    predictions = model(inputs, training=False)  # no dropout: the generators do not advance
    model.compiled_loss.build(predictions)
    model.compiled_metrics.build(predictions, tf.convert_to_tensor(targets))


def metric_states(model) -> list:
    return [[float(v.numpy()) for v in metric.variables] for metric in model.metrics]


def restore_metric_states(model, states: list) -> None:
    for metric, values in zip(model.metrics, states):
        for variable, value in zip(metric.variables, values):
            variable.assign(value)


# ------------------------------------------------------------------------------------- the run

@dataclass
class RunState:
    """Shared by the callbacks of one training run."""

    tf: object
    ranks: object
    data: object
    store: object
    paths: object
    settings: dict
    generators: list
    history: list
    epochs: int
    started: float
    interruptions: Interruptions
    epoch: int = 0
    step_offset: int = 0                 # steps of the current epoch done before this fit call
    restore_metrics: list | None = None  # this rank's partial sums for the resumed epoch
    last_checkpoint: float = field(default_factory=time.time)
    last_checkpoint_path: str | None = None
    stop_after_epoch: int = 0            # a signal that arrived at an epoch's last step

    @property
    def training(self) -> dict:
        return self.settings["training"]

    def write_checkpoint(self, model, epochs_completed: int, step_in_epoch: int) -> None:
        """A collective: every rank must call it at the same step (rank 0 writes)."""
        gathered = self.ranks.collectives.allgather_object(
            {"random_generators": random_generator_states(self.generators), "metrics": metric_states(model)})
        self.last_checkpoint = time.time()
        if not self.ranks.is_root:
            return
        steps = self.data.steps_per_epoch
        path = self.store.save(model, model.optimizer, {
            "experiment": self.settings["name"], "epochs_completed": epochs_completed,
            "step_in_epoch": step_in_epoch, "global_step": epochs_completed * steps + step_in_epoch,
            "steps_per_epoch": steps, "ranks": self.ranks.size, "history": self.history,
            "elapsed_seconds": round(time.time() - self.started, 3),
            "random_generators": [g["random_generators"] for g in gathered],
            "metric_states": [g["metrics"] for g in gathered] if step_in_epoch else None})
        self.last_checkpoint_path = str(path)


def make_callbacks(run: RunState) -> list:
    tf = run.tf
    log = get_logger()
    samples_per_step = run.data.batch_size * run.ranks.size

    class EpochRecorder(tf.keras.callbacks.Callback):
        """Metrics line, console line and epoch-end checkpoint (rank 0 writes)."""

        def on_epoch_begin(self, epoch, logs=None):
            run.epoch = epoch
            self.epoch_started = time.perf_counter()
            self.validation_started = None
            if run.restore_metrics is not None:  # Keras reset them just before: put back the partial sums
                restore_metric_states(self.model, run.restore_metrics)
                run.restore_metrics = None

        def on_test_begin(self, logs=None):
            self.validation_started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            now = time.perf_counter()
            train_seconds = (self.validation_started or now) - self.epoch_started
            steps_run = run.data.steps_per_epoch - run.step_offset
            record = {"epoch": epoch + 1, "epochs": run.epochs}
            record.update({key: float(value) for key, value in (logs or {}).items()})
            record.update({
                "learning_rate": float(tf.keras.backend.get_value(self.model.optimizer.learning_rate)),
                "steps": run.data.steps_per_epoch, "samples": run.data.steps_per_epoch * samples_per_step,
                "ranks": run.ranks.size,
                "samples_per_second": steps_run * samples_per_step / train_seconds if train_seconds > 0 else None,
                "train_seconds": round(train_seconds, 3),
                "validation_seconds": round(now - (self.validation_started or now), 3),
                "epoch_seconds": round(now - self.epoch_started, 3),
                "elapsed_seconds": round(time.time() - run.started, 3),
                "resumed_at_step": run.step_offset or None,
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            })
            run.history.append(record)
            run.step_offset = 0
            if run.ranks.is_root:
                append_line(run.paths.metrics, json.dumps(record))
                metrics_text = " ".join(f"{k} {v:.4f}" for k, v in (logs or {}).items())
                log.info("epoch %d/%d %s | %.0f samples/s | %.1f s", epoch + 1, run.epochs, metrics_text,
                         record["samples_per_second"] or 0, record["epoch_seconds"])
            done = epoch + 1
            if done % run.training["checkpoint_every_epochs"] == 0 or done == run.epochs or run.stop_after_epoch:
                run.write_checkpoint(self.model, done, 0)
            if run.stop_after_epoch:
                raise TrainingInterrupted(run.stop_after_epoch, run.last_checkpoint_path)

    class StepGuard(tf.keras.callbacks.Callback):
        """After each execution of steps: agree on stopping (signal) or a time-based checkpoint."""

        def on_train_batch_end(self, batch, logs=None):
            minutes = run.training.get("checkpoint_every_minutes")
            time_due = int(bool(minutes) and run.ranks.is_root and time.time() - run.last_checkpoint >= minutes * 60)
            flags = [run.interruptions.signal_number, time_due]
            if run.ranks.size > 1:
                # one tiny allreduce: whatever one rank knows (a signal, rank 0's clock), all ranks act on
                agreed = run.ranks.collectives.allreduce(tf.constant(flags, tf.int32), op=run.ranks.collectives.Max,
                                                         name="hpcseq_step_guard")
                flags = [int(v) for v in agreed.numpy()]
            signal_number, time_due = flags
            if not (signal_number or time_due):
                return
            within = run.step_offset + batch + 1
            if within >= run.data.steps_per_epoch:
                # the epoch's last step: validation and the epoch checkpoint follow, then stop
                run.stop_after_epoch = signal_number
                return
            run.write_checkpoint(self.model, run.epoch, within)
            if run.ranks.is_root:
                log.info("checkpoint inside epoch %d at step %d of %d (%s)", run.epoch + 1, within,
                         run.data.steps_per_epoch, "signal" if signal_number else "time")
            if signal_number:
                raise TrainingInterrupted(signal_number, run.last_checkpoint_path
                                          or f"{run.paths.checkpoints} (epoch {run.epoch + 1}, step {within})")

    return [EpochRecorder(), StepGuard()]
