"""Generated sbatch scripts on the real local Slurm: accepted by sbatch --test-only, valid bash,
and one submitted by hand completes and leaves <job>_out.<id> and <job>_err.<id>."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT, SHIPPED_EXPERIMENTS
from tests.slurm.conftest import slurm_config, wait_for_job


def render(config_path, output_dir, *extra):
    """The local scripts, written to run in this checkout: the tests submit them from other folders
    (by default a script runs in the folder it is submitted from)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "hpcseq",
            "sbatch",
            "--configfile",
            str(config_path),
            "--cluster",
            "local",
            "--output-dir",
            str(output_dir),
            "--workdir",
            str(REPO_ROOT),
            *extra,
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=output_dir,
    )
    return sorted((output_dir / "local").glob("*.sbatch"))


def test_every_local_script_passes_bash_n_and_sbatch_test_only(local_slurm, tmp_path):
    scripts = render(REPO_ROOT / "config" / "config.yaml", tmp_path, "--account", local_slurm)
    assert sorted(script.stem for script in scripts) == sorted(SHIPPED_EXPERIMENTS)
    for script in scripts:
        subprocess.run(["bash", "-n", str(script)], check=True)
        result = subprocess.run(["sbatch", "--test-only", str(script)], capture_output=True, text=True, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "to start at" in result.stderr + result.stdout
        assert "partition gpus" in result.stderr + result.stdout


def test_a_submitted_script_completes_and_leaves_juelich_style_logs(local_slurm, tmp_path):
    config = slurm_config(tmp_path, local_slurm)
    script = next(s for s in render(config, tmp_path / "jobs") if s.name == "tiny_char.sbatch")
    submit_dir = tmp_path / "submit"
    submit_dir.mkdir()
    result = subprocess.run(
        ["sbatch", "--parsable", str(script)], capture_output=True, text=True, check=True, cwd=submit_dir
    )
    job_id = result.stdout.strip().split(";")[0]
    row = wait_for_job(job_id, timeout=600)
    out, err = submit_dir / f"tiny_char_out.{job_id}", submit_dir / f"tiny_char_err.{job_id}"
    assert row["State"] == "COMPLETED", out.read_text()[-3000:] + err.read_text()[-3000:]
    assert out.is_file() and err.is_file()
    text = out.read_text()
    assert "epoch 2/2" in text and "done" in text
    summary = json.loads((tmp_path / "results" / "tiny_char" / "model" / "training_summary.json").read_text())
    assert summary["launcher"] == "srun" and summary["ranks"] == 2
    assert (tmp_path / "results" / "tiny_char" / "eval" / "metrics.json").is_file()


@pytest.mark.parametrize("value", ["x; touch /tmp/hpcseq-pwned", "$(touch /tmp/hpcseq-pwned)"])
def test_hostile_account_is_refused_by_the_command(value, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "hpcseq",
            "sbatch",
            "--cluster",
            "local",
            "--account",
            value,
            "--output-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "config key slurm.account" in result.stderr
    assert not list(tmp_path.rglob("*.sbatch"))
