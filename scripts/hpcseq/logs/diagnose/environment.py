"""The job's software: the module system, the interpreter and its packages, the virtual
environment, shared libraries, the job script's setup lines, and the smoke test's own verdict."""

from __future__ import annotations

import re

from hpcseq.events import HOROVODRUN_MISSING, INTERPRETER_MISSING, SCRIPT_SETUP_FAILED, SMOKE_CHECK
from hpcseq.logs.diagnose.facts import Diagnosis, Evidence, Facts, find_all
from hpcseq.logs.diagnose.rules import LineRule, Rule

# Tried in this order: the first that matches a line is the diagnosis.
ENVIRONMENT = (
    LineRule(
        "unknown_module",
        "environment",
        re.compile(r"The following module\(s\) are unknown:\s*(?P<what>.*)"),
        "The cluster's module system does not know a module the job loads: {what}",
        "Fix clusters.<cluster>.setup.modules in the config: `module spider <name>` shows the exact names and "
        "versions, and which modules must be loaded before (e.g. Stages/2024, GCC, ParaStationMPI).",
    ),
    LineRule(
        "no_module_command",
        "environment",
        re.compile(r"\bmodule: command not found"),
        "The job's shell has no `module` command.",
        "Start the script with `#!/bin/bash -l` or source the site's module setup (e.g. /etc/profile.d/lmod.sh), "
        "or leave setup.modules empty on a machine without environment modules.",
    ),
    LineRule(
        "interpreter_missing",
        "environment",
        INTERPRETER_MISSING.pattern,
        "The training interpreter {what} does not exist on the node.",
        "Set training_python in the config to the cluster's TensorFlow 2.21 + Horovod environment (run `make setup` "
        "for .venv/train), or load the modules/venv that provide it in the cluster's setup.",
    ),
    LineRule(
        "horovodrun_missing",
        "environment",
        HOROVODRUN_MISSING.pattern,
        "horovodrun was not found next to the training interpreter nor on PATH.",
        "Install Horovod into the training environment (`make setup`), or set local_launcher: mpirun.",
    ),
    LineRule(
        "import_error",
        "environment",
        re.compile(r"\b(?:ModuleNotFoundError|ImportError): (?P<what>.*)"),
        "Python could not import a module: {what}",
        "The interpreter that ran the job lacks it: check training_python in the config and the cluster's setup "
        "(modules and venv in clusters.<cluster>.setup); test with `<python> -c 'import <module>'` after the same "
        "module loads on a login node.",
    ),
    LineRule(
        "venv_missing",
        "environment",
        re.compile(r"(?P<what>\S+/bin/activate): No such file or directory"),
        "The virtual environment {what} does not exist.",
        "Create it on a login node after the same module loads (`HPCSEQ_VENVS=<dir> envs/setup.sh --gpu "
        "--training-only`, see envs/README.md) or fix clusters.<cluster>.setup.venv in the config.",
    ),
    LineRule(
        "executable_missing",
        "environment",
        re.compile(r"execve\(\): (?P<what>\S+): No such file or directory"),
        "srun could not start {what}: no such file.",
        "Check the interpreter path (training_python) and the cluster's setup (modules, venv) on the compute nodes.",
    ),
    LineRule(
        "shared_library_missing",
        "environment",
        re.compile(r"(?P<what>\S+\.so[.\d]*): cannot open shared object file"),
        "A shared library is missing: {what}",
        "Load the modules that provide it (CUDA, cuDNN, NCCL, MPI) in the cluster's setup, the same ones Horovod "
        "and TensorFlow were built against.",
    ),
    LineRule(
        "module_error",
        "environment",
        re.compile(r"Lmod has detected the following error: *(?P<what>.*)"),
        "The module system reported an error: {what}",
        "Fix clusters.<cluster>.setup in the config (module names, `module restore` collection); `module spider` "
        "shows what exists.",
    ),
    LineRule(
        "setup_line_failed",
        "environment",
        SCRIPT_SETUP_FAILED.pattern,
        "The job stopped at a setup line that failed: {what}",
        "Run the same line on a login node to see why (the lines above it in the job's error file show its own "
        "message); fix clusters.<cluster>.setup in the config, or the path it names.",
    ),
)


# What to do when a check of the smoke test (cluster/smoke.py, `hpcseq smoke-test`) failed.
SMOKE_ADVICE = {
    "python": "The route's Python is outside what hpcseq supports (3.11 to 3.13): load another stage's Python "
    "module (Stages/2025: Python 3.12) and rebuild the venv with envs/setup.sh, or use the container route.",
    "keras": "tf.keras is not Keras 2 (tf_keras): install tf-keras of TensorFlow's version in the route "
    "(envs/training-*.txt pins both) and start Python through hpcseq, which sets TF_USE_LEGACY_KERAS=1.",
    "horovod_build": "Horovod lacks an operation or controller the job needs (NCCL for GPUs, MPI under srun): "
    "rebuild it with envs/horovod/build.sh after loading the CUDA, NCCL and OpenMPI modules (the build log "
    "in ~/.cache/hpcseq/wheels/ says what CMake found), or use the container route.",
    "imports": "The software route lacks TensorFlow, Horovod or a package of hpcseq: on the modules route check "
    "the venv (made by envs/setup.sh after the module loads; `pip install -e .` in it); on the container route "
    "run the image's python with the import on a login node (README, JURECA-DC).",
    "gpus": "TensorFlow sees fewer GPUs than the node gives each rank: check that the job got them (--gres), "
    "CUDA_VISIBLE_DEVICES, the CUDA of the route (the module's, or apptainer exec --nv), and a GPU build of "
    "TensorFlow; on a cluster without GPUs write the test with --expect-gpus 0.",
    "horovod": "Horovod did not start all ranks on all nodes: check the srun flags (--mpi=pspmix on JSC), on the "
    "container route PMIX_SECURITY_MODE and the image's MPI, and the network interface (clusters.<name>.network).",
    "allreduce": "An allreduce gave a wrong sum: the collective library (NCCL, MPI or Gloo) or the network between "
    "the nodes is broken; check clusters.<name>.network and NCCL_DEBUG=INFO in a rerun.",
}


def smoke_test(facts: Facts) -> Diagnosis | None:
    """The smoke test's own verdict: the checks that printed FAIL."""
    failed = [
        (line, match)
        for line, match in find_all(facts.lines, SMOKE_CHECK.pattern)
        if match.group("result") == "FAIL" and match.group("check") != "all"
    ]
    if not failed:
        return None
    line, match = failed[0]
    checks = "; ".join(f"{found.group('check')}: {found.group('detail')}" for _, found in failed)
    return Diagnosis(
        "smoke_test",
        f"The smoke test failed: {checks}",
        Evidence.of(line),
        SMOKE_ADVICE.get(match.group("check"), "Read the job's output (the files listed above)."),
        also=[Evidence.of(other) for other, _ in failed[1:]],
    )


RULES = (Rule("smoke_test", smoke_test), *ENVIRONMENT)
