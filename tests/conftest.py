"""Shared test helpers. The suite runs in two interpreters (see Makefile): tests/training in the
training environment (TensorFlow + Horovod), everything else in the workflow environment.

Tests write only inside their temporary directories, never into the checkout: a Snakemake run
keeps its state (.snakemake/: locks, metadata, logs, and under `--profile slurm` the Slurm logs
that `hpcseq logs` lists) in the directory it runs in, even a dry run or `--lint`, so every
Snakemake run of the tests starts in a run directory under tmp_path (run_snakemake). The session
fixture `checkout_stays_clean` fails the session when a test wrote into the checkout anyway.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
VENV_WORKFLOW = Path(os.environ.get("HPCSEQ_VENVS", REPO_ROOT / ".venv")) / "workflow"
VENV_TRAIN = Path(os.environ.get("HPCSEQ_VENVS", REPO_ROOT / ".venv")) / "train"
SHAKESPEARE = REPO_ROOT / "data" / "tinyshakespeare.txt"
UMICH = REPO_ROOT / "data" / "umich-sentiment-train.txt"
MACBETH = REPO_ROOT / "data" / "macbeth.txt"
SONNETS = REPO_ROOT / "data" / "sonnets.txt"

SHIPPED_EXPERIMENTS = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())["experiments"]
# what a plain `snakemake` run trains (experiments.<name>.default_target, default true)
DEFAULT_RUN = sorted(name for name, experiment in SHIPPED_EXPERIMENTS.items() if experiment.get("default_target", True))

SNAKEFILE = REPO_ROOT / "Snakefile"
SLURM_PROFILE = REPO_ROOT / "slurm"  # `--profile slurm` names it relative to the checkout

sys.path.insert(0, str(REPO_ROOT / "scripts"))
# before any test module imports TensorFlow: hpcseq selects Keras 2 (hpcseq/stack.py)
import hpcseq  # noqa: E402, F401


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


# The checkout stays as it was --------------------------------------------------------------------

# Never compared: the environments, Git, and the caches of Python, pytest and ruff (`make lint`).
NOT_COMPARED = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache"}
# HPCSEQ_UPDATE_GOLDEN=1 rewrites the golden job scripts on purpose (tests/unit/cluster/test_jobscript.py).
GOLDEN = REPO_ROOT / "tests" / "unit" / "cluster" / "golden"


def checkout_state() -> dict[str, tuple[int, int] | None] | None:
    """Every directory and every file Git does not track in the checkout (ignored ones included:
    .snakemake/, results/, logs/, ...), files with their modification time and size; None outside
    a Git checkout or without git. A finer `git status --porcelain --ignored`: that shows an
    ignored directory once, so a write into an existing .snakemake/ or results/ would not show."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=False)
    except OSError:  # no git
        return None
    if listed.returncode != 0:
        return None
    tracked = set(os.fsdecode(listed.stdout).split("\0"))
    state: dict[str, tuple[int, int] | None] = {}
    for directory, subdirectories, files in os.walk(REPO_ROOT):
        subdirectories[:] = [name for name in subdirectories if name not in NOT_COMPARED]
        relative = Path(directory).relative_to(REPO_ROOT)
        for name in subdirectories:
            state[f"{(relative / name).as_posix()}/"] = None
        for name in files:
            path = (relative / name).as_posix()
            if path not in tracked:
                try:
                    info = os.lstat(os.path.join(directory, name))
                except FileNotFoundError:  # removed while listed
                    continue
                state[path] = (info.st_mtime_ns, info.st_size)
    return state


def written_into_checkout(before: dict, after: dict) -> list[str]:
    """What appeared or changed between two checkout_state()s, one line each; a new directory
    stands for everything in it."""
    expected = [f"{GOLDEN.relative_to(REPO_ROOT).as_posix()}/"] if os.environ.get("HPCSEQ_UPDATE_GOLDEN") else []
    new_directories: dict[str, int] = {}
    changes = []
    for path, signature in sorted(after.items()):
        if any(path.startswith(prefix) for prefix in expected) or signature == before.get(path, ()):
            continue
        inside = next((directory for directory in new_directories if path.startswith(directory)), None)
        if inside is not None:
            new_directories[inside] += signature is not None
        elif path not in before and signature is None:
            new_directories[path] = 0
            changes.append(path)
        else:
            changes.append(f"{'new' if path not in before else 'changed':8} {path}")
    return [f"new      {line} ({new_directories[line]} files)" if line in new_directories else line for line in changes]


@pytest.fixture(scope="session", autouse=True)
def checkout_stays_clean():
    """Fails the session (an error at the teardown of its last test) when the tests wrote into the
    checkout: new or changed files or directories that Git does not track."""
    before = checkout_state()
    yield
    if before is None:
        return
    changes = written_into_checkout(before, checkout_state())
    if changes:
        shown = "\n  ".join(changes[:40]) + (f"\n  ... and {len(changes) - 40} more" if len(changes) > 40 else "")
        pytest.fail(
            f"the tests wrote into the checkout {REPO_ROOT} (they must write only under their tmp_path; "
            f"run Snakemake with run_snakemake() of tests/conftest.py):\n  {shown}",
            pytrace=False,
        )


# Snakemake outside the checkout ------------------------------------------------------------------


def run_directory(path: Path) -> Path:
    """A directory to run Snakemake in, outside the checkout. The Snakefile reads the shipped
    config as config/config.yaml, and the shipped config names its datasets data/..., both
    relative to the directory Snakemake runs in: here links to the checkout's."""
    path.mkdir(parents=True, exist_ok=True)
    for name in ("config", "data"):
        if not (path / name).exists():
            (path / name).symlink_to(REPO_ROOT / name, target_is_directory=True)
    return path


def run_snakemake(
    *args: str, cwd: Path, check: bool = True, timeout: float = 1800, env: dict | None = None
) -> subprocess.CompletedProcess:
    """`snakemake <args>` with the checkout's Snakefile, run in `cwd` (made a run_directory()):
    Snakemake's state, under `--profile` the Slurm logs, and the Slurm jobs' working directory are
    there (name the profile by its path: SLURM_PROFILE)."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE), *args]
    result = subprocess.run(command, cwd=run_directory(cwd), capture_output=True, text=True, timeout=timeout, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-5000:]}\n{result.stderr[-5000:]}")
    return result


# The lecture's two named models made small (the built-in ones changed key by key): the same
# layers, fewer units, so that the tests' trainings take seconds.
TINY_LECTURE_MODELS = {
    "char_rnn": {"layers": [{"cell": "simple_rnn", "units": 32, "unroll": True}]},
    "sentiment_lstm": {
        "embedding": 16,
        "layers": [{"cell": "lstm", "units": 8, "dropout": 0.2, "recurrent_dropout": 0.2}],
    },
}


def tiny_workflow_config(tmp_path: Path) -> dict:
    """A whole-pipeline config that runs in about a minute: both lecture models made small, small
    data, 2 ranks, 2 short epochs; every output under tmp_path."""
    return {
        "preset": None,
        "models": TINY_LECTURE_MODELS,
        "results_dir": str(tmp_path / "results"),
        "logs_dir": str(tmp_path / "logs"),
        "benchmarks_dir": str(tmp_path / "benchmarks"),
        "jobs_dir": str(tmp_path / "jobs"),
        "training_python": str(VENV_TRAIN / "bin" / "python"),
        "datasets": {
            "shakespeare": {
                "format": "text",
                "path": str(SHAKESPEARE),
                "sha256": "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
            },
            "umich": {"format": "labelled_sentences", "path": str(UMICH)},
        },
        "experiments": {
            "tiny_char": {
                "model": "char_rnn",
                "dataset": "shakespeare",
                "ranks": 2,
                "preprocess": {"max_characters": 30000},
                "training": {"epochs": 2, "batch_size": 32, "max_steps_per_epoch": 30, "steps_per_execution": 5},
                "evaluation": {"sample_length": 30},
            },
            "tiny_sentiment": {
                "model": "sentiment_lstm",
                "dataset": "umich",
                "ranks": 2,
                "training": {"epochs": 2, "max_steps_per_epoch": 20},
            },
        },
    }


def write_config(tmp_path: Path, config: dict) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="session")
def local_pipeline(tmp_path_factory) -> SimpleNamespace:
    """The whole tiny pipeline (tiny_workflow_config) run once on this machine, 2 ranks under
    horovodrun: checked by the workflow tests, and the reference the Slurm tests compare the
    profile's run with. root (config.yaml, results/, logs/), run_dir (where Snakemake ran)."""
    root = tmp_path_factory.mktemp("local_pipeline")
    config = write_config(root, tiny_workflow_config(root))
    run_snakemake("--cores", "2", "--configfile", str(config), cwd=root / "run")
    return SimpleNamespace(root=root, config=config, run_dir=root / "run", results=root / "results")
