"""`make benchmark`: speed and memory of hpcseq's data path next to the lecture's approach.

Prints, from one run on one machine (each figure measured in its own process, so that peak
memory belongs to that step alone):

  1. preprocessing + vocabulary of the character corpus: MB/s and peak memory;
  2. data memory of the char_rnn input: hpcseq's pipeline versus the lecture's one-hot arrays,
     as a multiple of the corpus size; and hpcseq's again for the corpus repeated 10 times, which
     separates what grows with the data (bytes per corpus byte) from TensorFlow's fixed buffers;
  3. char_rnn training samples/s, hpcseq's pipeline versus the lecture's in-memory arrays (same
     model, batch 128, one process), and their ratio;
  4. sentiment_lstm seconds per epoch, the same comparison.

The lecture's approach is reproduced from its scripts: Python loops build the list of windows,
then bool one-hot arrays X (windows x 10 x characters) and y, trained with model.fit(X, y,
batch_size=128); for sentiment, padded arrays and model.fit(X, y, batch_size=32).
This is a measurement tool, not a test: figures vary between runs on shared machines.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hpcseq.config import REPO_ROOT

CORPUS = REPO_ROOT / "data" / "tinyshakespeare.txt"
MEMORY_SCALE = 10  # the corpus repeated this often for the second data-memory figure
SENTENCES = REPO_ROOT / "data" / "umich-sentiment-train.txt"


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> None:
    """Make VmHWM start from the current RSS (Linux >= 4.0), so the peak is this step's."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
    except OSError:
        pass


def _hwm_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return _peak_mb()


def _char_settings(corpus: Path, max_steps: int | None = None) -> dict:
    from hpcseq import config as config_module

    raw = {
        "preset": None,
        "datasets": {"corpus": {"format": "text", "path": str(corpus)}},
        "experiments": {
            "bench": {
                "model": "char_rnn",
                "dataset": "corpus",
                "ranks": 1,
                "preprocess": {"validation_fraction": 0.1, "test_fraction": 0.0},
                "training": {"epochs": 1, "max_steps_per_epoch": max_steps},
            }
        },
    }
    return config_module.experiment_settings(config_module.validate_config(raw), "bench")


def lecture_model(name: str, vocabulary_size: int, hyperparameters: dict):
    """One of the lecture's named models (char_rnn, sentiment_lstm), built as training builds it."""
    from hpcseq import config as config_module
    from hpcseq.training.models import build_model

    model = config_module.filled_named_models()[name]
    architecture = {key: model[key] for key in config_module.ARCHITECTURE_KEYS}
    return build_model(name, model["task"], architecture, vocabulary_size, hyperparameters)


# ------------------------------------------------------------------------------- measurements


def task_preprocess(corpus: str, workdir: str) -> dict:
    from hpcseq.data.text_corpus import prepare_text_corpus
    from hpcseq.data.vocabulary import build_vocabulary
    from hpcseq.paths import ExperimentPaths

    settings = _char_settings(Path(corpus))
    paths = ExperimentPaths.of(workdir, "bench")
    baseline = _rss_mb()
    _reset_peak()
    started = time.perf_counter()
    prepare_text_corpus(settings, paths.prepared)
    build_vocabulary(settings, paths.prepared, paths.vocab, paths.encoded)
    seconds = time.perf_counter() - started
    size = Path(corpus).stat().st_size
    return {
        "bytes": size,
        "seconds": seconds,
        "mb_per_second": size / 1e6 / seconds,
        "peak_mb": _hwm_mb(),
        "peak_above_start_mb": _hwm_mb() - baseline,
    }


def lecture_char_arrays(text_path: Path, seqlen: int = 10, step: int = 1):
    """The lecture's preprocessing, as published (strip, lower, ascii, join; loops; bool one-hot)."""
    import numpy as np

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
    return X, y, len(chars)


def task_memory_lecture(corpus: str) -> dict:
    import numpy as np  # noqa: F401 - imported before the baseline

    baseline = _rss_mb()
    _reset_peak()
    started = time.perf_counter()
    X, y, _ = lecture_char_arrays(Path(corpus))
    seconds = time.perf_counter() - started
    return {
        "windows": len(X),
        "seconds": seconds,
        "data_peak_mb": _hwm_mb() - baseline,
        "array_mb": (X.nbytes + y.nbytes) / 2**20,
    }


def task_memory_hpcseq(corpus: str, workdir: str) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    from hpcseq.data.vocabulary import char_split_length, load_char_ids
    from hpcseq.paths import ExperimentPaths
    from hpcseq.training import inputs

    tf.constant(0)  # initialise the runtime before the baseline
    paths = ExperimentPaths.of(workdir, "bench")
    baseline = _rss_mb()
    _reset_peak()
    length = char_split_length(paths.encoded, "train")
    ids = load_char_ids(paths.encoded, "train")
    steps = inputs.window_count(length, 10, 1) // 128
    dataset = inputs.char_training_dataset(ids, 10, 1, 128, steps, 42, 0, 0, steps)
    for _ in dataset.take(2000):
        pass
    return {"characters": length, "data_peak_mb": _hwm_mb() - baseline, "ids_mb": ids.nbytes / 2**20}


def _fit_speed(model, data, steps: int, batch: int, **fit_args) -> float:
    """Samples per second of one timed fit over `steps` steps (after a warm-up fit)."""
    started = time.perf_counter()
    model.fit(data, epochs=1, verbose=0, **fit_args)
    return steps * batch / (time.perf_counter() - started)


def task_train_char(approach: str, corpus: str, workdir: str, steps: int) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    tf.keras.utils.set_random_seed(1)
    batch = 128
    if approach == "lecture":
        X, y, nchars = lecture_char_arrays(Path(corpus))
        X, y = X[: steps * batch], y[: steps * batch]
        model = tf.keras.Sequential(
            [
                tf.keras.layers.SimpleRNN(128, return_sequences=False, input_shape=(10, nchars), unroll=True),
                tf.keras.layers.Dense(nchars),
                tf.keras.layers.Activation("softmax"),
            ]
        )
        model.compile(loss="categorical_crossentropy", optimizer="rmsprop")
        model.fit(X[: 20 * batch], y[: 20 * batch], batch_size=batch, epochs=1, verbose=0)  # warm-up
        speed = _fit_speed(model, X, steps, batch, y=y, batch_size=batch)
        return {"samples_per_second": speed, "steps": steps}
    from hpcseq.data.vocabulary import load_char_ids, load_vocabulary
    from hpcseq.paths import ExperimentPaths
    from hpcseq.training import inputs

    paths = ExperimentPaths.of(workdir, "bench")
    ids = load_char_ids(paths.encoded, "train")
    vocabulary = load_vocabulary(paths.vocab)
    model = lecture_model("char_rnn", vocabulary.size, {"sequence_length": 10})
    model.compile(loss="sparse_categorical_crossentropy", optimizer="rmsprop", steps_per_execution=32)
    total = inputs.window_count(len(ids), 10, 1) // batch
    model.fit(inputs.char_training_dataset(ids, 10, 1, batch, total, 42, 0, 0, 64), epochs=1, verbose=0)
    dataset = inputs.char_training_dataset(ids, 10, 1, batch, total, 42, 0, 64, 64 + steps)
    speed = _fit_speed(model, dataset, steps, batch)
    return {"samples_per_second": speed, "steps": steps}


def task_train_sentiment(approach: str, workdir: str, epochs: int) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    import tensorflow as tf

    from hpcseq.data.vocabulary import load_sentences, load_vocabulary
    from hpcseq.paths import ExperimentPaths
    from hpcseq.training import inputs

    tf.keras.utils.set_random_seed(1)
    paths = ExperimentPaths.of(workdir, "senti")
    flat, offsets, labels = load_sentences(paths.encoded, "train")
    vocabulary = load_vocabulary(paths.vocab)
    matrix = inputs.pad_sentences(flat, offsets, 40, "pre")
    batch = 32
    model = lecture_model("sentiment_lstm", vocabulary.size, {"sentence_length": 40})
    times = []
    if approach == "lecture":
        # the lecture: padded arrays in memory, model.fit(X, y, batch_size=32)
        model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
        for _ in range(epochs + 1):
            started = time.perf_counter()
            model.fit(matrix, labels.astype(np.float32), batch_size=batch, epochs=1, verbose=0)
            times.append(time.perf_counter() - started)
    else:
        model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"], steps_per_execution=32)
        steps = len(labels) // batch
        for epoch in range(epochs + 1):
            dataset = inputs.sentence_training_dataset(
                matrix, labels, batch, steps, 42, 0, epoch * steps, (epoch + 1) * steps
            )
            started = time.perf_counter()
            model.fit(dataset, epochs=1, verbose=0)
            times.append(time.perf_counter() - started)
    timed = times[1:]  # the first epoch includes tracing
    return {
        "seconds_per_epoch": float(np.median(timed)),
        "sentences": len(labels),
        "first_epoch_seconds": times[0],
    }


TASKS = {
    "preprocess": task_preprocess,
    "memory_lecture": task_memory_lecture,
    "memory_hpcseq": task_memory_hpcseq,
    "train_char": task_train_char,
    "train_sentiment": task_train_sentiment,
}


# ------------------------------------------------------------------------------------ driver


def _run_task(name: str, **kwargs) -> dict:
    command = [sys.executable, "-m", "hpcseq.devtools.benchmark", "--task", name, "--args", json.dumps(kwargs)]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if result.returncode != 0:
        raise RuntimeError(f"benchmark task {name} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _prepare_sentiment(workdir: Path) -> None:
    from hpcseq import config as config_module
    from hpcseq.data.labelled_sentences import prepare_sentences
    from hpcseq.data.vocabulary import build_vocabulary
    from hpcseq.paths import ExperimentPaths

    raw = {
        "preset": None,
        "datasets": {"umich": {"format": "labelled_sentences", "path": str(SENTENCES)}},
        "experiments": {
            "senti": {"model": "sentiment_lstm", "dataset": "umich", "ranks": 1, "preprocess": {"split": "random"}}
        },
    }
    settings = config_module.experiment_settings(config_module.validate_config(raw), "senti")
    paths = ExperimentPaths.of(workdir, "senti")
    prepare_sentences(settings, paths.prepared)
    build_vocabulary(settings, paths.prepared, paths.vocab, paths.encoded)


def run(scale: int, char_steps: int, sentiment_epochs: int) -> dict:
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="hpcseq-bench-") as tmp:
        tmp = Path(tmp)
        corpus = CORPUS
        if scale > 1:
            corpus = tmp / f"corpus-x{scale}.txt"
            data = CORPUS.read_bytes()
            with open(corpus, "wb") as handle:
                for _ in range(scale):
                    handle.write(data)
        print(f"corpus: {corpus.name}, {corpus.stat().st_size:,} bytes", flush=True)
        results["preprocess"] = _run_task("preprocess", corpus=str(corpus), workdir=str(tmp))
        base_work = tmp / "x1"
        _run_task("preprocess", corpus=str(CORPUS), workdir=str(base_work))
        results["memory_hpcseq"] = _run_task("memory_hpcseq", corpus=str(CORPUS), workdir=str(base_work))
        # the same at 10x the corpus: what grows with the data, apart from TensorFlow's fixed buffers
        big_corpus = tmp / f"corpus-x{MEMORY_SCALE}.txt"
        with open(big_corpus, "wb") as handle:
            for _ in range(MEMORY_SCALE):
                handle.write(CORPUS.read_bytes())
        big_work = tmp / f"x{MEMORY_SCALE}"
        _run_task("preprocess", corpus=str(big_corpus), workdir=str(big_work))
        results["memory_hpcseq_scaled"] = _run_task("memory_hpcseq", corpus=str(big_corpus), workdir=str(big_work))
        results["memory_hpcseq_scaled"]["corpus_bytes"] = big_corpus.stat().st_size
        big_corpus.unlink()
        results["memory_lecture"] = _run_task("memory_lecture", corpus=str(CORPUS))
        results["train_char_lecture"] = _run_task(
            "train_char", approach="lecture", corpus=str(CORPUS), workdir=str(base_work), steps=char_steps
        )
        results["train_char_hpcseq"] = _run_task(
            "train_char", approach="hpcseq", corpus=str(CORPUS), workdir=str(base_work), steps=char_steps
        )
        _prepare_sentiment(tmp)
        results["train_sentiment_lecture"] = _run_task(
            "train_sentiment", approach="lecture", workdir=str(tmp), epochs=sentiment_epochs
        )
        results["train_sentiment_hpcseq"] = _run_task(
            "train_sentiment", approach="hpcseq", workdir=str(tmp), epochs=sentiment_epochs
        )
    results["corpus_bytes"] = CORPUS.stat().st_size
    return results


def print_table(results: dict) -> None:
    corpus_mb = results["corpus_bytes"] / 2**20
    pre = results["preprocess"]
    mem_h, mem_l = results["memory_hpcseq"], results["memory_lecture"]
    mem_big = results["memory_hpcseq_scaled"]
    big_mb = mem_big["corpus_bytes"] / 2**20
    per_byte = (mem_big["data_peak_mb"] - mem_h["data_peak_mb"]) / (big_mb - corpus_mb)
    ch_l, ch_h = results["train_char_lecture"], results["train_char_hpcseq"]
    se_l, se_h = results["train_sentiment_lecture"], results["train_sentiment_hpcseq"]
    rows = [
        (
            "preprocess + vocabulary (char corpus)",
            f"{pre['mb_per_second']:.1f} MB/s "
            f"({pre['bytes'] / 1e6:.1f} MB in {pre['seconds']:.2f} s), peak {pre['peak_mb']:.0f} MB RSS "
            f"(+{pre['peak_above_start_mb']:.1f} MB over the interpreter)",
            "",
        ),
        (
            "char_rnn data memory",
            f"hpcseq {mem_h['data_peak_mb']:.1f} MB = {mem_h['data_peak_mb'] / corpus_mb:.1f}x corpus",
            f"lecture {mem_l['data_peak_mb']:.0f} MB = {mem_l['data_peak_mb'] / corpus_mb:.0f}x corpus",
        ),
        (
            f"char_rnn data memory, corpus x{MEMORY_SCALE}",
            f"hpcseq {mem_big['data_peak_mb']:.1f} MB = {mem_big['data_peak_mb'] / big_mb:.1f}x corpus "
            f"({big_mb:.1f} MB); growth {per_byte:.2f} bytes per corpus byte",
            f"lecture ~{mem_l['data_peak_mb'] * MEMORY_SCALE / 1024:.1f} GB (linear, not run)",
        ),
        (
            "char_rnn training, batch 128, 1 process",
            f"hpcseq {ch_h['samples_per_second']:,.0f} samples/s",
            f"lecture {ch_l['samples_per_second']:,.0f} samples/s -> ratio "
            f"{ch_h['samples_per_second'] / ch_l['samples_per_second']:.2f}x",
        ),
        (
            "sentiment_lstm epoch, batch 32, 1 process",
            f"hpcseq {se_h['seconds_per_epoch']:.2f} s",
            f"lecture {se_l['seconds_per_epoch']:.2f} s -> ratio "
            f"{se_l['seconds_per_epoch'] / se_h['seconds_per_epoch']:.2f}x ({se_h['sentences']} sentences)",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print()
    for name, a, b in rows:
        print(f"{name:<{width}}  {a}{'  |  ' + b if b else ''}")
    print("\ngoals: data memory <= 10x corpus; training >= 1.5x the lecture's samples/s")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="hpcseq benchmark", description=__doc__.splitlines()[0])
    parser.add_argument("--task", help=argparse.SUPPRESS)
    parser.add_argument("--args", help=argparse.SUPPRESS)
    parser.add_argument("--scale", type=int, default=1, help="repeat the corpus N times for the preprocessing figure")
    parser.add_argument("--char-steps", type=int, default=2000, help="timed training steps per approach")
    parser.add_argument("--sentiment-epochs", type=int, default=3, help="timed epochs per approach (after one warm-up)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.task:
        print(json.dumps(TASKS[args.task](**json.loads(args.args))))
        return 0
    results = run(args.scale, args.char_steps, args.sentiment_epochs)
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
