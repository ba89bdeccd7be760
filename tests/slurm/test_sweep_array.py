"""A sweep's trainings as one Slurm job array (`--slurm-array-jobs=sweep_train`, docs/using/sweeps.md)
on the local Slurm cluster: a sweep of 2 models, 1 rank each, 1 epoch of 2 steps. sacct shows one
array job of 2 tasks, each task trained its own model (not the array's first, which the jobstep
plugin would run in every task if the job kept its `mpi` resource), and `hpcseq logs` lists each
task on a line of its own with its state and its Slurm log."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import yaml

from tests.slurm.conftest import PROFILE, sacct, slurm_config, snakemake, wait_for_job
from tests.workflow.test_sweeps import SHIPPED_SWEEPS, tiny_sweep_config

ARRAY_SUBMITTED = re.compile(r"Submitted array job with Snakemake IDs [\d,]+ and SLURM job ID (\d+)")


def test_a_sweeps_trainings_go_out_as_one_array_that_hpcseq_logs_lists_task_by_task(local_slurm, tmp_path):
    config_path = slurm_config(tmp_path, local_slurm, data_stages_on_login_node=True)
    config = yaml.safe_load(config_path.read_text())
    models = SHIPPED_SWEEPS["seattle_forecast"]["models"][:2]
    sweep = tiny_sweep_config(tmp_path, models)
    config.update(datasets=sweep["datasets"], experiments=sweep["experiments"], sweeps=sweep["sweeps"])
    config_path.write_text(yaml.safe_dump(config))
    run_dir = tmp_path / "run"
    table = tmp_path / "results" / "sweeps" / "tiny.json"
    run = snakemake(
        *PROFILE, "--slurm-array-jobs=sweep_train", "--configfile", str(config_path), "--", str(table), cwd=run_dir
    )
    arrays = ARRAY_SUBMITTED.findall(run.stdout + run.stderr)
    assert len(arrays) == 1, run.stderr[-3000:]
    array = arrays[0]
    tasks = [f"{array}_1", f"{array}_2"]
    for task in tasks:
        wait_for_job(task, timeout=60)
    allocations = {row["JobID"]: row["State"] for row in sacct(array) if "." not in row["JobID"]}
    assert allocations == dict.fromkeys(tasks, "COMPLETED")
    # each task trained its own model
    assert [row["model"] for row in json.loads(table.read_text())["rows"]] == models
    logs = subprocess.run(
        [sys.executable, "-m", "hpcseq", "logs", "--json"], cwd=run_dir, capture_output=True, text=True, timeout=300
    )
    assert logs.returncode == 0, logs.stderr
    found = {job["job_id"]: job for job in json.loads(logs.stdout)["jobs"]}
    for task in tasks:
        assert (found[task]["rule"], found[task]["state"]) == ("sweep_train", "completed"), found.get(task)
        assert any(path.endswith(f"rule_sweep_train/{task}.log") for path in found[task]["files"]), found[task]
    listed = subprocess.run(
        [sys.executable, "-m", "hpcseq", "logs"], cwd=run_dir, capture_output=True, text=True, timeout=300
    )
    lines = {line.split()[0]: line.split() for line in listed.stdout.splitlines() if line.strip()}
    assert all(lines[task][1] == "sweep_train" and "completed" in lines[task] for task in tasks), listed.stdout
