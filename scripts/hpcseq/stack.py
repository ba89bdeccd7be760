"""The training stack hpcseq supports, and the switch that makes TensorFlow give it Keras 2.

hpcseq's models, checkpoints and Horovod's Keras binding are Keras 2. From TensorFlow 2.16 on,
`tf.keras` is Keras 3 unless TF_USE_LEGACY_KERAS=1 is set before TensorFlow is first imported; then
it is the tf_keras package (Keras 2, released in step with TensorFlow). `select_keras_2()` sets it,
and `hpcseq/__init__.py` calls it, so every entry point has it before anything imports TensorFlow:
the `hpcseq` command, `python -m hpcseq ...` (what the rules and the job scripts run), `python -m
hpcseq.cluster.smoke` and the tests.

`python -m hpcseq.training.stack_check` checks an environment against it (envs/setup.sh runs it
after every build). This module imports neither TensorFlow nor anything else heavy.
"""

from __future__ import annotations

import os
import sys

KERAS_SWITCH = "TF_USE_LEGACY_KERAS"
# Supported and proven by training (README, "Software stack"): the ends of each range.
PYTHON_RANGE = ((3, 11), (3, 13))  # Snakemake 9.27 needs >= 3.11; TensorFlow 2.21's wheels stop at 3.13
TENSORFLOW_RANGE = ("2.21", "2.21")  # major.minor, both ends included
KERAS_PACKAGE = "tf_keras"


class StackError(RuntimeError):
    """The interpreter or its libraries are not the stack hpcseq supports; the message says what to do."""


def select_keras_2(environ=os.environ, modules=sys.modules) -> None:
    """Make `tf.keras` Keras 2 (tf_keras). Raises StackError when TensorFlow was imported before
    without the switch: its `tf.keras` is then already Keras 3 for the rest of the process."""
    if environ.get(KERAS_SWITCH) == "1":
        return
    if "tensorflow" in modules:
        raise StackError(
            f"TensorFlow was imported before hpcseq with {KERAS_SWITCH}={environ.get(KERAS_SWITCH, '')!r}, so "
            f"from TensorFlow 2.16 on its tf.keras is Keras 3; hpcseq needs Keras 2: import hpcseq first, or set "
            f"{KERAS_SWITCH}=1 before starting Python"
        )
    environ[KERAS_SWITCH] = "1"


def python_supported(version: tuple[int, int] = sys.version_info[:2]) -> bool:
    return PYTHON_RANGE[0] <= tuple(version) <= PYTHON_RANGE[1]


def _major_minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def tensorflow_supported(version: str) -> bool:
    low, high = (_major_minor(end) for end in TENSORFLOW_RANGE)
    return low <= _major_minor(version) <= high


def range_text() -> str:
    def text(low: str, high: str) -> str:
        return low if low == high else f"{low} to {high}"

    pythons = text(*(".".join(map(str, end)) for end in PYTHON_RANGE))
    return f"Python {pythons}, TensorFlow {text(*TENSORFLOW_RANGE)} with Keras 2 ({KERAS_PACKAGE})"


def keras_in_use(tf, modules=sys.modules) -> dict:
    """The Keras package `tf.keras` is, and its version (recorded in each training's provenance)."""
    keras = tf.keras  # with the switch, the module tf_keras.api._v2.keras; without it, Keras 3's
    package = (getattr(keras, "__name__", "") or "").split(".")[0] or "unknown"
    if package == "tensorflow":  # named after how it was reached (`import tensorflow.keras`): ask its Model
        package = keras.Model.__module__.split(".")[0]
    module = modules.get(package)
    version = getattr(module, "__version__", None) or getattr(keras, "__version__", None)
    return {"package": package, "version": str(version)}


def check_stack(tf) -> dict:
    """The versions in use; StackError when they are outside what hpcseq supports."""
    keras = keras_in_use(tf)
    found = {"python": ".".join(map(str, sys.version_info[:3])), "tensorflow": tf.__version__, "keras": keras}
    problems = []
    if not python_supported():
        problems.append(f"Python {found['python']}")
    if not tensorflow_supported(tf.__version__):
        problems.append(f"TensorFlow {tf.__version__}")
    if keras["package"] != KERAS_PACKAGE or not keras["version"].startswith("2."):
        problems.append(f"tf.keras is {keras['package']} {keras['version']} ({KERAS_SWITCH} must be 1 before import)")
    if problems:
        raise StackError(
            f"{', '.join(problems)}: hpcseq supports {range_text()} (envs/setup.sh makes that environment)"
        )
    return found
