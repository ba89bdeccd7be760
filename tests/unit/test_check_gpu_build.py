"""envs/check-gpu-build.sh (`make check-gpu-build`): the NCCL variant of Horovod's build, checked as far
as a machine without CUDA allows: the sdist unpacks, every patch applies, and Horovod's CMake
configuration stops only where it looks for the CUDA toolkit. It needs cmake (CI's machine has it:
tests/cluster/local_slurm.sh and envs/horovod/build.sh install it) and the sdist that
envs/horovod/build.sh caches; without them the tests say so and skip."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "envs" / "check-gpu-build.sh"


def cached_sdist() -> Path:
    version = re.search(
        r"^readonly HOROVOD_VERSION=([0-9.]+)$", (ROOT / "envs" / "horovod" / "build.sh").read_text(), re.MULTILINE
    ).group(1)
    cache = os.environ.get("HPCSEQ_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "hpcseq"
    )
    return Path(cache) / "sources" / f"horovod-{version}.tar.gz"


def needs_cmake_and_sdist() -> Path:
    if shutil.which("cmake") is None:
        pytest.skip("cmake is not installed (CI's machine has it; apt-get install cmake)")
    if shutil.which("mpicc") is None:
        pytest.skip("no MPI compiler (mpicc): Horovod's configuration stops at MPI before CUDA")
    sdist = cached_sdist()
    if not sdist.exists():
        pytest.skip(f"the Horovod sdist is not cached at {sdist} (envs/setup.sh downloads it on its first build)")
    return sdist


def test_the_script_is_shellcheck_clean():
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck; make test does)")
    result = subprocess.run(["shellcheck", "--shell=bash", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_patch_applies_and_the_nccl_configuration_reaches_cuda(tmp_path):
    sdist = needs_cmake_and_sdist()
    result = subprocess.run(
        [str(SCRIPT), str(sdist)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    patches = sorted(path.name for path in (ROOT / "envs" / "horovod" / "patches").glob("*.patch"))
    applied = re.findall(r"^applied (\S+)$", result.stdout, re.MULTILINE)
    assert applied == patches
    if shutil.which("nvcc") is None:  # here: stopped at CUDA, and said so
        assert "configuration reached CUDA and stopped there" in result.stdout, result.stdout
        assert "CUDAToolkit" in result.stdout


def test_a_patch_that_does_not_apply_fails_loudly(tmp_path):
    sdist = needs_cmake_and_sdist()
    patches = tmp_path / "patches"
    patches.mkdir()
    (patches / "0001-stale.patch").write_text(
        "--- a/setup.py\n+++ b/setup.py\n@@ -1,2 +1,2 @@\n-a line that is not in setup.py\n+x\n context\n"
    )
    result = subprocess.run(
        [str(SCRIPT), str(sdist)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HPCSEQ_HOROVOD_PATCHES": str(patches), "TMPDIR": str(tmp_path)},
    )
    assert result.returncode == 1
    assert "FAIL: 0001-stale.patch does not apply" in result.stderr
