"""Write a checkpoint and a final.keras the way hpcseq's training writes them, with whatever
TensorFlow runs this script, plus what loading them must give back (expected.json). Run once with
the old stack (TensorFlow 2.15.1, Keras 2.15, numpy 1.26) to make tests/training/old_stack/tf2.15/,
which tests/training/test_old_stack.py loads with the current one:

    python3.11 -m venv /tmp/tf215 && /tmp/tf215/bin/pip install tensorflow-cpu==2.15.1 numpy==1.26.4 PyYAML jsonschema
    PYTHONPATH=scripts /tmp/tf215/bin/python tests/training/old_stack/make_fixture.py tests/training/old_stack/tf2.15

The model is small (a SimpleRNN of 8 units over 5 characters: a few KB of files) but has what the
real ones have: an embedding-less one-hot input, the RMSprop optimizer with hpcseq's warm-up schedule,
a few trained steps (so the optimizer has state), hpcseq's checkpoint layout and state.json.
"""

# isort: skip_file  (hpcseq first: it selects Keras 2 before TensorFlow is imported)
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

import hpcseq  # noqa: F401
from hpcseq.training.checkpoints import CheckpointStore
from hpcseq.training.models import WarmupSchedule, build_model, make_optimizer

ARCHITECTURE = {"embedding": None, "layers": [{"cell": "simple_rnn", "units": 8, "unroll": True}]}
HYPERPARAMETERS = {"sequence_length": 10}
VOCABULARY = 5
FINGERPRINT = {"fixture": "old stack", "architecture": ARCHITECTURE}


def model_and_optimizer():
    model = build_model("old_stack", "next_character", ARCHITECTURE, VOCABULARY, HYPERPARAMETERS)
    optimizer = make_optimizer("rmsprop", WarmupSchedule(0.001, 0.004, 4))
    return model, optimizer


def probe() -> np.ndarray:
    """The fixed input whose predictions loading must give back."""
    return np.eye(VOCABULARY, dtype=np.float32)[np.arange(20).reshape(2, 10) % VOCABULARY]


def main(out: Path) -> None:
    tf.keras.utils.set_random_seed(23)
    model, optimizer = model_and_optimizer()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    inputs = np.eye(VOCABULARY, dtype=np.float32)[np.random.default_rng(23).integers(0, VOCABULARY, (64, 10))]
    targets = np.random.default_rng(24).integers(0, VOCABULARY, 64)
    model.fit(inputs, targets, batch_size=16, epochs=1, verbose=0)  # 4 steps: the optimizer has state
    out.mkdir(parents=True, exist_ok=True)
    store = CheckpointStore(out / "checkpoints", FINGERPRINT)
    store.save(model, optimizer, {"epochs_completed": 1, "step_in_epoch": 0})
    model.save(out / "final.keras")
    expected = {
        "tensorflow": tf.__version__,
        "keras": __import__(tf.keras.__name__.split(".")[0]).__version__,  # keras 2.15 or tf_keras
        "numpy": np.__version__,
        "optimizer_iterations": int(optimizer.iterations.numpy()),
        "predictions": model.predict(probe(), verbose=0).round(6).tolist(),
        "weights_sum": [float(w.sum()) for w in model.get_weights()],
    }
    (out / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
