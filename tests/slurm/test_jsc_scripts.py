"""JURECA-DC's job scripts, both software routes and the data job, run end to end on the real local
Slurm (issue 13).

JSC's software cannot run here: there are no JSC modules, no Apptainer and no `jutil` on these
machines. The scripts are rendered from the shipped `jureca-dc` definition, with only what the
test cluster cannot be changed (its partitions, 2 nodes of 2 stand-in GPUs and 4 cores, the
loopback interface, `--mpi=pmix` for ParaStation's `pspmix`), and run under REAL Lmod over an
empty module tree that mirrors JSC's stages (tests/slurm/lmod.py: `module load` refuses what JSC's
Lmod would, e.g. TensorFlow on Stage 2024), with STAND-INS that record what they were asked into
one log, each line with the modules Lmod has loaded ($LOADEDMODULES):
  - `module`: Lmod's own shell function, exported from the submitting environment as a JSC login
    shell exports it (sbatch passes it on), wrapped to record its arguments and a failure;
  - the venv of `setup.venv` under $PROJECT: an `activate` that puts its bin/ first on PATH and
    a `python` there that records the rank, host and CUDA_VISIBLE_DEVICES, then runs the real
    training environment's Python;
  - `apptainer`: records its arguments, checks the image exists, applies `--env`, and runs the
    command with the image's `python` (another recording wrapper of the real one);
  - `jutil env activate -p <budget>` runs on the login node before submission and exports
    $PROJECT and $SCRATCH (apps.fz-juelich.de/jsc/hps/jureca/environment.html): the test sets
    both in the submitting environment, as it would.
The log then shows the order (modules or the container before any Python), the image and its
binds, and that every rank saw `--threads-per-core=1` and the GPUs its node was asked for."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from tests.conftest import REPO_ROOT, VENV_TRAIN
from tests.slurm.conftest import JSC_ACCOUNT, sacct_row, slurm_config, wait_for_job
from tests.slurm.lmod import build_tree, lmod_environment

CLUSTER = "jureca-dc"
SHIPPED = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())["clusters"][CLUSTER]
# Only what the test cluster cannot be: its partitions and node size, its interface, its MPI plugin.
TEST_CLUSTER = {
    "partitions": {"cpu": "jsc", "gpu": "jsc", "gpu_devel": "jsc-devel"},
    "gpus_per_node": 2,
    "cpus_per_node": 4,
    "srun_flags": ["--cpu-bind=none", "--mpi=pmix"],  # pspmix is ParaStation's, not installed here
    "network": {"interface": "lo"},
    "max_time": {"cpu": "24:00:00", "gpu": "24:00:00", "gpu_devel": "00:10:00"},
    "max_nodes": {"gpu_devel": 2},
}

# One line per call: job, host, rank, CUDA_VISIBLE_DEVICES, SLURM_THREADS_PER_CORE, Lmod's loaded modules, the call.
RECORD = """\
printf '%s\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\n' "${SLURM_JOB_ID:--}" "$(hostname)" "${SLURM_PROCID:--}" \
"${CUDA_VISIBLE_DEVICES:--}" "${SLURM_THREADS_PER_CORE:--}" "${LOADEDMODULES:--}" "$*" >> "$STAND_IN_LOG"
"""
# Lmod's `module` function, renamed, under a recording `module` (both exported: BASH_FUNC_<name>%%)
LMOD_MODULE = "__hpcseq_lmod_module"
MODULE = (
    '() {{ local __hpcseq_rc\n( set -- module "$@"\n{record})\n'
    + LMOD_MODULE
    + ' "$@"; __hpcseq_rc=$?\n[ "$__hpcseq_rc" -eq 0 ] || ( set -- "module failed: exit $__hpcseq_rc"\n{record})\n'
    + 'return "$__hpcseq_rc"\n}}'
)
PYTHON = """#!/bin/bash
# stand-in: records the call, then runs the real training environment's Python
set -- {where} "$@"
{record}shift
exec {python} "$@"
"""
ACTIVATE = """# stand-in for the venv's activate (sourced): its bin/ first on PATH
(
set -- activate
{record})
export VIRTUAL_ENV={venv}
export PATH={venv}/bin:"$PATH"
"""
APPTAINER = """#!/bin/bash
# stand-in for Apptainer: records the call, checks the image, applies --env, runs the command
# with the image's python (a recording wrapper) first on PATH
set -- apptainer "PMIX_SECURITY_MODE=${{PMIX_SECURITY_MODE:-}}" "$@"
{record}shift 2
[ "$1" = exec ] || {{ echo "apptainer stand-in: only exec is known" >&2; exit 2; }}
shift
while [ $# -gt 0 ]; do
    case "$1" in
        --nv) shift ;;
        --bind|-B) [ -d "$2" ] || {{ echo "apptainer: bind $2 does not exist" >&2; exit 2; }}; shift 2 ;;
        --env) export "${{2?}}"; shift 2 ;;
        -*) echo "apptainer stand-in: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
[ -f "$1" ] || {{ echo "apptainer: image $1 not found" >&2; exit 255; }}
shift
export PATH={image_bin}:"$PATH"
exec "$@"
"""


def executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)


@pytest.fixture(scope="module")
def login(tmp_path_factory) -> SimpleNamespace:
    """$PROJECT and $SCRATCH as `jutil env activate` leaves them, Lmod initialised over the JSC-like
    module tree (its `module` function exported, wrapped to record), the stand-ins on PATH, the venv
    and the image where the shipped definition expects them."""
    root = tmp_path_factory.mktemp("jsc")
    project, scratch, user = root / "project", root / "scratch", os.environ.get("USER", "root")
    log = root / "stand-ins.log"
    real_python = VENV_TRAIN / "bin" / "python"
    venv = Path(str(SHIPPED["setup"]["venv"]).replace("$PROJECT", str(project)).replace("$USER", user))
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "activate").write_text(ACTIVATE.format(record=RECORD, venv=venv))
    executable(venv / "bin" / "python", PYTHON.format(where="venv-python", record=RECORD, python=real_python))
    image_bin = root / "image" / "bin"
    executable(image_bin / "python", PYTHON.format(where="image-python", record=RECORD, python=real_python))
    executable(root / "bin" / "apptainer", APPTAINER.format(record=RECORD, image_bin=image_bin))
    image = Path(str(SHIPPED["container"]["image"]).replace("$PROJECT", str(project)).replace("$USER", user))
    image.parent.mkdir(parents=True)
    image.write_bytes(b"")  # the stand-in only checks that it exists
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SBATCH_", "SLURM_"))}
    env.update(PATH=f"{root / 'bin'}:{env['PATH']}", PROJECT=str(project), SCRATCH=str(scratch), USER=user)
    env["STAND_IN_LOG"] = str(log)
    env = lmod_environment(build_tree(root / "modules"), base=env)
    env[f"BASH_FUNC_{LMOD_MODULE}%%"] = env["BASH_FUNC_module%%"]
    env["BASH_FUNC_module%%"] = MODULE.format(record=RECORD)
    return SimpleNamespace(root=root, env=env, log=log, scratch=scratch, image=image, venv=venv)


def jureca_config(login: SimpleNamespace, software: str) -> Path:
    """The tiny experiment on the shipped jureca-dc definition fitted to the test cluster; results
    in $SCRATCH, expanded where the job runs."""
    place = login.root / software
    path = slurm_config(place, JSC_ACCOUNT, cluster=CLUSTER, results_dir="$SCRATCH/hpcseq/results")
    config = yaml.safe_load(path.read_text())
    config["clusters"][CLUSTER].update(TEST_CLUSTER, software=software)
    config["experiments"] = {"tiny_char": config["experiments"]["tiny_char"]}
    config["experiments"]["tiny_char"]["training"]["epochs"] = 1
    config["slurm"]["time"] = {
        "preprocess": "00:05:00",
        "vocabulary": "00:05:00",
        "train": "00:10:00",
        "evaluate": "00:05:00",
    }
    path.write_text(yaml.safe_dump(config))
    return path


def hpcseq(login: SimpleNamespace, *arguments: str, cwd: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "hpcseq", *arguments], capture_output=True, text=True, cwd=cwd, env=login.env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def submit(login: SimpleNamespace, script: Path, cwd: Path, *options: str) -> str:
    result = subprocess.run(
        ["sbatch", "--parsable", *options, str(script)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=login.env,
        check=True,
    )
    return result.stdout.strip().split(";")[0]


def records(login: SimpleNamespace, job_id: str) -> list[dict]:
    """The stand-ins' log lines of one job, in order."""
    rows = []
    for line in login.log.read_text().splitlines():
        job, host, rank, gpus, threads, modules, call = line.split("\t")
        if job == job_id:
            row = {"host": host, "rank": rank, "gpus": gpus, "threads_per_core": threads, "call": call}
            rows.append({**row, "modules": [] if modules == "-" else modules.split(":")})
    return rows


@pytest.fixture(scope="module")
def jobs(local_slurm, login) -> SimpleNamespace:
    """Both routes at once, two nodes each. The modules route: the data job (`--data-only`, one CPU
    task), then the training job written with --no-data-steps, submitted to start after it
    (2 x 2 ranks, evaluation); the container route: the smoke test."""
    modules_config, container_config = jureca_config(login, "modules"), jureca_config(login, "container")
    submit_dir = login.root / "submit"
    submit_dir.mkdir()
    common = ("--account", JSC_ACCOUNT, "--output-dir", str(login.root / "jobs"), "--workdir", str(REPO_ROOT))
    sbatch = ("sbatch", "--configfile", str(modules_config), "--cluster", CLUSTER, "--nodes", "2", *common)
    hpcseq(login, *sbatch, "--data-only", cwd=submit_dir)
    hpcseq(login, *sbatch, "--no-data-steps", cwd=submit_dir)
    scripts = login.root / "jobs" / CLUSTER
    data = submit(login, scripts / "tiny_char-data.sbatch", submit_dir)
    training = submit(login, scripts / "tiny_char.sbatch", submit_dir, f"--dependency=afterok:{data}")
    smoke = ("smoke-test", "--configfile", str(container_config), "--cluster", CLUSTER, "--expect-gpus", "0")
    hpcseq(login, *smoke, *common, cwd=submit_dir)
    smoke = submit(login, scripts / "hpcseq-smoke-test.sbatch", submit_dir)
    rows = {
        "smoke": wait_for_job(smoke, timeout=300),
        "data": wait_for_job(data, timeout=300),
        "training": wait_for_job(training, timeout=600),
    }
    return SimpleNamespace(
        ids={"data": data, "training": training, "smoke": smoke},
        submit=submit_dir,
        rows=rows,
        scripts={name: (scripts / file).read_text() for name, file in SCRIPTS.items()},
        out={
            "data": (submit_dir / f"tiny_char-data_out.{data}").read_text(),
            "training": (submit_dir / f"tiny_char_out.{training}").read_text(),
            "smoke": (submit_dir / f"hpcseq-smoke-test_out.{smoke}").read_text(),
        },
    )


SCRIPTS = {"data": "tiny_char-data.sbatch", "training": "tiny_char.sbatch", "smoke": "hpcseq-smoke-test.sbatch"}
MODULES_FIRST = ["module --force purge", "module load " + " ".join(SHIPPED["setup"]["modules"]), "activate"]


def module_names(row: dict) -> list[str]:
    """The names of the modules Lmod had loaded when the call was recorded (Lmod adds the versions)."""
    return [module.split("/")[0] for module in row["modules"]]


SHIPPED_NAMES = [module.split("/")[0] for module in SHIPPED["setup"]["modules"]]


def test_the_data_job_prepares_the_data_on_one_cpu_task_and_training_waits_for_it(jobs, login):
    assert jobs.rows["data"]["State"] == "COMPLETED", jobs.out["data"][-3000:]
    calls = records(login, jobs.ids["data"])
    assert [row["call"] for row in calls[:3]] == MODULES_FIRST, calls[:4]  # a failed load would show here
    assert all(module_names(row) == SHIPPED_NAMES for row in calls[2:]), calls  # the data steps ran on them
    steps = [row["call"].split(" -m hpcseq ")[1].split()[0] for row in calls[3:]]
    assert steps == ["preprocess", "vocab"], calls
    data, training = (sacct_row(jobs.ids[name], "JobID,Partition,NNodes,Start,End") for name in ("data", "training"))
    assert (data["Partition"], data["NNodes"]) == ("jsc", "1")
    assert training["Start"] >= data["End"]  # afterok: training started once the data job ended
    assert "-m hpcseq preprocess" not in jobs.scripts["training"]


def test_the_modules_route_loads_its_modules_and_venv_before_any_python_and_trains_on_two_nodes(jobs, login):
    assert jobs.rows["training"]["State"] == "COMPLETED", jobs.out["training"][-3000:]
    script = jobs.scripts["training"]
    assert "#SBATCH --threads-per-core=1" in script and "#SBATCH --nodes=2" in script
    calls = records(login, jobs.ids["training"])
    assert [row["call"] for row in calls[:3]] == MODULES_FIRST, calls[:4]  # before any Python
    assert not any(row["call"].startswith(("image-python", "apptainer")) for row in calls)
    training = [row for row in calls if " -m hpcseq train " in f" {row['call']} "]
    assert sorted(row["rank"] for row in training) == ["0", "1", "2", "3"]
    assert len({row["host"] for row in training}) == 2  # two nodes, two ranks each
    assert {row["gpus"] for row in training} == {"0,1"}  # the node's two GPUs, as asked
    assert {row["threads_per_core"] for row in training} == {"1"}
    assert all(module_names(row) == SHIPPED_NAMES for row in training), training  # every rank on the modules
    # results went to $SCRATCH, expanded where the job ran
    assert (login.scratch / "hpcseq" / "results" / "tiny_char" / "eval" / "metrics.json").is_file()


def test_the_container_route_runs_every_rank_in_the_image_with_its_binds(jobs, login):
    out = jobs.out["smoke"]
    assert jobs.rows["smoke"]["State"] == "COMPLETED", out[-3000:]
    assert "PASS horovod: 4 rank(s) on 2 host(s)" in out and "PASS allreduce" in out
    calls = records(login, jobs.ids["smoke"])
    containers = [row for row in calls if row["call"].startswith("apptainer")]
    assert sorted(row["rank"] for row in containers) == ["0", "1", "2", "3"]
    expected = (
        f"apptainer PMIX_SECURITY_MODE=native exec --nv --bind {REPO_ROOT} --bind {login.scratch} "
        f"--env PYTHONPATH={REPO_ROOT}/scripts {login.image} python -m hpcseq.cluster.smoke"
    )
    assert {row["call"].split(" --expect")[0] for row in containers} == {expected}
    pythons = [row for row in calls if "python" in row["call"].split()[0]]
    assert pythons and {row["call"].split()[0] for row in pythons} == {"image-python"}  # never the host's
    assert calls.index(containers[0]) < calls.index(pythons[0])
    assert [row["call"] for row in calls if row["call"].startswith("module")] == ["module --force purge"]
    assert all(row["modules"] == [] for row in containers), containers  # no module reaches the container
    assert {row["gpus"] for row in containers} == {"0,1"} and {row["threads_per_core"] for row in containers} == {"1"}
    assert re.search(r"--threads-per-core=1 .*apptainer exec --nv", jobs.scripts["smoke"])
    # on the development partition, two nodes, charged to the budget; `hpcseq logs` reads the checks
    row = sacct_row(jobs.ids["smoke"], "JobID,Partition,Account,NNodes")
    assert (row["Partition"], row["Account"], row["NNodes"]) == ("jsc-devel", JSC_ACCOUNT, "2"), row
    logs = subprocess.run(
        [sys.executable, "-m", "hpcseq", "logs", jobs.ids["smoke"]], capture_output=True, text=True, cwd=jobs.submit
    )
    assert logs.returncode == 0, logs.stderr
    assert re.search(r"PASS all: \d+ checks passed", logs.stdout) and "smoke test" in logs.stdout, logs.stdout
