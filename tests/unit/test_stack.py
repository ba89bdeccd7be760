"""The supported stack, said once (hpcseq/stack.py) and agreed with by every file that names it:
pyproject.toml, envs/setup.sh, the pip and conda requirement files; Keras 2 selected before
TensorFlow is imported; the Horovod patch set documented patch by patch (issue 23)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from hpcseq import stack
from tests.conftest import REPO_ROOT

ENVS = REPO_ROOT / "envs"
PATCHES = sorted((ENVS / "horovod" / "patches").glob("*.patch"))


def _pins(path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        found = re.match(r"^\s*(?:-\s*)?([A-Za-z0-9_.\-\[\]]+)==?([\w.]+)", line)
        if found:
            pins[found.group(1).lower().replace("_", "-")] = found.group(2)
    return pins


def test_keras_2_is_selected_when_hpcseq_is_imported_first():
    environ: dict[str, str] = {}
    stack.select_keras_2(environ, modules={})
    assert environ == {stack.KERAS_SWITCH: "1"}
    # a user's TF_USE_LEGACY_KERAS=0 is overridden: hpcseq's models are Keras 2
    environ = {stack.KERAS_SWITCH: "0"}
    stack.select_keras_2(environ, modules={})
    assert environ[stack.KERAS_SWITCH] == "1"


def test_tensorflow_imported_before_hpcseq_without_the_switch_is_refused_with_what_to_do():
    with pytest.raises(stack.StackError, match=r"import hpcseq first, or set TF_USE_LEGACY_KERAS=1"):
        stack.select_keras_2({}, modules={"tensorflow": object()})
    stack.select_keras_2({stack.KERAS_SWITCH: "1"}, modules={"tensorflow": object()})  # set before: fine


def test_every_entry_point_has_the_switch_set_in_the_process_and_its_children():
    """`python -m hpcseq ...` (the rules, the job scripts) imports hpcseq before any TensorFlow."""
    code = "import os, hpcseq.cli; print(os.environ.get('TF_USE_LEGACY_KERAS'))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, cwd=REPO_ROOT
    )
    assert result.stdout.strip() == "1", result.stderr


def test_the_supported_ranges_and_their_text():
    assert stack.python_supported((3, 11)) and stack.python_supported((3, 13))
    assert not stack.python_supported((3, 10)) and not stack.python_supported((3, 14))
    assert stack.tensorflow_supported("2.21.0") and not stack.tensorflow_supported("2.15.1")
    assert stack.range_text() == "Python 3.11 to 3.13, TensorFlow 2.21 with Keras 2 (tf_keras)"


def test_pyproject_and_setup_accept_the_same_pythons_as_the_stack():
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    low, high = stack.PYTHON_RANGE
    assert f'requires-python = ">={low[0]}.{low[1]},<{high[0]}.{high[1] + 1}"' in pyproject
    setup = (ENVS / "setup.sh").read_text()
    assert f"({low[0]}, {low[1]}) <= sys.version_info[:2] <= ({high[0]}, {high[1]})" in setup
    assert f"needs {low[0]}.{low[1]} to {high[0]}.{high[1]}" in setup


def test_setup_refuses_an_unsupported_python_with_a_clear_message(tmp_path):
    old = tmp_path / "python3.10"  # a stand-in that answers as Python 3.10.12 would
    old.write_text('#!/bin/bash\ncase "$*" in\n  *"%d.%d.%d"*) echo 3.10.12 ;;\n  *) exit 1 ;;\nesac\n')
    old.chmod(0o755)
    result = subprocess.run(
        ["bash", str(ENVS / "setup.sh"), "--workflow-only"],
        capture_output=True,
        text=True,
        env={"PATH": f"{tmp_path}:/usr/bin:/bin", "PYTHON": str(old), "HOME": str(tmp_path)},
    )
    assert result.returncode == 1
    assert "Python 3.10.12" in result.stderr and "is not supported: hpcseq needs 3.11 to 3.13" in result.stderr


def test_the_requirement_files_pin_one_tensorflow_inside_the_range_with_its_tf_keras():
    common = _pins(ENVS / "training-common.txt")
    cpu, gpu = _pins(ENVS / "training-cpu.txt"), _pins(ENVS / "training-gpu.txt")
    conda = _pins(ENVS / "training.yaml")
    tensorflow = cpu["tensorflow-cpu"]
    assert cpu["tensorflow"] == gpu["tensorflow[and-cuda]"] == conda["tensorflow-cpu"] == tensorflow
    assert stack.tensorflow_supported(tensorflow)
    assert common["tf-keras"] == conda["tf-keras"] == tensorflow  # released in step with TensorFlow
    assert common["tensorboard"] == conda["tensorboard"]
    assert common["numpy"].startswith("2.") and common["numpy"] == conda["numpy"]
    assert "2.15" not in (ENVS / "training.yaml").read_text() + (ENVS / "training.post-deploy.sh").read_text()


def test_the_build_tools_are_pinned_once_and_match_conda():
    tools = _pins(ENVS / "build-tools.txt")
    assert set(tools) == {"pip", "setuptools", "wheel"}
    conda = (ENVS / "training.yaml").read_text()
    assert all(f"- {name}={version}" in conda for name, version in tools.items())


def test_horovod_is_built_the_same_way_everywhere():
    """envs/horovod/build.sh holds the version and the sdist's sha256; setup.sh, the conda hook and
    the Apptainer definition all call it (through setup.sh for the image)."""
    build = (ENVS / "horovod" / "build.sh").read_text()
    assert re.search(r"^readonly HOROVOD_VERSION=0\.28\.1$", build, re.MULTILINE)
    assert re.search(r"^readonly HOROVOD_SDIST_SHA256=[0-9a-f]{64}$", build, re.MULTILINE)
    for caller in ("setup.sh", "training.post-deploy.sh"):
        text = (ENVS / caller).read_text()
        assert (
            "horovod/build.sh" in text
            and "pip install --no-deps --no-build-isolation --no-cache-dir horovod" not in text
        )
        assert "HOROVOD_VERSION=" not in text
    assert "envs/setup.sh --gpu --training-only" in (ENVS / "hpcseq.def").read_text()


@pytest.mark.parametrize("patch", PATCHES, ids=[patch.name for patch in PATCHES])
def test_every_patch_says_what_why_upstream_and_the_error_without_it(patch):
    text = patch.read_text()
    header = text.split("\n--- a/")[0]
    for field in ("What:", "Why:", "Upstream:", "Seen without it:"):
        assert re.search(rf"^{field} \S", header, re.MULTILINE), f"{patch.name} lacks `{field}`"
    assert re.match(r"^\d{4}-[a-z0-9-]+\.patch$", patch.name)
    assert "\n--- a/" in text and "\n+++ b/" in text


def test_the_patch_set_is_numbered_without_gaps():
    numbers = [int(patch.name[:4]) for patch in PATCHES]
    assert numbers == list(range(1, len(PATCHES) + 1)) and len(numbers) >= 2


def test_the_keras_in_use_is_told_by_its_package_however_tf_keras_was_reached():
    """tf.keras is the module tf_keras.api._v2.keras, named "tensorflow.keras" once something ran
    `import tensorflow.keras` (seen in the training tests); the package its Model comes from tells."""
    from types import ModuleType, SimpleNamespace

    tf_keras = ModuleType("tf_keras")
    tf_keras.__version__ = "2.21.0"
    model = type("Model", (), {"__module__": "tf_keras.src.engine.training"})
    for name in ("tf_keras.api._v2.keras", "tensorflow.keras"):
        keras = SimpleNamespace(__name__=name, Model=model)
        found = stack.keras_in_use(SimpleNamespace(keras=keras), modules={"tf_keras": tf_keras})
        assert found == {"package": "tf_keras", "version": "2.21.0"}
