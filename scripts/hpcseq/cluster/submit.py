"""Submitting a written job script from here (`hpcseq smoke-test --submit`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from hpcseq.errors import ConfigError


def submit_job_script(script: Path) -> str:
    """Submit `script` with sbatch; the job's id (sbatch --parsable prints `id` or `id;cluster`)."""
    result = subprocess.run(["sbatch", "--parsable", str(script)], capture_output=True, text=True)
    if result.returncode != 0:
        raise ConfigError("--submit", f"sbatch failed: {(result.stderr or result.stdout).strip()}")
    return result.stdout.strip().split(";")[0]
