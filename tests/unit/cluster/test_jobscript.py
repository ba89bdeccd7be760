"""hpcseq.cluster.jobscript: generated job scripts (golden files), their sections, and hostile names.

The golden files in tests/unit/cluster/golden/ show exactly what a user gets for each cluster; to
accept an intended change, run `HPCSEQ_UPDATE_GOLDEN=1 pytest tests/unit/cluster/test_jobscript.py`
and review the diff.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path

import pytest

from hpcseq import cli
from hpcseq import config as config_module
from hpcseq.cluster import jobscript
from hpcseq.cluster import resources as job_resources
from hpcseq.cluster.clusters import or_stop
from hpcseq.durations import format_time, time_seconds
from hpcseq.errors import ConfigErrors
from tests.unit.cluster.conftest import (
    CLUSTERS,
    SHIPPED,
    SITE,
    WORKDIR,
    assert_shellcheck_clean,
    charged_nodes,
    jsc_config,
    shipped_config,
)
from tests.unit.conftest import job_script_with_stand_ins

GOLDEN = Path(__file__).parent / "golden"


def render(config: dict, cluster: str = "jureca-dc", experiment: str = "shakespeare_char_rnn", **request) -> str:
    script_request = jobscript.script_request(config, cluster, experiment, WORKDIR, "config/config.yaml")
    return jobscript.render_job_script(dataclasses.replace(script_request, **request))


def written_by_the_command(capsys, cluster: str, experiment: str) -> str:
    """The script `hpcseq sbatch` writes by default (the job runs where it is submitted) with the
    site settings, on two whole nodes (`--nodes 2`) where the cluster charges whole nodes."""
    nodes = ["--nodes", "2"] if charged_nodes(cluster) else []
    site = [f"--{key.replace('_', '-')}={value}" for key, value in SITE.items()]
    arguments = ["sbatch", "--cluster", cluster, "--experiment", experiment, *site, *nodes, "--stdout"]
    assert cli.main(arguments) == 0, capsys.readouterr().err
    return capsys.readouterr().out


@pytest.mark.parametrize("cluster", CLUSTERS)
@pytest.mark.parametrize("experiment", ["shakespeare_char_rnn", "umich_sentiment_lstm"])
def test_generated_scripts_match_the_golden_files(cluster, experiment, capsys):
    text = written_by_the_command(capsys, cluster, experiment)
    golden = GOLDEN / f"{cluster}.{experiment}.sbatch"
    if os.environ.get("HPCSEQ_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()
    # deterministic: rendering twice gives the same bytes
    assert text == written_by_the_command(capsys, cluster, experiment)
    if charged_nodes(cluster):  # every step reads the config with the ranks the job was written for
        steps = [line for line in text.splitlines() if " -m hpcseq " in line]
        ranks = 2 * SHIPPED["clusters"][cluster]["gpus_per_node"]
        assert all(f"--config 'experiments={{{experiment}: {{ranks: {ranks}}}}}'" in step for step in steps)


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_generated_scripts_are_valid_bash(cluster, tmp_path):
    config = shipped_config(slurm=SITE, experiments=charged_nodes(cluster))
    for experiment in config["experiments"]:
        script = tmp_path / f"{experiment}.sbatch"
        script.write_text(
            jobscript.render_job_script(
                jobscript.script_request(config, cluster, experiment, "/a b/c", "config/config.yaml")
            )
        )
        subprocess.run(["bash", "-n", str(script)], check=True)


def test_generated_scripts_pass_shellcheck(tmp_path):
    """Every cluster's script, with and without the time-limit warning, run where submitted and in a
    directory with variables and a space: `bash -n` each, then shellcheck all of them at once (the
    experiments' scripts differ only in names and values, which are quoted)."""
    scripts = []
    for cluster in CLUSTERS:
        for signal_seconds in (120, None):
            slurm = {**SITE, "signal_seconds_before_limit": signal_seconds}
            config = shipped_config(slurm=slurm, experiments=charged_nodes(cluster))
            for number, workdir in enumerate((jobscript.SUBMIT_DIR, "$PROJECT/$USER/hpc seq")):
                request = jobscript.script_request(
                    config, cluster, "umich_sentiment_lstm", workdir, "config/config.yaml"
                )
                script = tmp_path / f"{cluster}.{signal_seconds}.{number}.sbatch"
                script.write_text(jobscript.render_job_script(request))
                subprocess.run(["bash", "-n", str(script)], check=True)
                scripts.append(str(script))
    assert_shellcheck_clean(scripts)


def test_juelich_style_header_and_steps():
    config = jsc_config()
    text = jobscript.render_job_script(
        jobscript.script_request(config, "jureca-dc", "shakespeare_char_rnn", WORKDIR, "config/config.yaml")
    )
    for line in (
        "#SBATCH --job-name=shakespeare_char_rnn",
        "#SBATCH --output=shakespeare_char_rnn_out.%j",
        "#SBATCH --error=shakespeare_char_rnn_err.%j",
        "#SBATCH --partition=dc-gpu",
        "#SBATCH --cpus-per-task=32",  # 128 physical cores / 4 GPUs
        "#SBATCH --threads-per-core=1",  # so that they are physical cores
        "#SBATCH --gres=gpu:4",
        "#SBATCH --account=training2543",
        "#SBATCH --reservation=dl-course",
        "#SBATCH --mail-type=END,FAIL",
        or_stop("module --force purge"),  # a setup line that fails ends the job, naming it
        or_stop('source "$PROJECT"/"$USER"/venvs/hpcseq-jureca-dc/train/bin/activate').splitlines()[-1],
        "export CUDA_VISIBLE_DEVICES=0,1,2,3",  # the GPUs the job asked for
        "export NCCL_SOCKET_IFNAME=ib0",  # the cluster's network interface, for every library
        "export OMPI_MCA_btl_tcp_if_include=ib0",
    ):
        assert line in text.splitlines()
    train_line = next(line for line in text.splitlines() if " -m hpcseq train " in line)
    assert train_line.startswith(
        "srun --cpu-bind=none --mpi=pspmix --threads-per-core=1 --kill-on-bad-exit=1 --nodes=1 --ntasks=4 "
        "--ntasks-per-node=4 "
    )


def test_hostile_experiment_and_job_names_are_rejected():
    raw = config_module.load_yaml(config_module.DEFAULT_CONFIG_PATH)
    raw["experiments"]["x; rm -rf ~"] = raw["experiments"]["shakespeare_char_rnn"]
    with pytest.raises(ConfigErrors) as caught:
        config_module.validate_config(raw)
    assert "experiments.x; rm -rf ~" in str(caught.value)


def test_training_interpreter_comes_from_the_cluster_then_the_config_and_the_command_line_wins():
    config = jsc_config()
    # the JSC clusters activate a venv in their setup, and run its python
    assert job_resources.training_interpreter(config, "jureca-dc") == "python"
    # the local cluster has none of its own: the top-level training_python
    assert job_resources.training_interpreter(config, "local") == ".venv/train/bin/python"
    assert job_resources.training_interpreter(config, None) == ".venv/train/bin/python"
    explicit = jobscript.render_job_script(
        jobscript.script_request(
            config, "jureca-dc", "shakespeare_char_rnn", WORKDIR, "config/config.yaml", python="/opt/my env/bin/python"
        )
    )
    assert "srun --nodes=1 --ntasks=1 '/opt/my env/bin/python' -m hpcseq preprocess" in explicit


def test_without_a_time_limit_warning_training_runs_in_the_foreground_and_is_not_requeued(tmp_path):
    text = render(jsc_config(slurm={"signal_seconds_before_limit": None}))
    lines = text.splitlines()
    for absent in ("--signal", "--requeue", "--open-mode", "trap ", "scontrol requeue", "train_pid"):
        assert absent not in text
    train = next(i for i, line in enumerate(lines) if " -m hpcseq train " in line)
    assert not lines[train].endswith("&") and lines[train + 1] == "status=$?"
    assert lines[train + 2].startswith("if [ $status -ne 0 ]; then")
    subprocess.run(["bash", "-n", "-c", text], check=True)


def test_with_a_time_limit_warning_the_batch_shell_gets_it_and_requeues_the_job():
    lines = render(jsc_config()).splitlines()
    assert {"#SBATCH --signal=B:USR1@120", "#SBATCH --requeue", "#SBATCH --open-mode=append"} <= set(lines)
    assert 'scontrol requeue "${SLURM_JOB_ID}"' in [line.strip() for line in lines]


def test_sections_can_be_left_out_and_a_dependency_added():
    full = render(jsc_config()).splitlines()
    text = render(jsc_config(), data_steps=False, evaluate=False, dependency="afterok:12345")
    bare = text.splitlines()
    left_out = [line for line in full if line not in bare]
    assert [line.split(" -m hpcseq ")[1].split()[0] for line in left_out if " -m hpcseq " in line] == [
        "preprocess",
        "vocab",
        "evaluate",
    ]
    assert [line for line in bare if line not in full] == ["#SBATCH --dependency=afterok:12345"]
    assert text.startswith("#!/bin/bash\n") and text.endswith(' done"\n')


def test_every_script_line_comes_in_the_order_the_job_runs():
    lines = render(jsc_config()).splitlines()
    order = [
        "#!/bin/bash",
        "#SBATCH --job-name=shakespeare_char_rnn",
        "set -uo pipefail",
        "# software environment",
        'export SRUN_CPUS_PER_TASK="${SLURM_CPUS_PER_TASK:-1}"',
    ]
    positions = [lines.index(line) for line in order]
    steps = [line.split(" -m hpcseq ")[1].split()[0] for line in lines if " -m hpcseq " in line]
    assert positions == sorted(positions)
    assert steps == ["preprocess", "vocab", "train", "evaluate"]


def test_only_training_is_rendered():
    request = jobscript.script_request(jsc_config(), "jureca-dc", "shakespeare_char_rnn", WORKDIR, "c.yaml")
    cpu_plan = job_resources.plan_job(jsc_config(), "jureca-dc", "shakespeare_char_rnn", "evaluate")
    with pytest.raises(ValueError, match="training stage"):
        jobscript.render_job_script(dataclasses.replace(request, plan=cpu_plan))


SCONTROL = """#!/bin/bash
echo "scontrol $*"
"""


# srun stand-ins (no Slurm in the unit tests): the preprocessing step sends Slurm's warning to the
# batch shell, as `--signal=B:USR1@N` would; the training step records the warning it was given.
WARNED_DURING_PREPROCESSING = """#!/bin/bash
case "$*" in
  *" hpcseq preprocess "*) kill -USR1 "$PPID"; sleep 0.2 ;;
  *" hpcseq train "*) echo "training saw HPCSEQ_TIME_LIMIT_WARNING=${HPCSEQ_TIME_LIMIT_WARNING:-}" ;;
esac
exit 0
"""


def _run_with_stand_ins(tmp_path, srun: str) -> subprocess.CompletedProcess:
    """The shipped config's job script run by bash with stand-ins for srun (given) and scontrol
    (it echoes its arguments), as job 7."""
    script, environment = job_script_with_stand_ins(tmp_path, {"srun": srun, "scontrol": SCONTROL})
    environment |= {"SLURM_JOB_ID": "7", "SLURM_JOB_NODELIST": "n1"}
    return subprocess.run(["bash", str(script)], capture_output=True, text=True, env=environment, timeout=60)


def test_a_time_limit_warning_during_the_data_steps_reaches_training(tmp_path):
    """Issue 11.6: the trap was set after the data steps, so a warning that came during
    preprocessing ended the batch shell (bash's default for USR1)."""
    result = _run_with_stand_ins(tmp_path, WARNED_DURING_PREPROCESSING)
    assert result.returncode == 0, result.stderr
    assert "training saw HPCSEQ_TIME_LIMIT_WARNING=1" in result.stdout
    assert result.stdout.rstrip().endswith(" done")


# The training step's ranks are still starting when Slurm's warning comes: the batch shell passes
# it on, and the stand-in, like a rank without its handler yet, dies of it (srun: exit 138).
WARNED_WHILE_TRAINING_STARTS = """#!/bin/bash
case "$*" in
  *" hpcseq train "*) {warn}sleep 10 ;;
esac
exit 0
"""


def test_a_warning_that_ends_the_ranks_while_they_start_requeues_the_job(tmp_path):
    warned = _run_with_stand_ins(tmp_path, WARNED_WHILE_TRAINING_STARTS.format(warn='kill -USR1 "$PPID"; '))
    assert warned.returncode == 0, warned.stderr
    assert "warned while training started: requeueing job 7" in warned.stdout
    assert "scontrol requeue 7" in warned.stdout and not warned.stdout.rstrip().endswith(" done")


def test_ranks_killed_by_sigusr1_without_a_warning_are_a_failed_training(tmp_path):
    # the same exit code (138) with no warning to the batch shell: somebody else's signal
    killed = _run_with_stand_ins(tmp_path, WARNED_WHILE_TRAINING_STARTS.format(warn="kill -USR1 $$; "))
    assert killed.returncode == 138 and "training failed with exit code 138" in killed.stderr
    assert "requeueing" not in killed.stdout


def test_a_script_runs_in_the_folder_it_was_submitted_from_and_says_so_when_that_is_wrong(tmp_path):
    """Issue 13.6: the job runs where it is submitted ($SLURM_SUBMIT_DIR), not in the path of the
    machine that wrote it; submitted from a folder without the config, it stops before any step."""
    config = config_module.load_config(config_module.DEFAULT_CONFIG_PATH)
    request = jobscript.script_request(
        config, "local", "shakespeare_char_rnn", jobscript.SUBMIT_DIR, "config/config.yaml"
    )
    script = tmp_path / "job.sbatch"
    script.write_text(jobscript.render_job_script(request))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text('#!/bin/bash\necho "srun in $PWD: $*"\n')
    (bin_dir / "srun").chmod(0o755)
    environment = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "SLURM_JOB_ID": "1", "SLURM_JOB_NODELIST": "n1"}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    wrong = subprocess.run(
        ["bash", str(script)], capture_output=True, text=True, env={**environment, "SLURM_SUBMIT_DIR": str(elsewhere)}
    )
    assert wrong.returncode == 1 and "srun" not in wrong.stdout
    assert f"hpcseq: no config/config.yaml in {elsewhere}: submit the job from the top directory" in wrong.stderr
    clone = tmp_path / "clone"
    (clone / "config").mkdir(parents=True)
    (clone / "config" / "config.yaml").write_text("{}\n")
    (clone / ".venv" / "train" / "bin").mkdir(parents=True)
    (clone / ".venv" / "train" / "bin" / "python").write_text("#!/bin/bash\n")
    (clone / ".venv" / "train" / "bin" / "python").chmod(0o755)
    right = subprocess.run(
        ["bash", str(script)], capture_output=True, text=True, env={**environment, "SLURM_SUBMIT_DIR": str(clone)}
    )
    assert right.returncode == 0, right.stderr
    steps = [line for line in right.stdout.splitlines() if line.startswith("srun in ")]
    assert len(steps) == 4 and all(line.startswith(f"srun in {clone}: ") for line in steps)


@pytest.mark.parametrize("cluster", ["jureca-dc", "local"])
def test_the_data_job_runs_both_data_steps_as_one_cpu_task_and_matches_its_golden_file(cluster, capsys, tmp_path):
    """`hpcseq sbatch --data-only`: the job a training script written with --no-data-steps depends on."""
    nodes = ["--nodes", "2"] if charged_nodes(cluster) else []
    site = [f"--{key.replace('_', '-')}={value}" for key, value in SITE.items()]
    arguments = ["sbatch", "--cluster", cluster, "--experiment", "shakespeare_char_rnn", *site, *nodes]
    assert cli.main([*arguments, "--data-only", "--stdout"]) == 0, capsys.readouterr().err
    text = capsys.readouterr().out
    golden = GOLDEN / f"{cluster}.shakespeare_char_rnn-data.sbatch"
    if os.environ.get("HPCSEQ_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()
    config = shipped_config()
    cpu = config["clusters"][cluster]["partitions"]["cpu"]
    assert f"#SBATCH --partition={cpu}" in text and "--gres" not in text and "--nodes=" not in text.split("set -uo")[0]
    steps = [line for line in text.splitlines() if " -m hpcseq " in line]
    assert [step.split(" -m hpcseq ")[1].split()[0] for step in steps] == ["preprocess", "vocab"]
    assert all(step.startswith("srun --nodes=1 --ntasks=1 ") for step in steps)
    # its time is both data stages' limits together
    limit = sum(time_seconds(config["slurm"]["time"][stage]) for stage in ("preprocess", "vocabulary"))
    assert f"#SBATCH --time={format_time(limit)}" in text
    script = tmp_path / "data.sbatch"
    script.write_text(text)
    subprocess.run(["bash", "-n", str(script)], check=True)
    assert_shellcheck_clean([str(script)])
    assert cli.main([*arguments, "--data-only", "--no-data-steps", "--stdout"]) == 2
    assert "option --data-only: writes the data job alone" in capsys.readouterr().err


# ------------------------------------------------------------------ setup lines that fail

# Stand-ins for JSC's setup commands: Lmod's `module` refuses what it does not know (as Lmod does,
# with its message and exit code 1) and records what it loaded; srun records each step.
FAILING_MODULE = """#!/bin/bash
case "$1" in
  --force) exit 0 ;;
  load) shift
        for name in "$@"; do
          if [ "$name" = "{unknown}" ]; then
            printf 'Lmod has detected the following error:  The following module(s) are unknown: "%s"\\n' "$name" >&2
            exit 1
          fi
        done
        echo "loaded $*" ;;
esac
"""
RECORDING_SRUN = '#!/bin/bash\necho "srun $*"\n'


def _jsc_job(tmp_path: Path, unknown_module: str, venv_exists: bool, python_exists: bool = True):
    """The shipped JURECA-DC job (modules route) run by bash with a `module` that refuses
    `unknown_module`, the venv of `setup.venv` under $PROJECT (or not), and srun stand-ins."""
    config = jsc_config()
    request = jobscript.script_request(config, "jureca-dc", "shakespeare_char_rnn", str(tmp_path), "config/config.yaml")
    script = tmp_path / "job.sbatch"
    script.write_text(jobscript.render_job_script(request))
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text("{}\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in {"module": FAILING_MODULE.replace("{unknown}", unknown_module), "srun": RECORDING_SRUN}.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    project, user = tmp_path / "project", "jane"
    venv = Path(
        SHIPPED["clusters"]["jureca-dc"]["setup"]["venv"].replace("$PROJECT", str(project)).replace("$USER", user)
    )
    if venv_exists:
        (venv / "bin").mkdir(parents=True)
        # the venv puts its bin/ first on PATH, with (or without) the interpreter in it
        (venv / "bin" / "activate").write_text(f'export PATH="{venv / "bin"}:$PATH"\n')
        if python_exists:
            (venv / "bin" / "python").write_text("#!/bin/bash\n")
            (venv / "bin" / "python").chmod(0o755)
    path = f"{bin_dir}:/usr/bin:/bin"  # no python of the machine's: only the venv may bring one
    environment = {"PATH": path, "PROJECT": str(project), "USER": user, "SLURM_SUBMIT_DIR": str(tmp_path)}
    environment |= {"SLURM_JOB_ID": "7", "SLURM_JOB_NODELIST": "n1"}
    return subprocess.run(["bash", str(script)], capture_output=True, text=True, env=environment, timeout=60)


def test_a_module_that_does_not_exist_stops_the_job_before_any_step(tmp_path):
    """Issue 23: with `set -uo pipefail` alone, a failed `module load` let the job go on with
    whatever Python it found. Now it ends there, naming the line, and nothing runs."""
    modules = SHIPPED["clusters"]["jureca-dc"]["setup"]["modules"]
    result = _jsc_job(tmp_path, unknown_module=modules[-1], venv_exists=True)
    assert result.returncode == 1
    assert "srun" not in result.stdout and "loaded" not in result.stdout
    assert "The following module(s) are unknown" in result.stderr
    assert f"hpcseq: setup failed (exit 1): module load {' '.join(modules)}" in result.stderr


def test_a_missing_venv_stops_the_job_naming_its_activate_script(tmp_path):
    result = _jsc_job(tmp_path, unknown_module="none", venv_exists=False)
    assert result.returncode == 1 and "srun" not in result.stdout
    assert "hpcseq: setup failed (exit 1): source " in result.stderr and "/bin/activate" in result.stderr


def test_a_missing_interpreter_after_the_setup_stops_the_job(tmp_path):
    result = _jsc_job(tmp_path, unknown_module="none", venv_exists=True, python_exists=False)
    assert result.returncode == 1 and "srun" not in result.stdout
    assert "hpcseq: setup failed (exit 1): the interpreter python is not there after the setup lines" in result.stderr


def test_with_every_setup_line_working_the_job_runs_its_four_steps(tmp_path):
    result = _jsc_job(tmp_path, unknown_module="none", venv_exists=True)
    assert result.returncode == 0, result.stderr
    steps = [line.split(" -m hpcseq ")[1].split()[0] for line in result.stdout.splitlines() if " -m hpcseq " in line]
    assert steps == ["preprocess", "vocab", "train", "evaluate"]
