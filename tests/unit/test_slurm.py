"""Slurm options, cluster definitions and generated job scripts (golden files), and hostile values.

The golden files in tests/unit/golden/ show exactly what a user gets for each cluster; to accept
an intended change, run `HPCSEQ_UPDATE_GOLDEN=1 pytest tests/unit/test_slurm.py` and review the diff.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from hpcseq import config as config_module
from hpcseq import durations
from hpcseq.cluster import clusters, jobscript, options, validators
from hpcseq.cluster import resources as job_resources
from hpcseq.errors import ConfigError, ConfigErrors

GOLDEN = Path(__file__).parent / "golden"
WORKDIR = "/p/project/training2543/hpcseq"
SITE = {
    "account": "training2543",
    "reservation": "dl-course",
    "mail_user": "jane.doe@fz-juelich.de",
    "mail_type": "end,fail",
}


def shipped_config(**overrides) -> dict:
    raw = config_module.load_yaml(config_module.DEFAULT_CONFIG_PATH)
    return config_module.validate_config(config_module.deep_merge(raw, overrides))


CLUSTERS = sorted(config_module.load_yaml(config_module.DEFAULT_CONFIG_PATH)["clusters"])


@pytest.mark.parametrize("cluster", CLUSTERS)
@pytest.mark.parametrize("experiment", ["shakespeare_char_rnn", "umich_sentiment_lstm"])
def test_generated_scripts_match_the_golden_files(cluster, experiment):
    config = shipped_config(slurm=SITE)
    text = jobscript.render_job_script(
        jobscript.script_request(config, cluster, experiment, WORKDIR, "config/config.yaml")
    )
    golden = GOLDEN / f"{cluster}.{experiment}.sbatch"
    if os.environ.get("HPCSEQ_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()
    # deterministic: rendering twice gives the same bytes
    assert text == jobscript.render_job_script(
        jobscript.script_request(config, cluster, experiment, WORKDIR, "config/config.yaml")
    )


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_generated_scripts_are_valid_bash(cluster, tmp_path):
    config = shipped_config(slurm=SITE)
    for experiment in config["experiments"]:
        script = tmp_path / f"{experiment}.sbatch"
        script.write_text(
            jobscript.render_job_script(
                jobscript.script_request(config, cluster, experiment, "/a b/c", "config/config.yaml")
            )
        )
        subprocess.run(["bash", "-n", str(script)], check=True)


def test_juelich_style_header_and_steps():
    config = shipped_config(slurm=SITE)
    text = jobscript.render_job_script(
        jobscript.script_request(config, "jureca-dc", "shakespeare_char_rnn", WORKDIR, "config/config.yaml")
    )
    for line in (
        "#SBATCH --job-name=shakespeare_char_rnn",
        "#SBATCH --output=shakespeare_char_rnn_out.%j",
        "#SBATCH --error=shakespeare_char_rnn_err.%j",
        "#SBATCH --partition=dc-gpu",
        "#SBATCH --gres=gpu:2",
        "#SBATCH --account=training2543",
        "#SBATCH --reservation=dl-course",
        "#SBATCH --mail-type=END,FAIL",
        "module --force purge",
        'source "$HOME"/venvs/hpcseq/bin/activate',
    ):
        assert line in text.splitlines()
    train_line = next(line for line in text.splitlines() if " -m hpcseq train " in line)
    assert train_line.startswith("srun --cpu-bind=none --mpi=pspmix --nodes=1 --ntasks=2 --ntasks-per-node=2 ")


@pytest.mark.parametrize("ranks,nodes,per_node", [(1, 1, 1), (4, 1, 4), (8, 2, 4), (16, 4, 4)])
def test_training_geometry_fills_whole_nodes(ranks, nodes, per_node):
    config = shipped_config(experiments={"shakespeare_char_rnn": {"ranks": ranks}})
    plan = job_resources.plan_job(config, "jureca-dc", "shakespeare_char_rnn", "train")
    assert (plan.geometry.nodes, plan.geometry.tasks_per_node) == (nodes, per_node)
    assert plan.geometry.ranks == ranks
    resources = job_resources.snakemake_resources(plan)
    assert resources["gres"] == f"gpu:{per_node}" and resources["nodes"] == nodes
    assert "tasks" not in resources  # the plugin would turn it into --ntasks-per-gpu
    assert (resources["mpi"] != "") == (ranks > 1)


def test_ranks_that_do_not_fill_nodes_are_refused_by_key():
    with pytest.raises(ConfigErrors) as caught:
        shipped_config(experiments={"shakespeare_char_rnn": {"ranks": 6}})
    assert any(
        error.key == "experiments.shakespeare_char_rnn.ranks" and "multiple of 4" in str(error)
        for error in caught.value.errors
    )


def test_time_limit_above_the_partition_limit_is_refused():
    with pytest.raises(ConfigErrors) as caught:
        shipped_config(experiments={"shakespeare_char_rnn": {"slurm": {"partition": "gpu_devel", "time": "03:00:00"}}})
    assert any("above the 02:00:00 limit of partition dc-gpu-devel" in str(e) for e in caught.value.errors)


@pytest.mark.parametrize(
    "text,seconds",
    [
        ("90", 5400),
        ("1:30", 90),
        ("01:30:00", 5400),
        ("2-12", 216000),
        ("1-00:30", 88200),
        ("1-02:03:04", 93784),
        (45, 2700),
    ],
)
def test_slurm_time_formats(text, seconds):
    assert durations.time_seconds(text) == seconds
    assert durations.time_seconds(validators.slurm_time(text)) == seconds


def test_unknown_sbatch_option_lists_the_valid_ones():
    with pytest.raises(ConfigErrors) as caught:
        options.sbatch_options({"partiton": "dc-gpu"})
    message = str(caught.value)
    assert "sbatch.partiton: unknown sbatch option" in message and "partition" in message and "mail_user" in message


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


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("key", ["account", "reservation", "qos", "mail_user", "mail_type"])
def test_hostile_site_values_are_rejected_by_key(key, value):
    with pytest.raises(ConfigErrors) as caught:
        shipped_config(slurm={key: value})
    assert any(error.key == f"slurm.{key}" for error in caught.value.errors)


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_cluster_values_are_rejected_by_key(value):
    for path, override in (
        ("partitions.gpu", {"partitions": {"gpu": value}}),
        ("setup.modules[0]", {"setup": {"modules": [value]}}),
        ("srun_flags[0]", {"srun_flags": [value if value != "-x" else "-x;id"]}),
        ("setup.module_restore", {"setup": {"module_restore": value}}),
    ):
        with pytest.raises(ConfigErrors) as caught:
            shipped_config(clusters={"jureca-dc": override})
        assert any(error.key == f"clusters.jureca-dc.{path}" for error in caught.value.errors), (path, value)


def test_hostile_experiment_and_job_names_are_rejected():
    raw = config_module.load_yaml(config_module.DEFAULT_CONFIG_PATH)
    raw["experiments"]["x; rm -rf ~"] = raw["experiments"]["shakespeare_char_rnn"]
    with pytest.raises(ConfigErrors) as caught:
        config_module.validate_config(raw)
    assert "experiments.x; rm -rf ~" in str(caught.value)


def test_quoted_values_execute_nothing(tmp_path):
    """Paths and environment values may hold anything; quoted, none of it runs."""
    marker = tmp_path / "pwned"
    hostile_venv = f"/opt/my env/$(touch {marker})/`touch {marker}`; touch {marker}"
    config = shipped_config(
        clusters={
            "generic": {
                "setup": {"venv": hostile_venv},
                "environment": {"HOSTILE": f"$(touch {marker}); `touch {marker}`"},
            }
        }
    )
    cluster = clusters.parse_cluster("generic", config["clusters"]["generic"])
    lines = clusters.setup_lines(cluster)
    # run the export lines and print what the shell sees: the literal strings
    exports = [line for line in lines if line.startswith("export")]
    result = subprocess.run(
        ["bash", "-c", "\n".join(exports) + '\nprintf %s "$HOSTILE"'], capture_output=True, text=True, check=True
    )
    assert result.stdout == f"$(touch {marker}); `touch {marker}`"
    source = next(line for line in lines if line.startswith("source"))
    subprocess.run(["bash", "-c", source.replace("source ", "printf '%s\\n' ", 1)], check=True, capture_output=True)
    script = jobscript.render_job_script(
        jobscript.script_request(
            config, "generic", "shakespeare_char_rnn", f"/tmp/$(touch {marker})", "config/config.yaml"
        )
    )
    subprocess.run(["bash", "-n", "-c", script], check=True)
    assert not marker.exists()
    assert "cd '/tmp/$(touch" in script


def test_home_relative_venv_stays_expandable():
    assert validators.quote_path("$HOME/venvs/my env") == "\"$HOME\"/'venvs/my env'"
    assert validators.quote_path("~/x") == '"$HOME"/x'
    assert validators.quote_path("/abs/$(id)") == "'/abs/$(id)'"


def test_site_settings_reach_the_snakemake_resources_quoted():
    config = shipped_config(slurm=SITE)
    resources = job_resources.snakemake_resources(
        job_resources.plan_job(config, "local", "shakespeare_char_rnn", "train")
    )
    assert resources["slurm_account"] == "training2543"
    assert resources["slurm_extra"] == (
        "--reservation=dl-course --mail-user=jane.doe@fz-juelich.de --mail-type=END,FAIL --signal=USR1@120"
    )
    assert resources["slurm_partition"] == "gpus" and resources["mpi"] == "srun --mpi=pmix"


def test_no_cluster_is_a_valid_local_only_config():
    raw = config_module.load_yaml(config_module.DEFAULT_CONFIG_PATH)
    raw.pop("clusters")
    raw["cluster"] = None
    config = config_module.validate_config(raw)
    assert job_resources.stage_resources(config, "shakespeare_char_rnn", "train")["tasks_per_node"] == 2
    raw["cluster"] = "jureca-dc"
    with pytest.raises(ConfigErrors, match="'jureca-dc' is not defined under `clusters`"):
        config_module.validate_config(raw)


def test_unknown_cluster_key_is_named():
    with pytest.raises(ConfigErrors) as caught:
        shipped_config(clusters={"local": {"gpus_per_nod": 2}})
    assert "clusters.local.gpus_per_nod: unknown key (did you mean 'gpus_per_node'?)" in str(caught.value)


def test_config_error_type_is_config_error():
    with pytest.raises(ConfigError):
        clusters.training_geometry(
            clusters.parse_cluster(
                "c", {"partitions": {"cpu": "a", "gpu": "b"}, "gpus_per_node": 4, "cpus_per_node": 8}
            ),
            5,
            "experiments.x.ranks",
        )


def test_training_interpreter_comes_from_the_cluster_then_the_config_and_the_command_line_wins():
    config = shipped_config(slurm=SITE)
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


def test_a_hostile_cluster_interpreter_is_refused_by_key():
    with pytest.raises(ConfigErrors) as raised:
        clusters.parse_cluster(
            "x",
            {
                "partitions": {"cpu": "c", "gpu": "g"},
                "gpus_per_node": 4,
                "cpus_per_node": 8,
                "training_python": "python\nrm -rf ~",
            },
        )
    assert "clusters.x.training_python" in str(raised.value)
