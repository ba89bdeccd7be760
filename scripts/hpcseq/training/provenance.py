"""What produced a training's result: where its ranks ran, the code and software it ran with,
the Slurm job and the launcher. Rank 0 records it in model/training_summary.json ("provenance")
and logs the rank-to-host map (events.RANKS_ON_HOSTS).

    ranks, hosts, host_count    every rank's host, local and cross rank, pid (Horovod allgather)
    launcher                    plain, horovodrun, mpirun or srun (distributed.detect_launcher)
    slurm                       job, step, array and restart ids, node list, cluster (None outside Slurm)
    code                        git commit of the repository holding hpcseq, and whether the tree had
                                changes; commit None with the reason where that cannot be known
    versions                    Python, TensorFlow, Horovod (and what it was built with), numpy, MPI

Nothing here fails a training: what cannot be found is recorded as None with the reason. Importing
this module loads neither TensorFlow nor Horovod (tests/unit/training/ runs it without them).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib
import os
import platform
import re
import shutil
import socket
import subprocess
from pathlib import Path

from hpcseq.events import RANKS_ON_HOSTS, get_logger, rank_hosts_text
from hpcseq.stack import keras_in_use

# The Slurm variables that identify the job a training ran in (those that are set).
SLURM_IDS = (
    "SLURM_CLUSTER_NAME",
    "SLURM_JOB_ID",
    "SLURM_STEP_ID",
    "SLURM_ARRAY_JOB_ID",
    "SLURM_ARRAY_TASK_ID",
    "SLURM_RESTART_COUNT",
    "SLURM_JOB_NODELIST",
)
GIT_TIMEOUT_SECONDS = 30
PACKAGE_DIRECTORY = Path(__file__).resolve().parents[1]  # scripts/hpcseq
# A loaded MPI library (Open MPI's libmpi.so.40, MPICH's libmpi.so.12, libmpich.so, Cray's
# libmpi_cray.so); libmpi_cxx and the Fortran bindings lack MPI_Get_library_version and are skipped.
MPI_LIBRARY = re.compile(r"/lib(?:mpi|mpich)(?:_cray|_gnu\w*|_intel\w*)?\.so[.\d]*$")
MPI_MAX_LIBRARY_VERSION_STRING = 8192  # the largest of the implementations' limits (MPICH)


# --------------------------------------------------------------------------------- where it ran


def rank_entry(ranks) -> dict:
    """This rank's place: what it contributes to the rank-to-host map."""
    return {
        "rank": ranks.rank,
        "hostname": socket.gethostname(),
        "local_rank": ranks.local_rank,
        "local_size": ranks.local_size,
        "cross_rank": ranks.hvd.cross_rank(),
        "cross_size": ranks.hvd.cross_size(),
        "pid": os.getpid(),
    }


def gather_rank_hosts(ranks) -> list[dict]:
    """Every rank's rank_entry(), in rank order, on every rank (Horovod allgather; all ranks call it)."""
    gathered = ranks.collectives.allgather_object(rank_entry(ranks), name="hpcseq_rank_hosts")
    return sorted(gathered, key=lambda entry: entry["rank"])


def rank_host_map(entries: list[dict]) -> dict:
    """The map as the summary records it: the ranks, the distinct hosts (in rank order), their number."""
    hosts = list(dict.fromkeys(entry["hostname"] for entry in entries))
    return {"ranks": entries, "hosts": hosts, "host_count": len(hosts)}


def slurm_ids(environ=None) -> dict | None:
    """The Slurm variables of SLURM_IDS that are set; None outside Slurm."""
    env = os.environ if environ is None else environ
    found = {name: env[name] for name in SLURM_IDS if env.get(name)}
    return found or None


# ------------------------------------------------------------------------------------ the code


def git_provenance(directory: Path = PACKAGE_DIRECTORY) -> dict:
    """The commit checked out in the git repository that holds `directory` (by default the hpcseq
    package that runs) and whether its tree had changes (`git status --porcelain`: tracked files
    changed, or files neither tracked nor ignored). Where that cannot be told, commit and dirty are
    None and `reason` says why."""
    found = {"commit": None, "dirty": None, "repository": None, "reason": None}
    if shutil.which("git") is None:
        return {**found, "reason": "git is not installed (not on PATH)"}
    try:
        top = _git(directory, "rev-parse", "--show-toplevel")
        if not _git(directory, "ls-files", "--", "."):
            return {**found, "reason": f"{directory} is not tracked by the git repository {top} (an installed copy?)"}
        commit = _git(directory, "rev-parse", "--verify", "HEAD")
        changes = _git(directory, "status", "--porcelain")
    except GitUnavailable as unavailable:
        return {**found, "reason": str(unavailable)}
    return {**found, "commit": commit, "dirty": bool(changes), "repository": top}


class GitUnavailable(Exception):
    """git could not tell (not a checkout, no commit yet, a repository owned by someone else, ...)."""


def _git(directory: Path, *arguments: str) -> str:
    """git's stdout, stripped; GitUnavailable with the first line of its complaint. No optional
    locks: `git status` of a training leaves the index alone (others may be using the checkout)."""
    command = ["git", "--no-optional-locks", "-C", str(directory), *arguments]
    try:
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
            env={**os.environ, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"},
        )
    except subprocess.TimeoutExpired:
        raise GitUnavailable(f"`git {' '.join(arguments)}` took more than {GIT_TIMEOUT_SECONDS} s") from None
    except OSError as error:
        raise GitUnavailable(f"git could not run: {error}") from None
    if result.returncode != 0:
        complaint = next((line.strip() for line in result.stderr.splitlines() if line.strip()), "no message")
        raise GitUnavailable(f"`git {' '.join(arguments)}` in {directory} failed: {complaint}")
    return result.stdout.strip()


# -------------------------------------------------------------------------------- the software


def module_version(name: str) -> str | None:
    """The module's __version__ (importing it if need be); None where it is not installed."""
    try:
        return str(importlib.import_module(name).__version__)
    except (ImportError, AttributeError):
        return None


def keras_version() -> str | None:
    """The Keras that `tf.keras` is, as "<package> <version>" (tf_keras 2.21.0 on hpcseq's stack);
    None where TensorFlow is not installed."""
    try:
        import tensorflow as tf
    except ImportError:
        return None
    keras = keras_in_use(tf)
    return f"{keras['package']} {keras['version']}"


def mpi_library(maps: Path = Path("/proc/self/maps")) -> dict:
    """The MPI library loaded into this process (the one Horovod was linked with): its path, its
    own version string (MPI_Get_library_version: implementation and release) and the MPI standard
    it implements (MPI_Get_version). Both calls are allowed before MPI_Init and after MPI_Finalize."""
    candidates = _loaded_mpi_libraries(maps) or [name for name in [ctypes.util.find_library("mpi")] if name]
    problems = []
    for path in candidates:
        try:
            library = ctypes.CDLL(path)
            text = ctypes.create_string_buffer(MPI_MAX_LIBRARY_VERSION_STRING)
            length, major, minor = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
            if library.MPI_Get_library_version(text, ctypes.byref(length)) != 0:
                raise OSError("MPI_Get_library_version failed")
            standard = None
            if library.MPI_Get_version(ctypes.byref(major), ctypes.byref(minor)) == 0:
                standard = f"{major.value}.{minor.value}"
        except (OSError, AttributeError) as error:
            problems.append(f"{path}: {error}")
            continue
        first_line = next((line for line in text.value.decode(errors="replace").splitlines() if line.strip()), "")
        return {"library": " ".join(first_line.split()), "standard": standard, "path": path}
    reason = "; ".join(problems) if problems else "no MPI library is loaded or found"
    return {"library": None, "standard": None, "path": None, "reason": reason}


def _loaded_mpi_libraries(maps: Path) -> list[str]:
    try:
        lines = maps.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    paths = (line.split(maxsplit=5)[-1] for line in lines if len(line.split(maxsplit=5)) == 6)
    return list(dict.fromkeys(path for path in paths if MPI_LIBRARY.search(path)))


def horovod_build(hvd) -> dict:
    """What Horovod was built with, and the controller this run uses (MPI or Gloo; after hvd.init())."""
    controller = "mpi" if hvd.mpi_enabled() else "gloo" if hvd.gloo_enabled() else None
    return {
        "mpi": bool(hvd.mpi_built()),
        "gloo": bool(hvd.gloo_built()),
        "nccl": bool(hvd.nccl_built()),
        "controller": controller,
    }


def software_versions(hvd=None) -> dict:
    """Python and the libraries a training runs with; with Horovod's module `hvd`, what it was built
    with and, if with MPI, the MPI library."""
    versions = {
        "python": platform.python_version(),
        "tensorflow": module_version("tensorflow"),
        "keras": keras_version(),
        "horovod": module_version("horovod"),
        "numpy": module_version("numpy"),
    }
    if hvd is not None:
        build = horovod_build(hvd)
        versions["horovod_built"] = build
        versions["mpi"] = mpi_library() if build["mpi"] else None
    return versions


def software_text(code: dict, versions: dict) -> str:
    """One line for the training log: the commit and the versions."""
    commit = code["commit"][:12] if code["commit"] else f"unknown ({code['reason']})"
    if code["dirty"]:
        commit += " with changes"
    parts = [
        f"code {commit}",
        *(f"{name} {versions.get(name)}" for name in ("python", "tensorflow", "keras", "horovod", "numpy")),
    ]
    controller = (versions.get("horovod_built") or {}).get("controller")
    if controller:
        parts.append(f"controller {controller}")
    if (versions.get("mpi") or {}).get("library"):
        parts.append(f"MPI {versions['mpi']['library']}")
    return ", ".join(parts)


# ------------------------------------------------------------------------------------ together


def record_provenance(ranks, launcher: str) -> dict | None:
    """Every rank takes part in the allgather of the rank-to-host map; rank 0 logs the map and the
    software, and returns the provenance (the others None)."""
    entries = gather_rank_hosts(ranks)
    if not ranks.is_root:
        return None
    provenance = {
        **rank_host_map(entries),
        "launcher": launcher,
        "slurm": slurm_ids(),
        "code": git_provenance(),
        "versions": software_versions(ranks.hvd),
    }
    log = get_logger()
    log.info(RANKS_ON_HOSTS.text(ranks=rank_hosts_text([entry["hostname"] for entry in entries])))
    log.info(software_text(provenance["code"], provenance["versions"]))
    return provenance
