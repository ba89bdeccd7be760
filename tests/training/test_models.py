"""The named models (config `models:`): one builder for all, the lecture's two exactly as the
lecture builds them, cuDNN's fused kernel judged from each layer's properties, and each new model
trained tiny on 2 Horovod ranks and evaluated next to its task's baseline."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
import tensorflow as tf

from hpcseq import config as config_module
from hpcseq.evaluation.evaluate import evaluate
from hpcseq.training.models import build_model, fused_kernel_report
from tests.training.conftest import prepare, tiny_settings
from tests.training.test_train import HOROVODRUN, run_stage, summary_of

INPUT_LENGTH = {
    "next_character": {"sequence_length": 10},
    "sequence_classification": {"sentence_length": 40},
    "next_word": {"sequence_length": 10},
    "next_character_sequence": {"sequence_length": 10},
    "sequence_regression": {"sequence_length": 120},
}


@functools.cache
def named(name: str, vocabulary_size: int = 30) -> tf.keras.Model:
    """The built-in named model `name` as training builds it (built once: the tests only read it)."""
    model = config_module.filled_named_models()[name]
    architecture = {key: model[key] for key in config_module.ARCHITECTURE_KEYS}
    return build_model(name, model["task"], architecture, vocabulary_size, INPUT_LENGTH[model["task"]])


def lecture_char_rnn(vocabulary_size: int) -> tf.keras.Model:
    """The lecture's char-RNN as hpcseq built it before named models (one-hot as a frozen identity embedding)."""
    inputs = tf.keras.Input(shape=(10,), dtype=tf.int32, name="char_ids")
    one_hot = tf.keras.layers.Embedding(
        vocabulary_size, vocabulary_size, embeddings_initializer="identity", trainable=False, name="one_hot"
    )(inputs)
    hidden = tf.keras.layers.SimpleRNN(128, return_sequences=False, unroll=True, name="simple_rnn")(one_hot)
    return tf.keras.Model(
        inputs, tf.keras.layers.Dense(vocabulary_size, activation="softmax", name="next_char")(hidden)
    )


def lecture_sentiment_lstm(vocabulary_size: int) -> tf.keras.Model:
    inputs = tf.keras.Input(shape=(40,), dtype=tf.int32, name="word_ids")
    embedded = tf.keras.layers.Embedding(vocabulary_size, 128, name="embedding")(inputs)
    embedded = tf.keras.layers.SpatialDropout1D(0.2, name="spatial_dropout")(embedded)
    hidden = tf.keras.layers.LSTM(64, dropout=0.2, recurrent_dropout=0.2, name="lstm")(embedded)
    return tf.keras.Model(inputs, tf.keras.layers.Dense(1, activation="sigmoid", name="positive")(hidden))


@pytest.mark.parametrize(
    ("name", "lecture"), [("char_rnn", lecture_char_rnn), ("sentiment_lstm", lecture_sentiment_lstm)]
)
def test_the_lecture_models_are_the_lecture_layers_with_the_same_initial_weights(name, lecture):
    tf.keras.utils.set_random_seed(42)
    expected = lecture(30)
    tf.keras.utils.set_random_seed(42)
    built = named.__wrapped__(name)  # a fresh build: its initial weights are compared
    assert [(layer.name, layer.get_config()) for layer in built.layers] == [
        (layer.name, layer.get_config()) for layer in expected.layers
    ]
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(built.weights, expected.weights, strict=True))


def course_poetry_model(total_words: int, input_length: int) -> tf.keras.Model:
    """The poetry model of "TensorFlow in Practice", as its notebook builds it (Sequential)."""
    model = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(input_length,), dtype=tf.int32),
            tf.keras.layers.Embedding(total_words, 100),
            tf.keras.layers.Bidirectional(tf.keras.layers.LSTM(150, return_sequences=True)),
            tf.keras.layers.Dropout(0.2),
            tf.keras.layers.LSTM(100),
            tf.keras.layers.Dense(
                total_words / 2, activation="relu", kernel_regularizer=tf.keras.regularizers.l2(0.01)
            ),
            tf.keras.layers.Dense(total_words, activation="softmax"),
        ]
    )
    return model


def tutorial_gru_model(vocabulary_size: int, input_length: int) -> tf.keras.Model:
    """TensorFlow's "Text generation with an RNN" model (its logits made probabilities)."""
    inputs = tf.keras.Input(shape=(input_length,), dtype=tf.int32)
    hidden = tf.keras.layers.Embedding(vocabulary_size, 256)(inputs)
    hidden = tf.keras.layers.GRU(1024, return_sequences=True)(hidden)
    return tf.keras.Model(inputs, tf.keras.layers.Dense(vocabulary_size, activation="softmax")(hidden))


def layer_shapes(model: tf.keras.Model) -> list[tuple]:
    """(kind, output shape, parameters) of every layer but the input."""
    return [
        (type(layer).__name__, layer.output_shape, layer.count_params())
        for layer in model.layers
        if not isinstance(layer, tf.keras.layers.InputLayer)
    ]


def test_the_course_poetry_and_tutorial_models_are_their_notebooks_layers():
    model = config_module.filled_named_models()["poetry_bilstm"]
    architecture = {key: model[key] for key in config_module.ARCHITECTURE_KEYS}
    built = build_model("poetry_bilstm", "next_word", architecture, 3211, {"sequence_length": 10})
    assert layer_shapes(built) == layer_shapes(course_poetry_model(3211, 10))
    assert built.get_layer("dense").kernel_regularizer.get_config() == {"l2": pytest.approx(0.01)}
    assert built.get_layer("dropout_after_bidirectional_lstm_1").rate == 0.2
    model = config_module.filled_named_models()["tutorial_char_gru"]
    architecture = {key: model[key] for key in config_module.ARCHITECTURE_KEYS}
    built = build_model("tutorial_char_gru", "next_character_sequence", architecture, 65, {"sequence_length": 100})
    assert layer_shapes(built) == layer_shapes(tutorial_gru_model(65, 100))


def test_every_named_model_builds_and_stacked_layers_pass_their_sequences_on():
    for name in config_module.named_models():
        model = named(name)
        assert model.name == name
        assert model.output_shape[-1] in (1, 30)
    stacked = named("sentiment_stacked_bilstm")
    first, second = stacked.get_layer("bidirectional_lstm_1"), stacked.get_layer("bidirectional_lstm_2")
    assert first.return_sequences and not second.return_sequences
    assert first.output_shape == (None, 40, 128) and second.output_shape == (None, 64)  # both directions
    # the headline classifier pools instead of a recurrent layer; the IMDB BiLSTM drops out before its output
    pooling = named("headline_pooling")
    assert [layer.name for layer in pooling.layers] == [
        "word_ids",
        "embedding",
        "global_average_pooling",
        "dense",
        "positive",
    ]
    assert pooling.get_layer("global_average_pooling").output_shape == (None, 16) and fused_kernel_report(pooling) == []
    review = named("review_bilstm")
    assert [layer.name for layer in review.layers][2:] == ["bidirectional_lstm", "dropout", "positive"]
    assert review.get_layer("dropout").rate == 0.5 and review.get_layer("bidirectional_lstm").output_shape == (None, 64)


def test_fused_cudnn_kernel_from_the_layers_own_properties():
    [lstm] = fused_kernel_report(named("sentiment_lstm"))
    assert not lstm["fused_cudnn_kernel"] and lstm["why_not"] == ["recurrent_dropout 0.2 (needs 0)"]
    [bilstm] = fused_kernel_report(named("sentiment_bilstm"))
    assert bilstm == {"layer": "bidirectional_lstm", "cell": "LSTM", "fused_cudnn_kernel": True, "why_not": []}
    [rnn] = fused_kernel_report(named("char_rnn"))
    assert not rnn["fused_cudnn_kernel"] and "SimpleRNN has no cuDNN kernel" in rnn["why_not"][0]
    # TensorFlow's own verdict agrees where it keeps one (Keras 2.15: _could_use_gpu_kernel)
    assert named("sentiment_bilstm").get_layer("bidirectional_lstm").forward_layer._could_use_gpu_kernel
    assert not named("sentiment_lstm").get_layer("lstm")._could_use_gpu_kernel
    inputs = tf.keras.Input(shape=(5, 3))
    gru = tf.keras.layers.GRU(4, reset_after=False, activation="relu", unroll=True)
    [report] = fused_kernel_report(tf.keras.Model(inputs, gru(inputs)))
    assert report["why_not"] == [
        "activation relu (needs tanh)",
        "unroll True (needs False)",
        "reset_after False (needs True)",
    ]


@pytest.mark.parametrize(
    ("experiment", "model", "dataset"),
    [
        # sentiment_bilstm is the stacked model's first layer alone: the stacked one trains for both
        ("senti", "sentiment_stacked_bilstm", "umich"),
        ("char", "char_gru", "macbeth"),
    ],
)
def test_each_new_model_trains_on_two_ranks_and_is_evaluated_next_to_its_baseline(tmp_path, experiment, model, dataset):
    training = {"epochs": 1, "max_steps_per_epoch": 4, "steps_per_execution": 2}
    preprocess = {"max_lines": 800} if experiment == "senti" else {}
    settings = tiny_settings(
        experiment, model=model, dataset=dataset, ranks=2, training=training, preprocess=preprocess
    )
    paths = prepare(settings, tmp_path / "results")
    horovodrun = [HOROVODRUN, "-np", "2", "-H", "localhost:2", "--gloo"]
    result = run_stage("train", settings, paths.results_dir, launcher=horovodrun)
    summary = summary_of(paths)
    assert summary["model"] == model and summary["ranks"] == 2
    assert all(layer["fused_cudnn_kernel"] for layer in summary["cudnn_kernels"])  # none of them loses it
    assert "cuDNN fused kernel on a GPU, layer" in result.stdout + result.stderr
    evaluate(settings, paths)  # in this process: one TensorFlow start less than `hpcseq evaluate`
    metrics = json.loads(paths.eval_metrics.read_text())
    assert (metrics["model"], metrics["task"]) == (model, settings["task"])
    if settings["task"] == "next_character":
        assert metrics["model_metrics"]["loss"] > 0 and metrics["unigram_baseline"]["loss"] > 0
    else:
        assert 0 <= metrics["model_metrics"]["accuracy"] <= 1
        assert 0 <= metrics["majority_baseline"]["accuracy"] <= 1
