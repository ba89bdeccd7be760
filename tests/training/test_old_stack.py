"""Files written by hpcseq's earlier stack (TensorFlow 2.15.1, Keras 2.15.0, numpy 1.26.4) load with
the current one (TensorFlow 2.21 with tf_keras): a final.keras gives the same predictions, and a
checkpoint restores the model and the optimizer's state and trains on. The files were made by
tests/training/old_stack/make_fixture.py under the old stack (its docstring says how), with the
model builder and checkpoint code they share with this version; a file no Keras 2 can read is
refused with the Keras that wrote it (models.load_model)."""

from __future__ import annotations

import importlib.util
import json
import zipfile

import numpy as np
import pytest
import tensorflow as tf

from hpcseq.errors import CheckpointError
from hpcseq.stack import keras_in_use
from hpcseq.training.checkpoints import CheckpointStore
from hpcseq.training.models import load_model
from tests.conftest import REPO_ROOT

OLD = REPO_ROOT / "tests" / "training" / "old_stack"
WRITTEN = OLD / "tf2.15"
EXPECTED = json.loads((WRITTEN / "expected.json").read_text())


def _fixture_module():
    spec = importlib.util.spec_from_file_location("make_fixture", OLD / "make_fixture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_files_come_from_the_old_stack():
    assert (EXPECTED["tensorflow"], EXPECTED["keras"], EXPECTED["numpy"]) == ("2.15.1", "2.15.0", "1.26.4")
    with zipfile.ZipFile(WRITTEN / "final.keras") as archive:
        assert json.loads(archive.read("metadata.json"))["keras_version"] == "2.15.0"
    # tf.keras's module name depends on how it was first reached ("tensorflow.keras" after `import
    # tensorflow.keras`); stack.keras_in_use tells the package it is
    assert tf.__version__.startswith("2.21") and keras_in_use(tf)["package"] == "tf_keras"


def test_a_final_model_of_tensorflow_2_15_loads_and_predicts_the_same():
    fixture = _fixture_module()
    model = load_model(WRITTEN / "final.keras")
    predictions = model.predict(fixture.probe(), verbose=0)
    np.testing.assert_allclose(predictions, EXPECTED["predictions"], atol=2e-6)


def test_a_checkpoint_of_tensorflow_2_15_restores_model_and_optimizer_and_trains_on():
    fixture = _fixture_module()
    model, optimizer = fixture.model_and_optimizer()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    store = CheckpointStore(WRITTEN / "checkpoints", fixture.FINGERPRINT)
    latest = store.latest()
    assert latest is not None and latest.state["epochs_completed"] == 1
    model.optimizer.build(model.trainable_variables)  # its slots exist before the restore, as in training
    store.restore(latest.path, model, optimizer)  # asserts that every variable came from the file
    assert int(optimizer.iterations.numpy()) == EXPECTED["optimizer_iterations"]
    np.testing.assert_allclose(model.predict(fixture.probe(), verbose=0), EXPECTED["predictions"], atol=2e-6)
    before = [w.copy() for w in model.get_weights()]
    model.fit(fixture.probe(), np.zeros(2, dtype=np.int64), epochs=1, verbose=0)
    assert int(optimizer.iterations.numpy()) == EXPECTED["optimizer_iterations"] + 1
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights(), strict=True))


def test_a_model_file_this_keras_cannot_read_is_refused_with_the_keras_that_wrote_it(tmp_path):
    # a Keras 3 file as Keras 3 writes it: its own metadata and a config naming Keras 3's classes
    broken = tmp_path / "final.keras"
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1", "date_saved": "2026-12-07"}))
        archive.writestr("config.json", json.dumps({"module": "keras", "class_name": "NoSuchModel", "config": {}}))
    with pytest.raises(CheckpointError, match=r"written by Keras 3\.15\.1\). Train it again"):
        load_model(broken)
