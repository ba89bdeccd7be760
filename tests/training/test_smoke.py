"""The smoke test of a software route (hpcseq.cluster.smoke) run for real: 2 Horovod ranks (Gloo)
on this machine, which has no GPU. Every check prints its line on rank 0, and `hpcseq logs`
reads the same lines back (tests/unit/cluster/test_smoke.py renders and reads its job script)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from hpcseq.events import SMOKE_CHECK, SMOKE_CHECKS
from tests.conftest import REPO_ROOT

PYTHON = sys.executable  # the training environment's interpreter
HOROVODRUN = str(Path(PYTHON).parent / "horovodrun")


def run_smoke(*expectations: str) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    """The smoke test on 2 local ranks: (the run, {check: PASS or FAIL} of the lines it printed)."""
    command = [HOROVODRUN, "-np", "2", "-H", "localhost:2", "--gloo", PYTHON, "-m", "hpcseq.cluster.smoke"]
    result = subprocess.run(
        [*command, *expectations], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT, check=False
    )
    verdicts = {}
    for line in result.stdout.splitlines():
        match = SMOKE_CHECK.search(line)
        if match:
            verdicts[match.group("check")] = match.group("result")
    return result, verdicts


def test_two_ranks_pass_every_check():
    """One run (TensorFlow's start-up is most of its time): 2 ranks on 1 host, a correct allreduce,
    and 0 GPUs, which passes only because none is expected (--expect-gpus 0)."""
    result, verdicts = run_smoke("--expect-ranks", "2", "--expect-nodes", "1", "--expect-gpus", "0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert verdicts == {**dict.fromkeys(SMOKE_CHECKS, "PASS"), "all": "PASS"}, result.stdout
    assert "sum of the ranks 1, expected 1 (n(n-1)/2, n=2)" in result.stdout
    assert "TensorFlow sees 0 GPU(s) on every rank" in result.stdout
