"""Shared values of the hpcseq.cluster tests: the shipped config with site settings, and hostile strings."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from hpcseq import config as config_module

WORKDIR = "/p/project/training2543/hpcseq"
SITE = {
    "account": "training2543",
    "reservation": "dl-course",
    "mail_user": "jane.doe@fz-juelich.de",
    "mail_type": "end,fail",
}
SHIPPED = config_module.load_yaml(config_module.DEFAULT_CONFIG_PATH)
CLUSTERS = sorted(SHIPPED["clusters"])
EXPERIMENTS = sorted(SHIPPED["experiments"])

# Values that must never reach a shell as code: each is refused, or quoted as a literal.
HOSTILE = [
    "x; rm -rf ~",
    "$(id)",
    "`id`",
    "a\nb",
    "dc-gpu && touch /tmp/pwned",
    "'quoted'",
    "a b",
    "",
    "-x",
    "../../etc",
]


@pytest.fixture(autouse=True)
def _no_budget_from_the_environment(monkeypatch):
    """SBATCH_ACCOUNT (or, inside a Slurm job, the job's account) where the tests run would be the
    budget of every job (hpcseq.cluster.limits)."""
    for variable in ("SBATCH_ACCOUNT", "SLURM_JOB_ACCOUNT", "SLURM_JOB_ID"):
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture(autouse=True)
def _keep_sigusr1():
    """cli.main sets SIGUSR1 to be ignored (for stages), and a shell started while it is ignored
    cannot trap it (the job-script tests send it): put it back after every test that calls it."""
    import signal

    previous = signal.getsignal(signal.SIGUSR1)
    yield
    signal.signal(signal.SIGUSR1, previous)


def shipped_config(**overrides) -> dict:
    """config/config.yaml with overrides, validated (defaults filled, presets applied)."""
    raw = config_module.load_yaml(config_module.DEFAULT_CONFIG_PATH)
    return config_module.validate_config(config_module.deep_merge(raw, overrides))


def on_nodes(cluster: str, nodes: int) -> dict:
    """Overrides: every experiment on `nodes` whole nodes of the cluster (ranks = nodes x its GPUs),
    as `hpcseq sbatch --nodes` asks for them."""
    ranks = nodes * SHIPPED["clusters"][cluster]["gpus_per_node"]
    return {name: {"ranks": ranks} for name in EXPERIMENTS}


def jsc_config(**overrides) -> dict:
    """shipped_config for jobs on JURECA-DC: the site settings (a budget) and every experiment on one
    whole node (JSC charges whole nodes), then the overrides."""
    return shipped_config(
        **config_module.deep_merge({"slurm": SITE, "experiments": on_nodes("jureca-dc", 1)}, overrides)
    )


def charged_nodes(cluster: str) -> dict:
    """The experiments' overrides for a cluster: two whole nodes where it charges whole nodes (the
    JSC-sized job of the README), the shipped ranks elsewhere."""
    return on_nodes(cluster, 2) if SHIPPED["clusters"][cluster].get("charges_whole_nodes") else {}


def assert_shellcheck_clean(paths: list[str]) -> None:
    """shellcheck (bash) finds nothing in these scripts. `make test` installs shellcheck (apt, as
    root); it is a requirement of the tests, not skipped when missing: a skipped check proves nothing."""
    if shutil.which("shellcheck") is None:
        raise AssertionError("shellcheck is not installed: apt-get install shellcheck (make test does, as root)")
    result = subprocess.run(["shellcheck", "--shell=bash", *paths], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
