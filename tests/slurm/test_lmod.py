"""Real Lmod over a module tree that mirrors JSC's software stages (tests/cluster/jsc-modules.yaml, from JSC's
easyconfigs) refuses what JSC's Lmod would: TensorFlow after Stage 2023, an MPI before its compiler. No Slurm:
plain non-login `bash -c` calls with the environment a login shell on JSC would pass to its jobs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.slurm.lmod import GENERATOR, LISTING, build_tree, lmod_environment, run_module_commands

SHIPPED = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())["clusters"]
JSC_CLUSTERS = ("jureca-dc", "juwels-booster", "juwels-cluster")
LMOD_ERROR = "Lmod has detected the following error"


@pytest.fixture(scope="module")
def lmod(tmp_path_factory) -> SimpleNamespace:
    tree = build_tree(tmp_path_factory.mktemp("jsc-modules"))
    return SimpleNamespace(tree=tree, env=lmod_environment(tree))


def load(lmod: SimpleNamespace, *modules: str) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    """`module --force purge; module load MODULES` as the job scripts do; the result and the environment after."""
    result = run_module_commands(
        lmod.env, f"set -uo pipefail\nmodule --force purge\nmodule load {' '.join(modules)} || exit $?\nenv -0"
    )
    env = (
        dict(item.split("=", 1) for item in result.stdout.split("\0") if "=" in item) if result.returncode == 0 else {}
    )
    return result, env


def test_stage_2023_has_tensorflow_2_11_on_its_gcc_and_parastation_mpi(lmod):
    result, env = load(lmod, "Stages/2023", "GCC", "ParaStationMPI", "TensorFlow/2.11.0")
    assert result.returncode == 0, result.stderr
    assert env["LOADEDMODULES"].split(":") == [
        "Stages/2023",
        "GCC/11.3.0",
        "ParaStationMPI/5.8.1-1",
        "TensorFlow/2.11.0-CUDA-11.7",
    ]
    result, env = load(lmod, "Stages/2023", "GCC", "Python")
    assert result.returncode == 0 and env["HPCSEQ_MODULE_PYTHON"] == "3.10.4", result.stderr


@pytest.mark.parametrize("stage", ["2024", "2025"])
def test_no_stage_from_2024_on_has_tensorflow_so_the_old_jsc_line_fails_with_lmods_error(lmod, stage):
    result, _ = load(lmod, f"Stages/{stage}", "GCC", "ParaStationMPI", "TensorFlow")
    assert result.returncode != 0, f"Stages/{stage} loaded TensorFlow:\n{result.stderr}"
    assert LMOD_ERROR in result.stderr and '"TensorFlow"' in result.stderr, result.stderr
    print(f"Lmod on Stages/{stage} GCC ParaStationMPI TensorFlow:\n{result.stderr}")


def test_an_mpi_needs_its_compiler_and_one_mpi_replaces_another(lmod):
    result, _ = load(lmod, "Stages/2025", "OpenMPI")
    assert result.returncode != 0 and LMOD_ERROR in result.stderr, result.stderr
    result, env = load(lmod, "Stages/2025", "GCC", "OpenMPI", "ParaStationMPI")  # family "mpi": one MPI at a time
    assert result.returncode == 0, result.stderr
    assert env["LOADEDMODULES"].split(":") == ["Stages/2025", "GCC/13.3.0", "ParaStationMPI/5.10.0-1"]


@pytest.mark.parametrize("cluster", JSC_CLUSTERS)
def test_the_shipped_jsc_module_line_loads_on_stage_2025(lmod, cluster):
    modules = SHIPPED[cluster]["setup"]["modules"]
    assert modules[0] == "Stages/2025", modules
    result, env = load(lmod, *modules)
    assert result.returncode == 0, f"module load {' '.join(modules)}:\n{result.stderr}"
    loaded = {module.split("/", 1)[0]: module.split("/", 1)[1] for module in env["LOADEDMODULES"].split(":")}
    assert loaded["Stages"] == "2025" and loaded["GCC"] == "13.3.0" and loaded["Python"] == "3.12.3", loaded
    # Horovod 0.28.1 is built against these on the cluster: an MPI with MPI_THREAD_MULTIPLE (OpenMPI; the default
    # ParaStationMPI is built without it), CUDA and NCCL for its GPU operations, CMake for its build
    assert loaded["OpenMPI"] == "5.0.5" and "ParaStationMPI" not in loaded, loaded
    assert {"CUDA", "NCCL", "cuDNN", "CMake"} <= loaded.keys(), loaded


def test_a_batch_script_gets_module_from_the_submitting_environment(lmod, tmp_path):
    """What sbatch does with --export=ALL: a `#!/bin/bash` script, not a login shell, runs with the environment of
    the submission, so `module` is the function Lmod's init exported there."""
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/bash\nset -uo pipefail\ntype -t module\nmodule load Stages/2025 GCC && echo $GCC_OK\n")
    script.chmod(0o755)
    result = subprocess.run([str(script)], capture_output=True, text=True, env={**lmod.env, "GCC_OK": "loaded"})
    assert result.returncode == 0 and result.stdout.split() == ["function", "loaded"], result.stdout + result.stderr


JSC_REPO = os.environ.get("HPCSEQ_JSC_REPO", "/work/.mirror/easybuilders+JSC/repo")


@pytest.mark.skipif(not Path(JSC_REPO).is_dir(), reason=f"no git directory of easybuilders/JSC at {JSC_REPO}")
def test_the_committed_listing_is_what_the_easyconfigs_say(tmp_path):
    out = tmp_path / "jsc-modules.yaml"
    subprocess.run([sys.executable, str(GENERATOR), "extract", "--repo", JSC_REPO, "--out", str(out)], check=True)
    assert out.read_text() == LISTING.read_text(), "rerun tests/cluster/jsc_modules.py extract"
