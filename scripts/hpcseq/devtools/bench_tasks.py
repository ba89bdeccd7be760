"""`make benchmark`'s references, each run in its own process (benchmark.py starts them): the seed's
own code path and the in-memory reference, for the char-RNN and the sentiment LSTM, and the
training input's memory.

The seed (JSC lecture 6, Riedel 2018, "RNN Example" and "LSTM Example") builds one-hot (char-RNN)
or padded (sentiment) arrays in memory and calls `model.fit(X, y, batch_size=...)` with Keras'
default of one step per execution. The in-memory reference is the same model on the same arrays at
hpcseq's steps per execution: the model's own limit, with no input pipeline at all. Every run
times its first execution of steps apart (tracing), then the rest.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

SEQLEN = 10  # the lecture's SEQLEN
CHAR_BATCH = 128  # the lecture's BATCH_SIZE (char-RNN)
SENTENCE_LENGTH = 40  # the lecture's MAX_SENTENCE_LENGTH
SENTIMENT_BATCH = 32  # the lecture's BATCH_SIZE (sentiment)


def _tensorflow():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # Keras 2, as hpcseq (hpcseq.stack)
    import tensorflow as tf

    return tf


def _timer(tf):
    class FirstExecutionApart(tf.keras.callbacks.Callback):
        """Times the first execution of steps (tracing) apart, then each epoch from its start to
        its last batch: as hpcseq's epoch record does, the idle time Keras sometimes spends after
        the last batch of a fit (tf.data's autotuner winding down, up to a second here) is not
        counted as training. `epochs`: (steady steps, seconds) of each epoch."""

        def on_train_begin(self, logs=None):
            self.started, self.first, self.epochs = time.perf_counter(), None, []

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_started, self.epoch_first_steps = time.perf_counter(), 0

        def on_train_batch_end(self, batch, logs=None):
            self.last_batch, self.last_steps = time.perf_counter(), batch + 1
            if self.first is None:
                self.first, self.first_steps = self.last_batch, batch + 1
                self.epoch_started, self.epoch_first_steps = self.first, batch + 1  # the rest is steady

        def on_epoch_end(self, epoch, logs=None):
            self.epochs.append((self.last_steps - self.epoch_first_steps, self.last_batch - self.epoch_started))

    return FirstExecutionApart()


def steady_rate(epoch_rates: list[float]) -> float:
    """A run's rate: the median of its epochs' steady rates (a second of the machine's other work
    in one epoch does not move it, as it would move the run's total)."""
    return float(np.median(epoch_rates))


def _timed_fit(tf, model, x, y, batch: int, epochs: int) -> dict:
    timer = _timer(tf)
    model.fit(x, y, batch_size=batch, epochs=epochs, verbose=0, callbacks=[timer])
    per_epoch = -(-len(x) // batch)
    short = per_epoch * batch - len(x)  # every epoch ends with its last batch, which may be short
    epoch_rates = [(steps * batch - short) / seconds for steps, seconds in timer.epochs if steps > 0]
    return {
        "samples_per_second": steady_rate(epoch_rates),
        "epoch_rates": epoch_rates,
        "first_execution_seconds": timer.first - timer.started,
        "steps": epochs * per_epoch,
    }


# ------------------------------------------------------------------------------------ char-RNN


def lecture_char_arrays(text_path: Path, seqlen: int = SEQLEN, step: int = 1):
    """The lecture's preprocessing, as published (strip, lower, ascii, join; loops; bool one-hot)."""
    lines = []
    with open(text_path, "rb") as fin:
        for line in fin:
            line = line.strip().lower().decode("ascii", "ignore")
            if len(line) == 0:
                continue
            lines.append(line)
    text = " ".join(lines)
    chars = sorted(set(text))
    char2index = {c: i for i, c in enumerate(chars)}
    input_chars, label_chars = [], []
    for i in range(0, len(text) - seqlen, step):
        input_chars.append(text[i : i + seqlen])
        label_chars.append(text[i + seqlen])
    X = np.zeros((len(input_chars), seqlen, len(chars)), dtype=bool)
    y = np.zeros((len(input_chars), len(chars)), dtype=bool)
    for i, input_char in enumerate(input_chars):
        for j, ch in enumerate(input_char):
            X[i, j, char2index[ch]] = 1
        y[i, char2index[label_chars[i]]] = 1
    return X, y


def task_char_arrays(corpus: str, out: str) -> dict:
    """The seed's arrays, built once and kept (.npy) for the timed runs."""
    started = time.perf_counter()
    X, y = lecture_char_arrays(Path(corpus))
    np.save(Path(out) / "X.npy", X)
    np.save(Path(out) / "y.npy", y)
    return {"windows": len(X), "seconds": time.perf_counter() - started}


def task_char(approach: str, arrays: str, steps: int, epochs: int, steps_per_execution: int) -> dict:
    """The seed's char-RNN (SimpleRNN 128 unrolled, Dense, softmax; rmsprop) on its one-hot arrays:
    `seed` with Keras' default of 1 step per execution, `reference` at hpcseq's; `steps` in all, in
    `epochs` epochs of the same windows."""
    tf = _tensorflow()
    tf.keras.utils.set_random_seed(1)
    X = np.load(Path(arrays) / "X.npy")[: steps // epochs * CHAR_BATCH]
    y = np.load(Path(arrays) / "y.npy")[: steps // epochs * CHAR_BATCH]
    model = tf.keras.Sequential(
        [
            tf.keras.layers.SimpleRNN(128, return_sequences=False, input_shape=X.shape[1:], unroll=True),
            tf.keras.layers.Dense(y.shape[1]),
            tf.keras.layers.Activation("softmax"),
        ]
    )
    per_execution = 1 if approach == "seed" else steps_per_execution
    model.compile(loss="categorical_crossentropy", optimizer="rmsprop", steps_per_execution=per_execution)
    return _timed_fit(tf, model, X, y, CHAR_BATCH, epochs=epochs)


# ----------------------------------------------------------------------------------- sentiment


def task_sentence_arrays(encoded: str, vocab: str, length: int, out: str) -> dict:
    """The training part's sentences padded as the seed pads them (pad_sequences' "pre")."""
    from hpcseq.data.vocabulary import load_sentences, load_vocabulary
    from hpcseq.training.inputs import pad_sentences

    flat, offsets, labels = load_sentences(encoded, "train")
    matrix = pad_sentences(flat, offsets, length, "pre")
    size = load_vocabulary(vocab).size
    np.savez(Path(out) / "sentences.npz", X=matrix, y=labels.astype(np.float32), vocabulary_size=size)
    return {"sentences": len(labels)}


def task_sentiment(approach: str, arrays: str, epochs: int, steps_per_execution: int) -> dict:
    """The seed's classifier (Embedding 128, SpatialDropout1D 0.2, LSTM 64 with dropout and
    recurrent dropout 0.2, Dense 1, sigmoid; adam) on padded arrays of the same sentences."""
    tf = _tensorflow()
    tf.keras.utils.set_random_seed(1)
    data = np.load(Path(arrays) / "sentences.npz")
    X, y = data["X"], data["y"]
    layers = tf.keras.layers
    model = tf.keras.Sequential(
        [
            layers.Embedding(int(data["vocabulary_size"]), 128, input_length=X.shape[1]),
            layers.SpatialDropout1D(0.2),
            layers.LSTM(64, dropout=0.2, recurrent_dropout=0.2),
            layers.Dense(1),
            layers.Activation("sigmoid"),
        ]
    )
    per_execution = 1 if approach == "seed" else steps_per_execution
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"], steps_per_execution=per_execution)
    return _timed_fit(tf, model, X, y, SENTIMENT_BATCH, epochs=epochs)


def task_input_chunks(encoded: str, vocab: str, steps: int, epochs: int, reps: int) -> dict:
    """hpcseq's char_rnn (compiled as training compiles it, without Horovod) fed by its input
    pipeline making one batch per call, then CHUNK_STEPS batches per call, alternating in one
    process: what the chunks buy."""
    tf = _tensorflow()
    from hpcseq import config as config_module
    from hpcseq.data.vocabulary import load_char_ids, load_vocabulary
    from hpcseq.training import inputs
    from hpcseq.training.models import LOSSES, METRICS, build_model

    ids = load_char_ids(encoded, "train")
    named = config_module.filled_named_models()["char_rnn"]
    architecture = {key: named[key] for key in config_module.ARCHITECTURE_KEYS}
    model = build_model(
        "char_rnn", named["task"], architecture, load_vocabulary(vocab).size, {"sequence_length": SEQLEN}
    )
    model.compile(
        loss=LOSSES[named["task"]], optimizer="rmsprop", metrics=METRICS[named["task"]], steps_per_execution=32
    )
    per_epoch = steps // epochs
    runs: dict = {"1": [], str(inputs.CHUNK_STEPS): []}
    for _ in range(reps):
        for chunk in (1, inputs.CHUNK_STEPS):
            dataset = inputs.char_training_dataset(
                ids, SEQLEN, 1, CHAR_BATCH, per_epoch, 42, 0, 0, per_epoch * epochs, chunk_steps=chunk
            )
            timer = _timer(tf)
            model.fit(dataset, steps_per_epoch=per_epoch, epochs=epochs, verbose=0, callbacks=[timer])
            epoch_rates = [steps * CHAR_BATCH / seconds for steps, seconds in timer.epochs if steps > 0]
            runs[str(chunk)].append(
                {
                    "samples_per_second": steady_rate(epoch_rates),
                    "epoch_rates": epoch_rates,
                    "first_execution_seconds": timer.first - timer.started,
                }
            )
    return runs


# -------------------------------------------------------------------------------------- memory


def _rss_mib(field: str = "VmRSS") -> float:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> None:
    """Make VmHWM start from the current RSS (Linux >= 4.0), so the peak is this step's."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
    except OSError:
        pass


def task_memory_lecture(corpus: str) -> dict:
    baseline = _rss_mib()
    _reset_peak()
    X, _ = lecture_char_arrays(Path(corpus))
    return {"windows": len(X), "data_peak_mib": _rss_mib("VmHWM") - baseline}


def task_memory_hpcseq(encoded: str) -> dict:
    """Peak memory of hpcseq's char_rnn training input over 2,000 batches (the ids of the training
    split and the pipeline's buffers), above the process after TensorFlow's start."""
    tf = _tensorflow()
    from hpcseq.data.vocabulary import char_split_length, load_char_ids
    from hpcseq.training import inputs

    tf.constant(0)  # the runtime started before the baseline
    baseline = _rss_mib()
    _reset_peak()
    length = char_split_length(encoded, "train")
    ids = load_char_ids(encoded, "train")
    steps = inputs.window_count(length, SEQLEN, 1) // CHAR_BATCH
    for _ in inputs.char_training_dataset(ids, SEQLEN, 1, CHAR_BATCH, steps, 42, 0, 0, min(steps, 2000)):
        pass
    return {"characters": length, "data_peak_mib": _rss_mib("VmHWM") - baseline}


TASKS = {
    "char_arrays": task_char_arrays,
    "char": task_char,
    "sentence_arrays": task_sentence_arrays,
    "sentiment": task_sentiment,
    "input_chunks": task_input_chunks,
    "memory_lecture": task_memory_lecture,
    "memory_hpcseq": task_memory_hpcseq,
}
