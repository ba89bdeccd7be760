"""Model builders, one per model name; hyperparameters come from the experiment's config."""

from __future__ import annotations

import tensorflow as tf


def build_char_rnn(vocabulary_size: int, hyperparameters: dict) -> tf.keras.Model:
    """The lecture's model: one-hot characters -> SimpleRNN(128, unrolled) -> Dense softmax.

    The one-hot encoding happens inside the model, through a frozen identity embedding (row i of
    the identity matrix is the one-hot vector of id i), so the input pipeline carries 1 byte per
    character instead of a vocabulary-sized bool vector; the computation is the lecture's.
    """
    length = hyperparameters["sequence_length"]
    inputs = tf.keras.Input(shape=(length,), dtype=tf.int32, name="char_ids")
    one_hot = tf.keras.layers.Embedding(
        vocabulary_size, vocabulary_size, embeddings_initializer="identity", trainable=False, name="one_hot"
    )(inputs)
    hidden = tf.keras.layers.SimpleRNN(
        hyperparameters["hidden_units"], return_sequences=False, unroll=hyperparameters["unroll"], name="simple_rnn"
    )(one_hot)
    outputs = tf.keras.layers.Dense(vocabulary_size, activation="softmax", name="next_char")(hidden)
    return tf.keras.Model(inputs, outputs, name="char_rnn")


def build_sentiment_lstm(vocabulary_size: int, hyperparameters: dict) -> tf.keras.Model:
    """The lecture's model: Embedding(128) -> SpatialDropout1D(0.2) -> LSTM(64, dropout 0.2,
    recurrent dropout 0.2) -> Dense(1, sigmoid)."""
    length = hyperparameters["sentence_length"]
    inputs = tf.keras.Input(shape=(length,), dtype=tf.int32, name="word_ids")
    embedded = tf.keras.layers.Embedding(vocabulary_size, hyperparameters["embedding_dim"], name="embedding")(inputs)
    embedded = tf.keras.layers.SpatialDropout1D(hyperparameters["spatial_dropout"], name="spatial_dropout")(embedded)
    hidden = tf.keras.layers.LSTM(
        hyperparameters["lstm_units"],
        dropout=hyperparameters["dropout"],
        recurrent_dropout=hyperparameters["recurrent_dropout"],
        name="lstm",
    )(embedded)
    outputs = tf.keras.layers.Dense(1, activation="sigmoid", name="positive")(hidden)
    return tf.keras.Model(inputs, outputs, name="sentiment_lstm")


BUILDERS = {"char_rnn": build_char_rnn, "sentiment_lstm": build_sentiment_lstm}
LOSSES = {"char_rnn": "sparse_categorical_crossentropy", "sentiment_lstm": "binary_crossentropy"}
METRICS = {"char_rnn": ["sparse_categorical_accuracy"], "sentiment_lstm": ["accuracy"]}


def build_model(model_name: str, vocabulary_size: int, hyperparameters: dict) -> tf.keras.Model:
    return BUILDERS[model_name](vocabulary_size, hyperparameters)


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
    """Load a trained model for inference (no optimizer state needed)."""
    return tf.keras.models.load_model(path, compile=False)
