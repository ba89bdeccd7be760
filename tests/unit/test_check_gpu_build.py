"""envs/check-gpu-build.sh (`make check-gpu-build`): the NCCL variant of Horovod's build, checked as far
as a machine without CUDA allows: the sdist unpacks, every patch applies, and Horovod's CMake
configuration stops only where it looks for the CUDA toolkit. The sdist and patches come from
`envs/horovod/build.sh --source` (downloaded once and checked, as for a build). It needs cmake and
an MPI compiler (CI's machine has both: tests/cluster/local_slurm.sh and envs/horovod/build.sh
install them); without them the tests say so and skip."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.unit.cluster.conftest import assert_shellcheck_clean

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "envs" / "check-gpu-build.sh"


def needs_cmake_and_mpi() -> None:
    if shutil.which("cmake") is None:
        pytest.skip("cmake is not installed (CI's machine has it; apt-get install cmake)")
    if shutil.which("mpicc") is None:
        pytest.skip("no MPI compiler (mpicc): Horovod's configuration stops at MPI before CUDA")


def test_the_script_is_shellcheck_clean():
    assert_shellcheck_clean([str(SCRIPT)])


def test_every_patch_applies_and_the_nccl_configuration_reaches_cuda(tmp_path):
    needs_cmake_and_mpi()
    result = subprocess.run(
        [str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    patches = sorted(path.name for path in (ROOT / "envs" / "horovod" / "patches").glob("*.patch"))
    applied = re.findall(r"^applied (\S+)$", result.stderr, re.MULTILINE)  # build.sh's --source
    assert applied == patches
    if shutil.which("nvcc") is None:  # here: stopped at CUDA, and said so
        assert "configuration reached CUDA and stopped there" in result.stdout, result.stdout
        assert "CUDAToolkit" in result.stdout


def test_a_patch_that_does_not_apply_fails_loudly(tmp_path):
    needs_cmake_and_mpi()
    patches = tmp_path / "patches"
    patches.mkdir()
    (patches / "0001-stale.patch").write_text(
        "--- a/setup.py\n+++ b/setup.py\n@@ -1,2 +1,2 @@\n-a line that is not in setup.py\n+x\n context\n"
    )
    result = subprocess.run(
        [str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HPCSEQ_HOROVOD_PATCHES": str(patches), "TMPDIR": str(tmp_path)},
    )
    assert result.returncode == 1
    assert "0001-stale.patch does not apply to horovod 0.28.1" in result.stderr
    assert "check-gpu-build: FAIL: no patched Horovod source" in result.stderr
