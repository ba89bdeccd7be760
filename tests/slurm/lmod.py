"""Real Lmod (Debian's `lmod` package, installed by tests/cluster/local_slurm.sh) over an empty module tree that
mirrors JSC's software stages (tests/cluster/jsc-modules.yaml, written from JSC's easyconfigs by
tests/cluster/jsc_modules.py), so that `module load` refuses what JSC's Lmod would.

On JSC, `module` is a shell function that the login shell defines and exports (Lmod's init/bash: `export -f
module ml`); `sbatch` copies the submitting environment into the job (--export=ALL, what the Snakemake plugin
hard-codes), and bash imports exported functions (`BASH_FUNC_module%%`), so a `#!/bin/bash` batch script, not a
login shell, has `module` too. `lmod_environment` builds such a submitting environment: Lmod initialised by its own
init/bash, MODULEPATH on the tree's Stages modules, the exported functions."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

LMOD_INIT = Path("/usr/share/lmod/lmod/init/bash")  # Debian 12's lmod 8.6
GENERATOR = REPO_ROOT / "tests" / "cluster" / "jsc_modules.py"
LISTING = REPO_ROOT / "tests" / "cluster" / "jsc-modules.yaml"
LOCAL_SLURM = REPO_ROOT / "tests" / "cluster" / "local_slurm.sh"
# What a previous Lmod (or the caller's shell) left in the environment and must not leak into the new one.
LMOD_PREFIXES = ("LMOD_", "_LMFILES_", "LOADEDMODULES", "MODULEPATH", "MODULESHOME", "__LMOD", "_ModuleTable")


def ensure_lmod() -> None:
    """Lmod is there; as root, install it with the test cluster's packages if it is not."""
    if LMOD_INIT.is_file():
        return
    if os.geteuid() != 0:
        raise RuntimeError(f"no Lmod ({LMOD_INIT}): run `{LOCAL_SLURM} install` as root (apt-get install lmod)")
    result = subprocess.run([str(LOCAL_SLURM), "install"], capture_output=True, text=True, timeout=900, cwd="/")
    if result.returncode != 0 or not LMOD_INIT.is_file():
        raise RuntimeError(f"installing Lmod failed:\n{result.stdout}\n{result.stderr}")


def build_tree(directory: Path) -> Path:
    """The JSC-like module tree, generated from the committed listing into `directory`; returns the path to put on
    MODULEPATH (the Stages modules)."""
    subprocess.run(
        [sys.executable, str(GENERATOR), "generate", "--listing", str(LISTING), "--out", str(directory)], check=True
    )
    return directory / "stages"


def lmod_environment(modulepath: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """`base` (default: this process's environment) with Lmod initialised as a login shell on JSC would leave it:
    LMOD_* settings, MODULEPATH=`modulepath`, and the exported functions `module` and `ml`."""
    ensure_lmod()
    env = {
        k: v
        for k, v in (os.environ if base is None else base).items()
        if not k.startswith(LMOD_PREFIXES) and not k.startswith("BASH_FUNC_")
    }
    env["MODULEPATH"] = str(modulepath)
    env["LMOD_IGNORE_CACHE"] = "1"  # the tree is new each time: no spider cache to trust
    env["LMOD_REDIRECT"] = "no"
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", f'source {LMOD_INIT} && MODULEPATH="$MODULEPATH" && env -0'],
        capture_output=True,
        env=env,
        check=True,
    )
    initialised = dict(item.split("=", 1) for item in result.stdout.decode().split("\0") if "=" in item)
    for name in ("BASH_FUNC_module%%", "BASH_FUNC_ml%%"):
        if name not in initialised:
            raise RuntimeError(f"Lmod's init/bash exported no {name}: {sorted(initialised)}")
    for name in ("SHLVL", "_", "PWD", "OLDPWD"):
        initialised.pop(name, None)
    return initialised


def run_module_commands(env: dict[str, str], commands: str) -> subprocess.CompletedProcess:
    """`commands` in a plain non-login `bash -c` with `env`, as a batch script would run them."""
    return subprocess.run(["bash", "--noprofile", "--norc", "-c", commands], capture_output=True, text=True, env=env)
