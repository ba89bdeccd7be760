"""hpcseq.training.provenance, its parts without TensorFlow and Horovod: the git commit and dirty
flag (on real temporary repositories), the Slurm ids, the rank-to-host map and its log line, the
versions and the MPI library. tests/training/test_train.py checks the whole of it in a real
training with two Horovod ranks."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import numpy
import pytest

from hpcseq.events import RANKS_ON_HOSTS, parse_rank_hosts, rank_hosts_text, ranks_by_host_text
from hpcseq.training.provenance import (
    PACKAGE_DIRECTORY,
    git_provenance,
    module_version,
    mpi_library,
    rank_host_map,
    slurm_ids,
    software_text,
    software_versions,
)


def git(directory: Path, *arguments: str) -> str:
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-C", str(directory), *arguments]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def repository(tmp_path) -> Path:
    """A git repository with one commit: code/module.py, and .gitignore ignoring results/."""
    root = tmp_path / "repo"
    (root / "code").mkdir(parents=True)
    (root / "code" / "module.py").write_text("x = 1\n")
    (root / ".gitignore").write_text("results/\n")
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "first")
    return root


# ------------------------------------------------------------------------------------- git


def test_a_clean_checkout_gives_its_commit_and_no_changes(repository):
    found = git_provenance(repository / "code")
    assert found == {
        "commit": git(repository, "rev-parse", "HEAD"),
        "dirty": False,
        "repository": str(repository),
        "reason": None,
    }


def test_an_ignored_file_is_no_change(repository):
    (repository / "results").mkdir()
    (repository / "results" / "metrics.jsonl").write_text("{}\n")
    assert git_provenance(repository / "code")["dirty"] is False


@pytest.mark.parametrize("change", ["modified", "untracked", "staged"])
def test_a_changed_tree_is_dirty_with_the_same_commit(repository, change):
    head = git(repository, "rev-parse", "HEAD")
    if change == "modified":
        (repository / "code" / "module.py").write_text("x = 2\n")
    elif change == "untracked":
        (repository / "code" / "new.py").write_text("y = 1\n")
    else:
        (repository / "code" / "module.py").write_text("x = 3\n")
        git(repository, "add", "code/module.py")
    found = git_provenance(repository / "code")
    assert (found["commit"], found["dirty"], found["reason"]) == (head, True, None)


def test_the_status_leaves_the_index_alone(repository):
    """A plain `git status` rewrites the index when the files' stat data differ from it (and takes
    its lock to do so): a training does neither to a checkout that others may be using."""
    index = repository / ".git" / "index"
    os.utime(repository / "code" / "module.py", (1, 1))
    os.utime(index, (1_000_000_000, 1_000_000_000))
    git_provenance(repository / "code")
    assert index.stat().st_mtime == 1_000_000_000
    git(repository, "status", "--porcelain")  # what the test guards against
    assert index.stat().st_mtime != 1_000_000_000


def test_a_directory_outside_any_repository_has_no_commit_and_says_why(tmp_path):
    found = git_provenance(tmp_path)
    assert (found["commit"], found["dirty"], found["repository"]) == (None, None, None)
    assert "not a git repository" in found["reason"]


def test_a_repository_without_a_commit_says_so(tmp_path):
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "module.py").write_text("x = 1\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    found = git_provenance(tmp_path / "code")
    assert found["commit"] is None and "rev-parse --verify HEAD" in found["reason"]


def test_code_the_repository_does_not_track_is_not_given_its_commit(repository):
    installed = repository / "results" / "site-packages" / "hpcseq"  # an installed copy inside a checkout
    installed.mkdir(parents=True)
    (installed / "__init__.py").write_text("")
    found = git_provenance(installed)
    assert found["commit"] is None
    assert found["reason"] == f"{installed} is not tracked by the git repository {repository} (an installed copy?)"


def test_without_git_the_reason_is_recorded(repository, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert git_provenance(repository / "code") == {
        "commit": None,
        "dirty": None,
        "repository": None,
        "reason": "git is not installed (not on PATH)",
    }


def test_by_default_the_repository_is_the_one_holding_the_running_package():
    found = git_provenance()
    top = subprocess.run(
        ["git", "-C", str(PACKAGE_DIRECTORY), "rev-parse", "--show-toplevel"], capture_output=True, text=True
    )
    if top.returncode != 0:  # a copy of the package outside a checkout (an sdist, say)
        assert found["commit"] is None and found["reason"]
    else:
        assert found["repository"] == top.stdout.strip()
        assert found["commit"] == git(PACKAGE_DIRECTORY, "rev-parse", "HEAD")


# ------------------------------------------------------------------------------- Slurm, hosts


def test_slurm_ids_are_those_set_and_none_outside_slurm():
    environ = {
        "SLURM_JOB_ID": "4711",
        "SLURM_STEP_ID": "0",
        "SLURM_JOB_NODELIST": "jwb[0001-0002]",
        "SLURM_RESTART_COUNT": "1",
        "SLURM_CLUSTER_NAME": "juwels",
        "SLURM_PROCID": "3",  # differs between ranks: not an id of the job
        "SLURM_ARRAY_TASK_ID": "",
        "HOME": "/home/u",
    }
    assert slurm_ids(environ) == {
        "SLURM_CLUSTER_NAME": "juwels",
        "SLURM_JOB_ID": "4711",
        "SLURM_STEP_ID": "0",
        "SLURM_RESTART_COUNT": "1",
        "SLURM_JOB_NODELIST": "jwb[0001-0002]",
    }
    assert slurm_ids({"HOME": "/home/u"}) is None


def entry(rank: int, host: str) -> dict:
    return {"rank": rank, "hostname": host, "local_rank": rank % 2, "local_size": 2, "pid": 100 + rank}


def test_the_host_map_names_each_host_once_in_rank_order():
    entries = [entry(0, "n2"), entry(1, "n2"), entry(2, "n1"), entry(3, "n1")]
    assert rank_host_map(entries) == {"ranks": entries, "hosts": ["n2", "n1"], "host_count": 2}


def test_the_log_line_of_the_host_map_is_read_back():
    hosts = ["jwb0001.juwels", "jwb0001.juwels", "jwb0002.juwels", "jwb0002.juwels"]
    line = RANKS_ON_HOSTS.text(ranks=rank_hosts_text(hosts))
    assert line == "ranks on hosts: 0:jwb0001.juwels 1:jwb0001.juwels 2:jwb0002.juwels 3:jwb0002.juwels"
    assert parse_rank_hosts(RANKS_ON_HOSTS.match(line).group("ranks")) == hosts
    assert parse_rank_hosts("1:b 0:a") == ["a", "b"]
    assert RANKS_ON_HOSTS.match("ranks on hosts: ") is None
    assert RANKS_ON_HOSTS.match("ranks on hosts: n1 n2") is None


def test_ranks_by_host_groups_the_ranks_of_each_host():
    assert ranks_by_host_text(["n1"] * 4 + ["n2"] * 4) == "n1: ranks 0-3; n2: ranks 4-7"
    assert ranks_by_host_text(["a", "b", "a", "a"]) == "a: ranks 0,2-3; b: rank 1"
    assert ranks_by_host_text(["a", "b", "c"], most_hosts=2) == "a: rank 0; b: rank 1; 1 more hosts"


# -------------------------------------------------------------------------------- software


def test_versions_are_the_imported_modules():
    versions = software_versions()
    assert versions["python"] == platform.python_version()
    assert versions["numpy"] == numpy.__version__
    assert set(versions) == {"python", "tensorflow", "keras", "horovod", "numpy"}  # no Horovod module given
    assert module_version("hpcseq_no_such_module") is None


def test_an_mpi_library_that_cannot_be_loaded_is_a_reason_not_a_failure(tmp_path):
    maps = tmp_path / "maps"
    missing = tmp_path / "lib" / "libmpi.so.40"
    maps.write_text(
        f"7f0000000000-7f0000001000 r-xp 00000000 08:01 1234 {missing}\n"
        "7f0000002000-7f0000003000 r-xp 00000000 08:01 1235 /usr/lib/x86_64-linux-gnu/libmpi_cxx.so.40\n"
        "7f0000004000-7f0000005000 rw-p 00000000 00:00 0\n"
    )
    found = mpi_library(maps)
    assert (found["library"], found["standard"], found["path"]) == (None, None, None)
    assert found["reason"].startswith(f"{missing}: ")


def test_the_log_line_of_the_software():
    code = {"commit": "48a66027687f0d8525f00473078ad3516867ed4e", "dirty": True, "reason": None}
    versions = {
        "python": "3.11.7",
        "tensorflow": "2.21.0",
        "keras": "tf_keras 2.21.0",
        "horovod": "0.28.1",
        "numpy": "2.4.6",
        "horovod_built": {"mpi": True, "gloo": True, "nccl": False, "controller": "gloo"},
        "mpi": {"library": "Open MPI v4.1.4, package: Debian OpenMPI", "standard": "3.1", "path": "/l/libmpi.so"},
    }
    assert software_text(code, versions) == (
        "code 48a66027687f with changes, python 3.11.7, tensorflow 2.21.0, keras tf_keras 2.21.0, horovod 0.28.1, "
        "numpy 2.4.6, "
        "controller gloo, MPI Open MPI v4.1.4, package: Debian OpenMPI"
    )
    unknown = {"commit": None, "dirty": None, "reason": "git is not installed (not on PATH)"}
    assert software_text(unknown, {**versions, "mpi": None}).startswith(
        "code unknown (git is not installed (not on PATH)), python 3.11.7"
    )
