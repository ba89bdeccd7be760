"""The container route (clusters.<name>.software: container): validation by key, quoting, the
rendered job script (golden file), and the same command under the profile (`hpcseq launch`).

Apptainer cannot run here: the scripts are rendered, parsed (bash -n, shellcheck) and compared."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest

from hpcseq import cli
from hpcseq.cluster import clusters, jobscript
from hpcseq.cluster.clusters import or_stop
from hpcseq.cluster.launch import build_launch_command, with_setup
from hpcseq.errors import ConfigErrors
from tests.unit.cluster.conftest import HOSTILE, SHIPPED, SITE, assert_shellcheck_clean, jsc_config, shipped_config

GOLDEN = Path(__file__).parent / "golden"
CONTAINER_ROUTE = "clusters={jureca-dc: {software: container}}"
SLURM = {"SLURM_JOB_ID": "12345", "PATH": "/usr/bin"}
IMAGE = '"$PROJECT"/"$USER"/containers/hpcseq-tf2.21.sif'
PREFIX = (
    'env PMIX_SECURITY_MODE=native apptainer exec --nv --bind "$PWD" --bind "$SCRATCH" '
    f'--env PYTHONPATH="$PWD"/scripts {IMAGE}'
)


def container_config(**overrides) -> dict:
    return jsc_config(clusters={"jureca-dc": {"software": "container"}}, **overrides)


def jureca(config: dict) -> clusters.Cluster:
    return clusters.parse_cluster("jureca-dc", config["clusters"]["jureca-dc"])


def script(config: dict, workdir: str = jobscript.SUBMIT_DIR) -> str:
    request = jobscript.script_request(config, "jureca-dc", "shakespeare_char_rnn", workdir, "config/config.yaml")
    return jobscript.render_job_script(request)


# ------------------------------------------------------------------------------ validation


def test_the_jsc_clusters_keep_the_module_route_and_define_the_container_for_the_other():
    config = shipped_config()
    for name in ("jureca-dc", "juwels-booster", "juwels-cluster"):
        cluster = clusters.parse_cluster(name, config["clusters"][name])
        assert (cluster.software, cluster.in_container, clusters.container_prefix(cluster)) == ("modules", False, "")
        assert cluster.container is not None and cluster.container.image.startswith("$PROJECT/$USER/containers/")
    for name in ("local", "local-jsc", "generic"):
        assert clusters.parse_cluster(name, config["clusters"][name]).container is None


@pytest.mark.parametrize(
    ("override", "key", "fragment"),
    [
        ({"software": "docker"}, "software", "'docker' is not one of modules, container"),
        ({"software": "container", "container": None}, "container", "software: container needs an image"),
        ({"container": {"image": "a\nb"}}, "container.image", "is not a path on one line"),
        ({"container": {"image": "x.sif", "binds": ["/p/scratch:/scratch"]}}, "container.binds[0]", "bind path"),
        ({"container": {"image": "x.sif", "binds": ["/a,/b"]}}, "container.binds[0]", "bind path"),
    ],
)
def test_bad_container_settings_are_refused_by_key(override, key, fragment):
    raw = {**shipped_config()["clusters"]["jureca-dc"], **override}
    with pytest.raises(ConfigErrors) as caught:
        clusters.parse_cluster("jureca-dc", raw)
    found = {error.key: error.detail for error in caught.value.errors}
    assert fragment in found[f"clusters.jureca-dc.{key}"]


def test_the_schema_refuses_an_unknown_route_and_a_container_without_an_image():
    with pytest.raises(ConfigErrors) as caught:
        shipped_config(clusters={"jureca-dc": {"software": "docker", "container": {"image": None}}})
    keys = {error.key for error in caught.value.errors}
    assert any(key.startswith("clusters.jureca-dc.software") for key in keys), keys
    assert any(key.startswith("clusters.jureca-dc.container") for key in keys), keys


@pytest.mark.parametrize("value", [value for value in HOSTILE if value and "\n" not in value])
def test_hostile_images_and_binds_are_quoted_literals(value, tmp_path):
    """Any one-line path may be an image or (without ':' ',') a bind: the shell sees it literally."""
    marker = tmp_path / "pwned"
    hostile = f"{value} $(touch {marker}) `touch {marker}`"
    raw = {**shipped_config()["clusters"]["jureca-dc"], "software": "container"}
    raw["container"] = {"image": f"$PROJECT/{hostile}.sif", "binds": [hostile]}
    prefix = clusters.container_prefix(clusters.parse_cluster("jureca-dc", raw))
    environment = {"PROJECT": "/p/project/x", "PATH": os.environ["PATH"]}
    result = subprocess.run(
        ["bash", "-c", f"cd {shlex.quote(str(tmp_path))} && printf '%s\\n' {prefix}"],
        capture_output=True,
        text=True,
        check=True,
        env=environment,
    )
    words = result.stdout.splitlines()
    assert words[words.index("--bind", 6) + 1] == hostile  # the second bind, after the working directory
    assert words[-1] == f"/p/project/x/{hostile}.sif"
    assert words[6] == str(tmp_path)  # the working directory, as bash expanded "$PWD"
    assert not marker.exists()


# ------------------------------------------------------------------------------ rendering


def test_the_container_route_runs_every_step_in_the_image_and_loads_no_modules():
    text = script(container_config())
    lines = text.splitlines()
    assert or_stop("module --force purge") in lines  # nothing of the login node's modules reaches the image
    assert not any(line.startswith(("module load", "source ")) for line in lines)
    assert "export CUDA_VISIBLE_DEVICES=0,1,2,3" in lines
    steps = [line for line in lines if " -m hpcseq " in line]
    assert len(steps) == 4  # preprocess, vocab, train, evaluate
    assert all(f" {PREFIX} python -m hpcseq " in step for step in steps)
    train = next(step for step in steps if " -m hpcseq train " in step)
    assert train.startswith(
        "srun --cpu-bind=none --mpi=pspmix --threads-per-core=1 --kill-on-bad-exit=1 --nodes=1 --ntasks=4 "
        f"--ntasks-per-node=4 {PREFIX} python -m hpcseq train "
    )
    # the job stops at once, naming it, where a variable of the image or a bind is not set
    assert ': "${SCRATCH:?is not set, and a path of this job uses it}"' in lines
    assert ': "${PROJECT:?is not set, and a path of this job uses it}"' in lines


def test_the_module_route_renders_no_container():
    text = script(jsc_config())
    assert "apptainer" not in text
    modules = SHIPPED["clusters"]["jureca-dc"]["setup"]["modules"]
    assert or_stop("module load " + " ".join(modules)) in text.splitlines()


def test_the_profile_wraps_training_in_the_same_container_words_as_the_job_script():
    """One function (clusters.container_prefix) for both: `hpcseq launch` puts its words between
    srun and the command, in the shell that also runs the setup lines."""
    config = container_config()
    cluster = jureca(config)
    container = clusters.container_prefix(cluster)
    command = ["python", "-m", "hpcseq", "train", "--settings", "{}"]
    argv = build_launch_command(command, 4, 1, 4, cluster.srun_line(), "horovodrun", 32, environ=SLURM)
    setup = "\n".join(clusters.setup_lines(cluster))
    shell = with_setup(argv, setup, environ=SLURM, container=container, command=command)
    assert shell[:2] == ["bash", "-c"]
    last = shell[2].splitlines()[-1]
    launcher = shlex.join(argv[: -len(command)])
    assert last == f"exec {launcher} {PREFIX} python -m hpcseq train --settings '{{}}'"
    train = next(line for line in script(config).splitlines() if " -m hpcseq train " in line)
    assert f" {PREFIX} python -m hpcseq train " in train
    # a single-process stage (evaluation) without srun: the container alone; outside Slurm nothing changes
    single = with_setup(["python", "x"], "", environ=SLURM, container=container, command=["python", "x"])
    assert single == ["bash", "-c", f"set -e\nexec {PREFIX} python x"]
    assert with_setup(["python", "x"], setup, environ={}, container=container, command=["python", "x"]) == [
        "python",
        "x",
    ]


def test_the_container_route_matches_its_golden_file(capsys):
    """What `hpcseq sbatch --config 'clusters={jureca-dc: {software: container}}'` writes for two nodes."""
    site = [f"--{key.replace('_', '-')}={value}" for key, value in SITE.items()]
    arguments = ["sbatch", "--cluster", "jureca-dc", "--experiment", "shakespeare_char_rnn", *site]
    arguments += ["--nodes", "2", "--config", CONTAINER_ROUTE, "--stdout"]
    assert cli.main(arguments) == 0, capsys.readouterr().err
    text = capsys.readouterr().out
    golden = GOLDEN / "jureca-dc-container.shakespeare_char_rnn.sbatch"
    if os.environ.get("HPCSEQ_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


def test_container_scripts_are_valid_bash_and_pass_shellcheck(tmp_path):
    paths = []
    for signal_seconds in (120, None):
        config = container_config(slurm={**SITE, "signal_seconds_before_limit": signal_seconds})
        for number, workdir in enumerate((jobscript.SUBMIT_DIR, "$PROJECT/$USER/hpc seq")):
            path = tmp_path / f"container.{signal_seconds}.{number}.sbatch"
            path.write_text(script(config, workdir))
            subprocess.run(["bash", "-n", str(path)], check=True)
            paths.append(str(path))
    assert_shellcheck_clean(paths)


# stand-ins (apptainer cannot run here): srun drops its own flags and runs the rest; apptainer
# records what it was asked, one word a line
SRUN = '#!/bin/bash\nwhile [[ "$1" == --* ]]; do shift; done\nexec "$@"\n'
APPTAINER = '#!/bin/bash\nprintf "%s\\n" "PMIX_SECURITY_MODE=$PMIX_SECURITY_MODE" "$@" > "$RECORD"\n'


def test_under_the_profile_srun_starts_apptainer_with_the_image_and_binds_where_the_job_runs(tmp_path):
    """`hpcseq launch`'s shell line run for real with stand-ins for srun and apptainer: the
    variables expand there, the working directory and $SCRATCH are bound, the image is the one of
    $PROJECT, and the command follows the image."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("srun", SRUN), ("apptainer", APPTAINER), ("module", "#!/bin/sh\nexit 0\n")):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    cluster = jureca(container_config())
    command = ["python", "-m", "hpcseq", "train", "--settings", "{}"]
    argv = build_launch_command(command, 4, 1, 4, cluster.srun_line(), "horovodrun", 32, environ=SLURM)
    shell = with_setup(
        argv,
        "\n".join(clusters.setup_lines(cluster)),
        environ=SLURM,
        container=clusters.container_prefix(cluster),
        command=command,
    )
    record = tmp_path / "asked"
    environment = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "PROJECT": "/p/project1/b1",
        "USER": "jane",
        "SCRATCH": "/p/scratch/b1",
        "RECORD": str(record),
    }
    workdir = tmp_path / "hpc seq"
    workdir.mkdir()
    subprocess.run(shell, cwd=workdir, env=environment, check=True, timeout=30)
    assert record.read_text().splitlines() == [
        "PMIX_SECURITY_MODE=native",  # set by env in front of apptainer
        "exec",
        "--nv",
        "--bind",
        str(workdir),
        "--bind",
        "/p/scratch/b1",
        "--env",
        f"PYTHONPATH={workdir}/scripts",
        "/p/project1/b1/jane/containers/hpcseq-tf2.21.sif",
        *command,
    ]
