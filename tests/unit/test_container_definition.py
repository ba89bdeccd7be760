"""envs/hpcseq.def, the Apptainer definition of the container route's image: parsed with spython
(Apptainer cannot run here), its base image, its build step and every version it names checked
against the pins of envs/, its %post checked by shellcheck.

spython's SingularityParser reads the header (From:), %files, %post, %environment and %labels;
it keeps no %help and no Bootstrap: line, which are read from the text itself."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from spython.main.parse.parsers import SingularityParser

from hpcseq.stack import PYTHON_RANGE

ROOT = Path(__file__).resolve().parents[2]
DEFINITION = ROOT / "envs" / "hpcseq.def"
ENVS = ROOT / "envs"


@pytest.fixture(scope="module")
def recipe():
    return SingularityParser(str(DEFINITION)).recipe["spython-base"]


def requirement_pins() -> dict[str, str]:
    """name (normalised: lower case, '-') -> version, from the GPU requirements and what they include."""
    pins: dict[str, str] = {}
    todo = [ENVS / "training-gpu.txt"]
    while todo:
        for raw in todo.pop().read_text().splitlines():
            line = raw.split("#", 1)[0].strip()
            if line.startswith("-r "):
                todo.append(ENVS / line[3:].strip())
            elif "==" in line:
                name, version = line.split("==", 1)
                name = re.sub(r"\[.*\]", "", name).strip().lower().replace("_", "-")
                pins[name] = version.split(";")[0].strip()
    return pins


def horovod_version() -> str:
    """The Horovod release envs/ builds (envs/horovod/build.sh, formerly envs/setup.sh)."""
    pattern = re.compile(r"^(?:readonly )?HOROVOD_VERSION=[\"']?([0-9.]+)", re.MULTILINE)
    for script in (ENVS / "horovod" / "build.sh", ENVS / "setup.sh"):
        found = script.exists() and pattern.search(script.read_text())
        if found:
            return found.group(1)
    raise AssertionError("neither envs/horovod/build.sh nor envs/setup.sh sets HOROVOD_VERSION=")


def labels(recipe) -> dict[str, str]:
    return dict(line.split(None, 1) for line in recipe.labels if line.strip())


def named_versions(text: str) -> dict[str, set[str]]:
    """Every version of TensorFlow, tf-keras, Horovod and Python the text names."""
    patterns = {
        "tensorflow": r"\btensorflow(?:\[and-cuda\])?(?:==| |\s+version\s+)v?(\d+\.\d+(?:\.\d+)?)\b",
        "tf-keras": r"\btf[-_]keras(?:==|[ :])(\d+\.\d+(?:\.\d+)?)\b",
        "horovod": r"\bhorovod(?:==| |\s+version\s+)v?(\d+\.\d+(?:\.\d+)?)\b",
        "python": r"\bpython(?:3)?[ :]?(3\.\d+)(?:\.\d+)?\b",
    }
    return {name: set(re.findall(pattern, text, re.IGNORECASE)) for name, pattern in patterns.items()}


def same_release(named: str, pinned: str) -> bool:
    """2.21 names the release of the pin 2.21.0 as well as 2.21.0 does."""
    return pinned == named or pinned.startswith(named + ".")


def test_the_image_is_bootstrapped_from_a_pinned_docker_tag(recipe):
    text = DEFINITION.read_text()
    assert re.search(r"^Bootstrap:\s*docker\s*$", text, re.MULTILINE | re.IGNORECASE)
    image = recipe.fromHeader
    assert image and ":" in image.rsplit("/", 1)[-1], f"no tag in From: {image}"
    tag = image.rsplit(":", 1)[1]
    assert tag != "latest" and re.search(r"\d+\.\d+", tag), f"From: {image} is not a pinned version tag"
    # a CUDA devel image (nvcc and headers to build Horovod's NCCL variant) with cuDNN
    assert image.startswith(("nvidia/cuda:", "nvcr.io/nvidia/cuda:")), image
    assert "-cudnn-devel-" in tag, image


def test_the_base_images_cuda_and_cudnn_fit_the_pinned_gpu_wheels(recipe):
    """CUDA 12.x for tensorflow[and-cuda] 2.21 (its wheels are *-cu12); where envs/ pins the
    nvidia-* wheels, the image's CUDA minor and cuDNN major are theirs."""
    cuda = re.match(r"(\d+)\.(\d+)", recipe.fromHeader.rsplit(":", 1)[1])
    assert cuda and cuda.group(1) == "12", recipe.fromHeader
    pins = requirement_pins()
    runtime = pins.get("nvidia-cuda-runtime-cu12")
    if runtime:
        assert runtime.split(".")[:2] == [cuda.group(1), cuda.group(2)], (runtime, recipe.fromHeader)
    cudnn = pins.get("nvidia-cudnn-cu12")
    if cudnn:
        assert labels(recipe)["org.hpcseq.cudnn"] == cudnn.split(".")[0]
    assert labels(recipe)["org.hpcseq.cuda"].startswith(f"{cuda.group(1)}.{cuda.group(2)}")


def test_post_builds_the_training_environment_with_setup_sh_for_gpus(recipe):
    post = "\n".join(recipe.install)
    commands = [line for line in recipe.install if not line.lstrip().startswith("#")]
    runs = [line for line in commands if re.search(r"(^|[\s/])envs/setup\.sh\b", line)]
    assert runs, "%post does not run envs/setup.sh"
    assert all("--gpu" in line.split() and "--training-only" in line.split() for line in runs), runs
    assert re.search(r"^export HPCSEQ_VENVS=/opt/hpcseq$", post, re.MULTILINE)
    # setup.sh and what it reads are copied in: envs/ (requirements, Horovod's patches), pyproject, scripts/
    copied = {line.split()[0] for line in recipe.files}
    assert {"envs", "pyproject.toml", "scripts"} <= copied, copied
    environment = "\n".join(recipe.environ)
    assert 'PATH="/opt/hpcseq/train/bin:$PATH"' in recipe.environ, environment
    assert "TF_USE_LEGACY_KERAS=1" in recipe.environ, environment


def test_every_version_the_definition_names_is_the_one_envs_pins(recipe):
    pins = requirement_pins()
    expected = {
        "tensorflow": pins.get("tensorflow"),
        "tf-keras": pins.get("tf-keras"),
        "horovod": horovod_version(),
    }
    assert expected["tensorflow"], "envs/training-gpu.txt pins no tensorflow[and-cuda]=="
    assert expected["tf-keras"], "envs/training-*.txt pin no tf-keras=="
    found = labels(recipe)
    for name, version in expected.items():
        assert found[f"org.hpcseq.{name}"] == version, (name, found[f"org.hpcseq.{name}"], version)
    named = named_versions(DEFINITION.read_text())
    for name, version in expected.items():
        assert named[name], f"the definition names no {name} version"
        wrong = sorted(seen for seen in named[name] if not same_release(seen, version))
        assert not wrong, f"{name}: the definition names {wrong}, envs/ pins {version}"
    # Python: one version, the label's, within hpcseq's supported range (and what setup.sh accepts)
    python = found["org.hpcseq.python"]
    assert named["python"] == {python}, named["python"]
    major, minor = (int(part) for part in python.split("."))
    assert PYTHON_RANGE[0] <= (major, minor) <= PYTHON_RANGE[1], (python, PYTHON_RANGE)
    accepted = re.search(
        r"\((\d+), (\d+)\) <= sys\.version_info\[:2\] <= \((\d+), (\d+)\)", (ENVS / "setup.sh").read_text()
    )
    if accepted:
        low, high = (int(accepted.group(1)), int(accepted.group(2))), (int(accepted.group(3)), int(accepted.group(4)))
        assert low <= (major, minor) <= high, f"envs/setup.sh accepts Python {low}-{high}, the image has {python}"


def test_post_is_shellcheck_clean(recipe, tmp_path):
    """%post runs in /bin/sh (Apptainer's default): POSIX sh, checked as such."""
    if shutil.which("shellcheck") is None:  # a requirement, not a skip (as assert_shellcheck_clean)
        raise AssertionError("shellcheck is not installed: apt-get install shellcheck (make test does, as root)")
    script = tmp_path / "post.sh"
    script.write_text("#!/bin/sh\n" + "\n".join(recipe.install) + "\n")
    environment = tmp_path / "environment.sh"
    environment.write_text("#!/bin/sh\n" + "\n".join(f"export {line}" for line in recipe.environ) + "\n")
    result = subprocess.run(["shellcheck", "--shell=sh", str(script), str(environment)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
