"""What a training run needs to stop anywhere and continue exactly: the state that makes a resumed
run equal an uninterrupted one.

A checkpoint holds, besides weights and optimizer state (tf.train.Checkpoint), in state.json:
the position in the data order (epochs completed, step inside the epoch: a batch is a pure
function of its global step, see inputs.py), every rank's dropout-generator state and partial
epoch metric accumulators (so that the resumed epoch reports the same training loss), the
metrics history, and the fingerprint of the settings (checkpoints.py refuses foreign ones).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from hpcseq.training.shuffle import mix64
from hpcseq.training.signals import Interruptions

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
    for metric, values in zip(model.metrics, states, strict=True):
        for variable, value in zip(metric.variables, values, strict=True):
            variable.assign(value)


def pooled_metric_states(states_by_rank: list, size: int) -> list:
    """The partial epoch sums that other ranks wrote ([rank][metric][variable]), spread evenly over
    `size` ranks: every rank starts from 1/size of each sum.

    The metrics here keep sums (Keras' Mean and MeanMetricWrapper: total and count), and Horovod's
    MetricAverageCallback averages the ranks' means at the epoch's end. Every rank has the same
    number of items still to come, so the ranks' means share one denominator and their average is
    the exact mean over all of the epoch's items, before and after the resume."""
    return [
        [sum(values) / size for values in zip(*metric, strict=True)] for metric in zip(*states_by_rank, strict=True)
    ]


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
    step_offset: int = 0  # steps of the current epoch done before this fit call
    restore_metrics: list | None = None  # this rank's partial sums for the resumed epoch
    last_checkpoint: float = field(default_factory=time.time)
    last_checkpoint_path: str | None = None
    stop_after_epoch: int = 0  # a signal that arrived at an epoch's last step
    watchdog: object = None  # training/watchdog.py's Watchdog: the heartbeats carry the step
    geometry: dict = field(default_factory=dict)  # resume.geometry_of: ranks, batches, learning rate
    resumes: list = field(default_factory=list)  # resume.py's record of every resume of this training

    @property
    def training(self) -> dict:
        return self.settings["training"]

    def write_checkpoint(self, model, epochs_completed: int, step_in_epoch: int) -> None:
        """A collective: every rank must call it at the same step (rank 0 writes). Every rank returns
        once the checkpoint is complete, with its path: a rank that stops after it (a signal) exits
        only then, so a launcher that ends the job at a rank's exit (srun --kill-on-bad-exit, mpirun)
        cannot cut rank 0's writing short."""
        gathered = self.ranks.collectives.allgather_object(
            {"random_generators": random_generator_states(self.generators), "metrics": metric_states(model)}
        )
        self.last_checkpoint = time.time()
        path = self._save(model, epochs_completed, step_in_epoch, gathered) if self.ranks.is_root else None
        self.last_checkpoint_path = self.ranks.collectives.broadcast_object(
            path, root_rank=0, name="hpcseq_checkpoint_written"
        )

    def _save(self, model, epochs_completed: int, step_in_epoch: int, gathered: list) -> str:
        """Rank 0: the checkpoint, with every rank's generator and metric states; its path."""
        steps = self.data.steps_per_epoch
        path = self.store.save(
            model,
            model.optimizer,
            {
                "experiment": self.settings["name"],
                "epochs_completed": epochs_completed,
                "step_in_epoch": step_in_epoch,
                "global_step": epochs_completed * steps + step_in_epoch,
                "steps_per_epoch": steps,
                "ranks": self.ranks.size,
                "geometry": self.geometry,
                "resumes": self.resumes,
                "history": self.history,
                "elapsed_seconds": round(time.time() - self.started, 3),
                "random_generators": [g["random_generators"] for g in gathered],
                "metric_states": [g["metrics"] for g in gathered] if step_in_epoch else None,
            },
        )
        return str(path)
