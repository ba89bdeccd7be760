"""`hpcseq smoke-test`: the job script (golden file, bash -n, shellcheck), its checks' verdicts, and
what `hpcseq logs` makes of its output. The checks themselves run for real with 2 Horovod ranks in
tests/training/test_smoke.py; no job is submitted here (sbatch is a stand-in)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from hpcseq import cli
from hpcseq.cluster import jobscript, smoke
from hpcseq.cluster.clusters import or_stop
from hpcseq.errors import ConfigErrors
from hpcseq.events import SMOKE_CHECK, SMOKE_JOB_NAME
from hpcseq.logs.assemble import collect
from hpcseq.logs.render import render_detail
from hpcseq.logs.sources import Slurm
from tests.unit.cluster.conftest import CLUSTERS, SHIPPED, assert_shellcheck_clean, jsc_config, shipped_config

GOLDEN = Path(__file__).parent / "golden"
NO_SLURM = Slurm(sacct="/nonexistent/sacct", squeue="/nonexistent/squeue")


def smoke_text(config: dict, cluster: str, workdir: str = jobscript.SUBMIT_DIR, **options) -> str:
    request = jobscript.smoke_request(config, cluster, workdir, "config/config.yaml")
    return jobscript.render_smoke_script(request, **options)


def test_the_smoke_test_of_jureca_dc_matches_its_golden_file(capsys):
    arguments = ["smoke-test", "--cluster", "jureca-dc", "--account", "training2543", "--stdout"]
    assert cli.main(arguments) == 0, capsys.readouterr().err
    text = capsys.readouterr().out
    golden = GOLDEN / "jureca-dc.smoke-test.sbatch"
    if os.environ.get("HPCSEQ_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


def test_the_smoke_test_is_two_whole_nodes_of_the_devel_partition_started_as_training_is():
    text = smoke_text(jsc_config(), "jureca-dc")
    lines = text.splitlines()
    for line in (
        f"#SBATCH --job-name={SMOKE_JOB_NAME}",
        "#SBATCH --time=00:10:00",
        "#SBATCH --partition=dc-gpu-devel",
        "#SBATCH --nodes=2",
        "#SBATCH --ntasks-per-node=4",
        "#SBATCH --threads-per-core=1",
        "#SBATCH --gres=gpu:4",
        "#SBATCH --account=training2543",
        "export CUDA_VISIBLE_DEVICES=0,1,2,3",
        or_stop("module load " + " ".join(SHIPPED["clusters"]["jureca-dc"]["setup"]["modules"])),
    ):
        assert line in lines, line
    step = next(line for line in lines if "hpcseq.cluster.smoke" in line)
    assert step == (
        "srun --cpu-bind=none --mpi=pspmix --threads-per-core=1 --kill-on-bad-exit=1 --nodes=2 --ntasks=8 "
        "--ntasks-per-node=4 python -m hpcseq.cluster.smoke --expect-ranks=8 --expect-nodes=2 --expect-gpus=4"
    )
    container = smoke_text(jsc_config(clusters={"jureca-dc": {"software": "container"}}), "jureca-dc")
    step = next(line for line in container.splitlines() if "hpcseq.cluster.smoke" in line)
    assert ' env PMIX_SECURITY_MODE=native apptainer exec --nv --bind "$PWD" ' in step
    assert "module load" not in container


def test_a_missing_budget_is_refused_before_anything_is_written(tmp_path, capsys):
    code = cli.main(["smoke-test", "--cluster", "jureca-dc", "--output-dir", str(tmp_path)])
    assert code != 0
    assert "slurm.account" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_smoke_scripts_of_every_cluster_and_route_are_valid_bash_and_pass_shellcheck(cluster, tmp_path):
    routes = ["modules", *(["container"] if SHIPPED["clusters"][cluster].get("container") else [])]
    paths = []
    for route in routes:
        config = shipped_config(slurm={"account": "budget"}, clusters={cluster: {"software": route}})
        for number, workdir in enumerate((jobscript.SUBMIT_DIR, "$PROJECT/$USER/hpc seq")):
            path = tmp_path / f"{route}.{number}.sbatch"
            path.write_text(smoke_text(config, cluster, workdir))
            subprocess.run(["bash", "-n", str(path)], check=True)
            paths.append(str(path))
    assert_shellcheck_clean(paths)


def test_a_cluster_without_a_devel_partition_uses_its_gpu_partition_and_gpus_can_be_left_unchecked():
    text = smoke_text(shipped_config(), "local", expect_gpus=0)
    assert "#SBATCH --partition=gpus" in text.splitlines()
    assert "--expect-gpus=0" in text


def test_a_hostile_workdir_is_refused_by_the_option():
    with pytest.raises(ConfigErrors) as caught:
        jobscript.smoke_request(jsc_config(), "jureca-dc", "a\nb", "config/config.yaml")
    assert caught.value.errors[0].key == "--workdir"


# ------------------------------------------------------------------------------ the verdicts


def test_the_checks_fail_on_too_few_gpus_ranks_or_hosts():
    seen = [("n1", 4), ("n1", 4), ("n2", 0), ("n2", 4)]
    hosts = [host for host, _ in seen]
    results = smoke._results(0, "tensorflow x", seen, hosts, (4, 4, 2, 4))
    verdicts = {check: passed for passed, check, _ in results}
    assert verdicts == {"imports": True, "gpus": False, "horovod": True}
    gpus = next(detail for _, check, detail in results if check == "gpus")
    assert gpus == "TensorFlow sees 0 GPU(s) per rank: 0, 4 (ranks differ); expected 4"
    results = smoke._results(0, "v", seen, hosts, (4, 8, 2, 0))
    assert {check: passed for passed, check, _ in results} == {"imports": True, "gpus": True, "horovod": False}


@pytest.mark.parametrize(
    ("version", "passed"),
    [((3, 12, 3), True), ((3, 11, 7), True), ((3, 13, 5), True), ((3, 10, 12), False), ((3, 14, 0), False)],
)
def test_the_python_check_names_the_version_and_the_supported_range(version, passed):
    assert smoke.python_result(version) == (
        passed,
        "python",
        f"python {'.'.join(map(str, version))}; hpcseq supports 3.11 to 3.13",
    )


def test_the_keras_check_needs_the_switch_and_tf_keras_2():
    keras2 = {"package": "tf_keras", "version": "2.21.0"}
    assert smoke.keras_result("1", keras2) == (True, "keras", "tf.keras is tf_keras 2.21.0 (TF_USE_LEGACY_KERAS=1)")
    passed, _, detail = smoke.keras_result(None, keras2)
    assert not passed and "(TF_USE_LEGACY_KERAS unset)" in detail and "hpcseq needs tf_keras 2.x" in detail
    passed, _, detail = smoke.keras_result("1", {"package": "keras", "version": "3.15.1"})
    assert not passed and detail.startswith("tf.keras is keras 3.15.1 (TF_USE_LEGACY_KERAS=1)")
    passed, _, detail = smoke.keras_result("1", {"error": "ModuleNotFoundError: No module named 'tf_keras'"})
    assert not passed and "tf.keras does not load: ModuleNotFoundError" in detail


def test_the_horovod_build_check_needs_nccl_for_gpus_and_the_launchers_controller():
    srun, horovodrun = {}, {smoke.GLOO_RENDEZVOUS_VARIABLE: "10.0.0.1"}
    passed, check, detail = smoke.horovod_build_result(22703, True, True, 4, srun)
    assert (passed, check) == (True, "horovod_build")
    assert detail == (
        "built with NCCL 2.27.3, MPI yes, Gloo yes; needed: MPI (the launcher's controller), NCCL (GPUs expected)"
    )
    # the CPU build on a GPU node: the NCCL variant is missing
    passed, _, detail = smoke.horovod_build_result(0, True, True, 4, srun)
    assert not passed and detail.endswith("missing: NCCL (rebuild Horovod: envs/setup.sh --gpu, or the image)")
    # no GPUs expected: NCCL is not needed; under horovodrun Gloo is the controller, under srun MPI
    assert smoke.horovod_build_result(0, False, True, 0, horovodrun)[0]
    passed, _, detail = smoke.horovod_build_result(0, False, True, 0, srun)
    assert not passed and "missing: MPI" in detail
    assert smoke.nccl_version_text(2804) == "2.8.4" and smoke.nccl_version_text(23203) == "2.32.3"


def test_the_first_checks_run_in_order_from_what_tensorflow_and_horovod_report():
    """first_results with stand-ins for tensorflow and horovod.tensorflow (neither is installed here)."""
    keras = SimpleNamespace(__name__="tf_keras.api._v2.keras", __version__="2.21.0")
    tf = SimpleNamespace(keras=keras)
    hvd = SimpleNamespace(nccl_built=lambda: 0, mpi_built=lambda: True, gloo_built=lambda: True)
    results = smoke.first_results(tf, hvd, 0, {"TF_USE_LEGACY_KERAS": "1"})
    assert [check for _, check, _ in results] == list(smoke.FIRST_CHECKS)
    assert [passed for passed, _, _ in results][1:] == [True, True]
    assert results[1][2] == "tf.keras is tf_keras 2.21.0 (TF_USE_LEGACY_KERAS=1)"
    assert not smoke.first_results(tf, hvd, 4, {"TF_USE_LEGACY_KERAS": "1"})[2][0]  # GPUs, no NCCL


# ------------------------------------------------------------------------------ hpcseq logs

# srun stand-in: prints what rank 0 of hpcseq.cluster.smoke prints, failing the gpus check when asked
SMOKE_SRUN = """#!/bin/bash
echo "hpcseq smoke-test PASS python: python 3.12.3; hpcseq supports 3.11 to 3.13"
echo "hpcseq smoke-test PASS keras: tf.keras is tf_keras 2.21.0 (TF_USE_LEGACY_KERAS=1)"
echo "hpcseq smoke-test PASS horovod_build: built with NCCL 2.27.3, MPI yes, Gloo yes; needed: MPI (the launcher's \
controller), NCCL (GPUs expected)"
echo "hpcseq smoke-test PASS imports: tensorflow 2.21.0, horovod 0.28.1, python 3.12.3"
if [ -n "${NO_GPUS:-}" ]; then
  echo "hpcseq smoke-test FAIL gpus: TensorFlow sees 0 GPU(s) on every rank; expected 4"
else
  echo "hpcseq smoke-test PASS gpus: TensorFlow sees 4 GPU(s) on every rank; expected 4"
fi
echo "hpcseq smoke-test PASS horovod: 8 rank(s) on 2 host(s), expected 8 on 2: jrc0001: ranks 0-3; jrc0002: ranks 4-7"
echo "hpcseq smoke-test PASS allreduce: sum of the ranks 28, expected 28 (n(n-1)/2, n=8)"
[ -n "${NO_GPUS:-}" ] && { echo "hpcseq smoke-test FAIL all: failed: gpus"; exit 1; }
echo "hpcseq smoke-test PASS all: 7 checks passed"
"""


@pytest.mark.parametrize("gpus", [True, False])
def test_hpcseq_logs_shows_the_smoke_tests_verdict(gpus, tmp_path):
    config = shipped_config(slurm={"account": "budget"})
    script = tmp_path / "smoke.sbatch"
    # the config by its absolute path: the job runs in tmp_path, which holds no config/config.yaml
    request = jobscript.smoke_request(config, "jureca-dc", str(tmp_path), str(Path("config/config.yaml").resolve()))
    script.write_text(jobscript.render_smoke_script(request))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("srun", SMOKE_SRUN), ("module", "#!/bin/sh\nexit 0\n")):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "activate").write_text(f'export PATH="{venv / "bin"}:$PATH"\n')
    (venv / "bin" / "python").write_text("#!/bin/sh\n")  # the job checks it is there; srun's stand-in runs
    (venv / "bin" / "python").chmod(0o755)
    environment = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "SLURM_JOB_ID": "4711",
        "SLURM_JOB_NODELIST": "jrc[0001-0002]",
        "PROJECT": str(tmp_path),
        "USER": "venv-owner",
        **({} if gpus else {"NO_GPUS": "1"}),
    }
    (tmp_path / "venv-owner" / "venvs" / "hpcseq-jureca-dc").mkdir(parents=True)
    (tmp_path / "venv-owner" / "venvs" / "hpcseq-jureca-dc" / "train").symlink_to(venv)
    submit = tmp_path / "submit"
    submit.mkdir()
    with (
        open(submit / f"{SMOKE_JOB_NAME}_out.4711", "w") as out,
        open(submit / f"{SMOKE_JOB_NAME}_err.4711", "w") as err,
    ):
        result = subprocess.run(["bash", str(script)], stdout=out, stderr=err, env=environment, timeout=60)
    assert result.returncode == (0 if gpus else 1), (submit / f"{SMOKE_JOB_NAME}_err.4711").read_text()
    [record], _ = collect([str(submit)], slurm=NO_SLURM)
    assert record.rule == "smoke-test" and record.experiment is None
    assert [SMOKE_CHECK.search(line).group("check") for line in record.smoke_checks] == [
        *smoke.FIRST_CHECKS,
        "imports",
        "gpus",
        "horovod",
        "allreduce",
        "all",
    ]
    text = render_detail(record)
    assert "smoke test of the software route" in text
    assert "checks     PASS python: python 3.12.3" in text
    if gpus:
        assert (record.state, record.diagnosis) == ("completed", None)
    else:
        assert record.state == "failed"
        assert record.diagnosis.kind == "smoke_test"
        assert "gpus: TensorFlow sees 0 GPU(s)" in record.diagnosis.summary
        assert "CUDA_VISIBLE_DEVICES" in record.diagnosis.next_step


def test_submit_hands_the_written_script_to_sbatch(tmp_path, monkeypatch, capsys):
    """--submit runs `sbatch --parsable <script>` (a stand-in here: nothing reaches a Slurm)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/asked\necho "4242;cluster"\n')
    (bin_dir / "sbatch").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    out_dir = tmp_path / "jobs"
    arguments = ["smoke-test", "--cluster", "jureca-dc", "--account", "b1", "--output-dir", str(out_dir), "--submit"]
    assert cli.main(arguments) == 0
    written = out_dir / "jureca-dc" / f"{SMOKE_JOB_NAME}.sbatch"
    assert (tmp_path / "asked").read_text().split() == ["--parsable", str(written)]
    assert "hpcseq logs 4242" in capsys.readouterr().out
