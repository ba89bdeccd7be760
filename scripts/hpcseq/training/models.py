"""One builder for every named model: a task's input and output around a recurrent stack.

A named model (config `models:`) is a task and an architecture: an embedding (one-hot or learned),
optional spatial dropout, layers (recurrent: simple_rnn, gru, lstm, bidirectional or not, each
optionally followed by a Dropout layer, every one but the last returning its sequence, in a
per-step task the last too; or, for forecasting, conv1d / max_pooling1d), a head that reads the
whole sequence in place of a last recurrent state (`pooling`: average, GlobalAveragePooling1D,
TensorFlow in Practice's headline classifier; flatten, the forecasting material's dense model);
then optional Dense layers and dropout before the task's output layer. The lecture's two models
are two such descriptions and build exactly the layers (names, initialisers, order) of the
lecture code, as the course's poetry model (poetry_bilstm) builds the layers of its notebook;
sentiment_lstm's LSTM is unrolled besides (`unroll`: the same arithmetic without the time loop,
faster on a CPU, and its dropout masks drawn once per sequence, as Keras documents, where
tf_keras' time loop draws new ones at every step).
Forecasting models (sequence_regression) read a window of numbers, no embedding.
"""

from __future__ import annotations

import json
import zipfile

import tensorflow as tf

from hpcseq.config import PER_STEP_TASKS
from hpcseq.errors import CheckpointError
from hpcseq.stack import keras_in_use

# What each task feeds the model and reads from it: the input's name and the hyperparameter of its
# length, and the output layer (units: None for one per vocabulary entry).
TASK_INPUTS = {
    "next_character": {"name": "char_ids", "length": "sequence_length"},
    "sequence_classification": {"name": "word_ids", "length": "sentence_length"},
    "next_word": {"name": "word_ids", "length": "sequence_length"},
    "next_character_sequence": {"name": "char_ids", "length": "sequence_length"},
    "sequence_regression": {"name": "window", "length": "sequence_length"},
}
TASK_OUTPUTS = {
    "next_character": {"name": "next_char", "units": None, "activation": "softmax"},
    "sequence_classification": {"name": "positive", "units": 1, "activation": "sigmoid"},
    "next_word": {"name": "next_word", "units": None, "activation": "softmax"},
    "next_character_sequence": {"name": "next_chars", "units": None, "activation": "softmax"},  # at every step
    "sequence_regression": {"name": "forecast", "units": 1, "activation": None},
}
# the course's categorical cross-entropy on one-hot labels, computed from the label's id; the
# forecasting material's mse (and mae metric) on the normalised target
LOSSES = {
    "next_character": "sparse_categorical_crossentropy",
    "sequence_classification": "binary_crossentropy",
    "next_word": "sparse_categorical_crossentropy",
    "next_character_sequence": "sparse_categorical_crossentropy",  # the tutorial's, from probabilities
    "sequence_regression": "mse",
}
METRICS = {
    "next_character": ["sparse_categorical_accuracy"],
    "sequence_classification": ["accuracy"],
    "next_word": ["sparse_categorical_accuracy"],
    "next_character_sequence": ["sparse_categorical_accuracy"],
    "sequence_regression": ["mae"],
}
CELLS = {"simple_rnn": tf.keras.layers.SimpleRNN, "gru": tf.keras.layers.GRU, "lstm": tf.keras.layers.LSTM}


def build_model(
    name: str, task: str, architecture: dict, vocabulary_size: int, hyperparameters: dict
) -> tf.keras.Model:
    """The named model `name` (its `task` and `architecture`, config.ARCHITECTURE_KEYS) for a
    vocabulary of `vocabulary_size` ids; `hyperparameters` give the input length."""
    given = TASK_INPUTS[task]
    length = hyperparameters[given["length"]]
    if architecture.get("embedding") is None:  # numbers: `vocabulary_size` features per time step
        inputs = tf.keras.Input(shape=(length, vocabulary_size), dtype=tf.float32, name=given["name"])
        hidden = inputs
    else:
        inputs = tf.keras.Input(shape=(length,), dtype=tf.int32, name=given["name"])
        hidden = _embedding(architecture["embedding"], vocabulary_size)(inputs)
    if architecture.get("spatial_dropout", 0) > 0:
        hidden = tf.keras.layers.SpatialDropout1D(architecture["spatial_dropout"], name="spatial_dropout")(hidden)
    layers = architecture.get("layers", [])
    recurrent = [index for index, layer in enumerate(layers) if layer["cell"] in CELLS] or [None]
    for index, layer in enumerate(layers):
        layer_name = _layer_name(layer, index, len(layers))
        if layer["cell"] not in CELLS:  # conv1d, max_pooling1d (config.model_head_errors)
            hidden = _convolution_layer(layer, layer_name)(hidden)
            continue
        # a per-step task reads every step's state: its last recurrent layer returns its sequence too
        last = index == recurrent[-1] and task not in PER_STEP_TASKS
        hidden = _recurrent(layer, layer_name, last=last)(hidden)
        if layer.get("dropout_after", 0) > 0:
            hidden = tf.keras.layers.Dropout(layer["dropout_after"], name=f"dropout_after_{layer_name}")(hidden)
    # in place of a last recurrent state: the whole sequence (config.model_head_errors)
    if architecture.get("pooling") == "average":
        hidden = tf.keras.layers.GlobalAveragePooling1D(name="global_average_pooling")(hidden)
    elif architecture.get("pooling") == "flatten":
        hidden = tf.keras.layers.Flatten(name="flatten")(hidden)
    dense = architecture.get("dense", [])
    for index, layer in enumerate(dense):
        hidden = tf.keras.layers.Dense(
            dense_units(layer["units"], vocabulary_size),
            activation=layer.get("activation", "relu"),
            kernel_regularizer=tf.keras.regularizers.l2(layer["l2"]) if layer.get("l2", 0) > 0 else None,
            name=f"dense_{index + 1}" if len(dense) > 1 else "dense",  # Keras' names
        )(hidden)
    if architecture.get("output_dropout", 0) > 0:
        hidden = tf.keras.layers.Dropout(architecture["output_dropout"], name="dropout")(hidden)
    output = TASK_OUTPUTS[task]
    units = output["units"] or vocabulary_size
    outputs = tf.keras.layers.Dense(units, activation=output["activation"], name=output["name"])(hidden)
    return tf.keras.Model(inputs, outputs, name=name)


def dense_units(units, vocabulary_size: int) -> int:
    """A dense layer's units: a number, or vocabulary/N (the course's total_words/2)."""
    if isinstance(units, str):
        return max(1, vocabulary_size // int(units.split("/")[1]))
    return int(units)


@tf.keras.utils.register_keras_serializable(package="hpcseq")
class OneHot(tf.keras.layers.Layer):
    """Ids -> one-hot float vectors (the lecture's one-hot input, computed from the ids inside the
    model): the same vectors a frozen identity embedding looks up, for less work per step (no
    weight to read and no gather; `make benchmark` measured about 6% of a char-RNN step) and no
    vocabulary-sized matrix among the weights."""

    def __init__(self, depth: int, **kwargs):
        super().__init__(**kwargs)
        self.depth = int(depth)

    def call(self, ids):
        return tf.one_hot(ids, self.depth, dtype=self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "depth": self.depth}


def _embedding(embedding, vocabulary_size: int) -> tf.keras.layers.Layer:
    """one_hot: each id as its one-hot vector (OneHot), so the input pipeline carries one id per
    character instead of a vocabulary-sized vector; the computation is the lecture's one-hot
    input. A number: a learned embedding of that size."""
    if embedding == "one_hot":
        return OneHot(vocabulary_size, name="one_hot")
    return tf.keras.layers.Embedding(vocabulary_size, embedding, name="embedding")


def _layer_name(layer: dict, index: int, count: int) -> str:
    """simple_rnn, lstm (the lecture's names), bidirectional_lstm; numbered from 1 when stacked."""
    name = f"bidirectional_{layer['cell']}" if layer.get("bidirectional") else layer["cell"]
    return f"{name}_{index + 1}" if count > 1 else name


def _convolution_layer(layer: dict, name: str) -> tf.keras.layers.Layer:
    """The forecasting material's convolutional layers (no recurrence); a pooling head follows."""
    if layer["cell"] == "conv1d":
        return tf.keras.layers.Conv1D(
            layer["units"], layer["kernel_size"], activation=layer.get("activation", "relu"), name=name
        )
    return tf.keras.layers.MaxPooling1D(layer["pool_size"], name=name)


def _recurrent(layer: dict, name: str, last: bool) -> tf.keras.layers.Layer:
    """One recurrent layer; all but the last return their sequence for the next one."""
    cell = CELLS[layer["cell"]]
    options = {
        "return_sequences": not last,
        "unroll": layer.get("unroll", False),
        "dropout": layer.get("dropout", 0),
        "recurrent_dropout": layer.get("recurrent_dropout", 0),
    }
    if not layer.get("bidirectional", False):
        return cell(layer["units"], name=name, **options)
    return tf.keras.layers.Bidirectional(cell(layer["units"], name=layer["cell"], **options), name=name)


def fused_kernel_report(model: tf.keras.Model) -> list[dict]:
    """For each recurrent layer: would TensorFlow run it with cuDNN's fused kernel on a GPU, and
    why not. From the layer's own properties, TensorFlow 2.15's conditions (keras.layers.LSTM and
    GRU documentation): activation tanh, recurrent_activation sigmoid, recurrent_dropout 0,
    unroll False, use_bias True, and reset_after True for a GRU; SimpleRNN has no such kernel.
    (Masked inputs must also be right-padded: hpcseq passes no mask.) Checked without a GPU."""
    report = []
    for layer in model.layers:
        recurrent = layer.forward_layer if isinstance(layer, tf.keras.layers.Bidirectional) else layer
        if not isinstance(recurrent, tf.keras.layers.RNN):
            continue
        why_not = _why_not_fused(recurrent)
        report.append(
            {
                "layer": layer.name,
                "cell": type(recurrent).__name__,
                "fused_cudnn_kernel": not why_not,
                "why_not": why_not,
            }
        )
    return report


def _why_not_fused(layer: tf.keras.layers.RNN) -> list[str]:
    if not isinstance(layer, (tf.keras.layers.LSTM, tf.keras.layers.GRU)):
        return [f"{type(layer).__name__} has no cuDNN kernel (only LSTM and GRU have)"]
    reasons = []
    if tf.keras.activations.serialize(layer.activation) != "tanh":
        reasons.append(f"activation {tf.keras.activations.serialize(layer.activation)} (needs tanh)")
    if tf.keras.activations.serialize(layer.recurrent_activation) != "sigmoid":
        reasons.append(
            f"recurrent_activation {tf.keras.activations.serialize(layer.recurrent_activation)} (needs sigmoid)"
        )
    if layer.recurrent_dropout:
        reasons.append(f"recurrent_dropout {layer.recurrent_dropout:g} (needs 0)")
    if layer.unroll:
        reasons.append("unroll True (needs False)")
    if not layer.use_bias:
        reasons.append("use_bias False (needs True)")
    if isinstance(layer, tf.keras.layers.GRU) and not layer.reset_after:
        reasons.append("reset_after False (needs True)")
    return reasons


@tf.keras.utils.register_keras_serializable(package="hpcseq")
class WarmupSchedule(tf.keras.optimizers.schedules.LearningRateSchedule):
    """Linear ramp from `start` to `target` over `warmup_steps`, then constant `target`.

    Horovod's linear scaling rule multiplies the learning rate by the number of ranks; a large
    rate from step 0 can diverge, so it ramps up from the single-rank rate (as Horovod's
    LearningRateWarmupCallback does). As a schedule of the optimizer's step counter it is part of
    the checkpointed state and resumes exactly. Registered as serializable because Horovod's
    DistributedOptimizer rebuilds the optimizer from its config.
    """

    def __init__(self, start: float, target: float, warmup_steps: int):
        self.start = float(start)
        self.target = float(target)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        if self.warmup_steps <= 0:
            return tf.constant(self.target, tf.float32)
        fraction = tf.minimum(tf.cast(step, tf.float32) / float(self.warmup_steps), 1.0)
        return self.start + (self.target - self.start) * fraction

    def get_config(self):
        return {"start": self.start, "target": self.target, "warmup_steps": self.warmup_steps}


def make_optimizer(name: str, learning_rate) -> tf.keras.optimizers.Optimizer:
    optimizers = {
        "rmsprop": tf.keras.optimizers.RMSprop,
        "adam": tf.keras.optimizers.Adam,
        "sgd": tf.keras.optimizers.SGD,
    }
    return optimizers[name](learning_rate=learning_rate)


def load_model(path) -> tf.keras.Model:
    """Load a trained model for inference (no optimizer state needed). A file this Keras cannot read
    (another Keras wrote it: Keras 3, say, or a newer tf_keras) is refused with the Keras that wrote
    it and what to do; files of hpcseq's earlier stack (TensorFlow 2.15, Keras 2.15) load
    (tests/training/test_old_stack.py)."""
    try:
        return tf.keras.models.load_model(path, compile=False)
    except Exception as error:  # Keras raises anything from ValueError to TypeError here
        written_by = keras_version_of(path)
        raise CheckpointError(
            f"{path} cannot be loaded with {keras_in_use(tf)['package']} {keras_in_use(tf)['version']}: "
            f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''} (it was written by Keras "
            f"{written_by or 'of an unknown version'}). Train it again with this stack (`snakemake --forcerun "
            "train ...`), or load it with the stack that wrote it."
        ) from error


def keras_version_of(path) -> str | None:
    """The Keras version a `.keras` file records (its metadata.json), or None."""
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("metadata.json")).get("keras_version")
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None


def stateful_copy(model: tf.keras.Model, batch_size: int) -> tf.keras.Model:
    """`model`'s layers and weights rebuilt as the text-generation tutorial generates with them: a
    fixed batch of `batch_size` rows, inputs of any length, recurrent layers stateful (each call
    starts from the state the last one left; zero at first). Dropout is off at inference anyway."""
    config = model.get_config()
    for layer in config["layers"]:
        layer.pop("build_config", None)  # built for the trained model's input shape: built anew
        if layer["class_name"] == "InputLayer":
            layer["config"]["batch_input_shape"] = [batch_size, None, *layer["config"]["batch_input_shape"][2:]]
        elif layer["class_name"] in ("SimpleRNN", "GRU", "LSTM"):
            layer["config"]["stateful"] = True
    copy = tf.keras.Model.from_config(config)
    copy.set_weights(model.get_weights())
    return copy


def zero_state_rows(model: tf.keras.Model, rows: list[int]) -> None:
    """Back to the zero state for batch `rows` of every stateful recurrent layer of `model`, as
    though those rows had read nothing yet."""
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.RNN) and layer.stateful and rows:
            for state in layer.states:
                values = state.numpy()
                values[rows] = 0
                state.assign(values)
