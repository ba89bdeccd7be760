"""The Keras callbacks of a training run: the epoch record (metrics line, console line, epoch-end
checkpoint), the step guard (after each execution of steps, all ranks agree on stopping for a
signal or writing a time-based checkpoint), with several ranks the progress the heartbeats carry
(training/watchdog.py), and on rank 0 Keras' TensorBoard logs of the epoch metrics."""

from __future__ import annotations

import json
import time

from hpcseq.events import EPOCH_DONE, get_logger, metrics_text
from hpcseq.io import append_line
from hpcseq.training.run_state import RunState, restore_metric_states
from hpcseq.training.signals import TrainingInterrupted


def make_callbacks(run: RunState) -> list:
    """The epoch recorder, the step guard and the watchdog's progress of one run (Keras callback
    classes need TensorFlow)."""
    watching = run.watchdog is not None and run.watchdog.enabled
    return [
        _epoch_recorder(run),
        _step_guard(run),
        *([_progress(run)] if watching else []),
        *([_tensorboard(run)] if run.ranks.is_root else []),
    ]


KINDS = ("train", "validation")  # Keras' TensorBoard runs, one folder each


def _tensorboard(run: RunState):
    """Rank 0's TensorBoard logs of the epoch metrics (after Horovod's metric averaging: the global
    values) into model/tensorboard/ (paths.ExperimentPaths.tensorboard), as Keras' TensorBoard
    callback lays them out: train/ and validation/, tags epoch_<metric>, step = epoch - 1. Written
    here at each epoch's end because Keras' callback, even with epoch scalars only, hooks every
    execution of steps (about 4% of a char-RNN step, docs/developing/benchmark.md). A resumed run
    adds event files beside the earlier ones; its epochs continue the step axis."""
    tf = run.tf

    class EpochScalars(tf.keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            if not hasattr(self, "writers"):  # one pair of writers for the fit calls of a run
                self.writers = {
                    kind: tf.summary.create_file_writer(str(run.paths.tensorboard / kind)) for kind in KINDS
                }

        def on_epoch_end(self, epoch, logs=None):
            logs = dict(logs or {})
            logs.setdefault("learning_rate", float(tf.keras.backend.get_value(self.model.optimizer.learning_rate)))
            for kind, writer in self.writers.items():
                with writer.as_default(step=epoch):
                    for key, value in logs.items():
                        if key.startswith("val_") == (kind == "validation"):
                            tf.summary.scalar(f"epoch_{key.removeprefix('val_')}", float(value))
                writer.flush()

    return EpochScalars()


def epoch_record(run: RunState, epoch: int, logs: dict, learning_rate: float, timing: dict) -> dict:
    """One line of metrics.jsonl: the epoch's metrics (averaged over ranks), speed and times."""
    samples_per_step = run.data.batch_size * run.ranks.size
    steps_run = run.data.steps_per_epoch - run.step_offset
    train_seconds = timing["train_seconds"]
    first_seconds, first_steps = timing.get("first_execution_seconds"), timing.get("first_execution_steps", 0)
    steady_seconds = train_seconds - (first_seconds or 0)
    steady_steps = steps_run - first_steps
    return {
        "epoch": epoch + 1,
        "epochs": run.epochs,
        **{key: float(value) for key, value in logs.items()},
        "learning_rate": learning_rate,
        "steps": run.data.steps_per_epoch,
        "samples": run.data.steps_per_epoch * samples_per_step,
        "ranks": run.ranks.size,
        "samples_per_second": steps_run * samples_per_step / train_seconds if train_seconds > 0 else None,
        # the rate without the run's first execution of steps (tracing, the pipeline's start): what
        # every later epoch runs at; `make benchmark` compares it
        "steady_samples_per_second": steady_steps * samples_per_step / steady_seconds
        if steady_seconds > 0 and steady_steps > 0
        else None,
        "first_execution_seconds": None if first_seconds is None else round(first_seconds, 3),
        "train_seconds": round(train_seconds, 3),
        "validation_seconds": round(timing["validation_seconds"], 3),
        "epoch_seconds": round(timing["epoch_seconds"], 3),
        "elapsed_seconds": round(time.time() - run.started, 3),
        "resumed_at_step": run.step_offset or None,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _epoch_recorder(run: RunState):
    tf = run.tf

    class EpochRecorder(tf.keras.callbacks.Callback):
        """Metrics line, console line and epoch-end checkpoint (rank 0 writes)."""

        def on_train_begin(self, logs=None):
            self.first_execution = None  # (seconds, steps) of this fit call's first execution

        def on_train_batch_end(self, batch, logs=None):
            if self.first_execution is None:  # `batch`: the execution's last step (steps_per_execution)
                self.first_execution = (time.perf_counter() - self.epoch_started, batch + 1)
                self.first_execution_epoch = run.epoch

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
            validation_started = self.validation_started or now
            timing = {
                "train_seconds": validation_started - self.epoch_started,
                "validation_seconds": now - validation_started,
                "epoch_seconds": now - self.epoch_started,
            }
            if self.first_execution is not None and self.first_execution_epoch == epoch:
                timing["first_execution_seconds"], timing["first_execution_steps"] = self.first_execution
            rate = float(tf.keras.backend.get_value(self.model.optimizer.learning_rate))
            record = epoch_record(run, epoch, logs or {}, rate, timing)
            run.history.append(record)
            run.step_offset = 0
            if run.ranks.is_root:
                append_line(run.paths.metrics, json.dumps(record))
                get_logger().info(
                    EPOCH_DONE.text(
                        epoch=epoch + 1,
                        epochs=run.epochs,
                        metrics=metrics_text(logs or {}),
                        samples_per_second=record["samples_per_second"] or 0,
                        seconds=record["epoch_seconds"],
                    )
                )
            done = epoch + 1
            if done % run.training["checkpoint_every_epochs"] == 0 or done == run.epochs or run.stop_after_epoch:
                run.write_checkpoint(self.model, done, 0)
            if run.stop_after_epoch:
                raise TrainingInterrupted(run.stop_after_epoch, run.last_checkpoint_path)

    return EpochRecorder()


def _agreed_flags(run: RunState) -> tuple[int, int]:
    """(signal number, time-based checkpoint due) as any rank knows them, agreed by all ranks."""
    tf = run.tf
    minutes = run.training.get("checkpoint_every_minutes")
    time_due = int(bool(minutes) and run.ranks.is_root and time.time() - run.last_checkpoint >= minutes * 60)
    flags = [run.interruptions.signal_number, time_due]
    if run.ranks.size > 1:
        # one tiny allreduce: whatever one rank knows (a signal, rank 0's clock), all ranks act on
        agreed = run.ranks.collectives.allreduce(
            tf.constant(flags, tf.int32), op=run.ranks.collectives.Max, name="hpcseq_step_guard"
        )
        flags = [int(v) for v in agreed.numpy()]
    return flags[0], flags[1]


def _progress(run: RunState):
    tf = run.tf

    class Progress(tf.keras.callbacks.Callback):
        """The global step after each execution of steps, for the heartbeats (no I/O)."""

        def on_train_batch_end(self, batch, logs=None):
            run.watchdog.progress(run.epoch * run.data.steps_per_epoch + run.step_offset + batch + 1)

    return Progress()


def _step_guard(run: RunState):
    tf = run.tf

    class StepGuard(tf.keras.callbacks.Callback):
        """After each execution of steps: agree on stopping (signal) or a time-based checkpoint."""

        def on_train_batch_end(self, batch, logs=None):
            signal_number, time_due = _agreed_flags(run)
            if not (signal_number or time_due):
                return
            within = run.step_offset + batch + 1
            if within >= run.data.steps_per_epoch:
                # the epoch's last step: validation and the epoch checkpoint follow, then stop
                run.stop_after_epoch = signal_number
                return
            run.write_checkpoint(self.model, run.epoch, within)
            if run.ranks.is_root:
                get_logger().info(
                    "checkpoint inside epoch %d at step %d of %d (%s)",
                    run.epoch + 1,
                    within,
                    run.data.steps_per_epoch,
                    "signal" if signal_number else "time",
                )
            if signal_number:
                raise TrainingInterrupted(
                    signal_number,
                    run.last_checkpoint_path or f"{run.paths.checkpoints} (epoch {run.epoch + 1}, step {within})",
                )

    return StepGuard()
