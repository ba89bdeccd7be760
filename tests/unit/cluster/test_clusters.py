"""hpcseq.cluster.clusters: cluster definitions, their setup lines, and the node geometry of training."""

from __future__ import annotations

import subprocess

import pytest

from hpcseq.cluster import clusters, jobscript
from hpcseq.errors import ConfigError, ConfigErrors
from tests.conftest import REPO_ROOT
from tests.unit.cluster.conftest import HOSTILE, shipped_config

MINIMAL = {"partitions": {"cpu": "c", "gpu": "g"}, "gpus_per_node": 4, "cpus_per_node": 8}


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_cluster_values_are_rejected_by_key(value):
    for path, override in (
        ("partitions.gpu", {"partitions": {"gpu": value}}),
        ("setup.modules[0]", {"setup": {"modules": [value]}}),
        ("srun_flags[0]", {"srun_flags": [value if value != "-x" else "-x;id"]}),
        ("setup.module_restore", {"setup": {"module_restore": value}}),
        ("network.interface", {"network": {"interface": value}}),
        ("network.gloo_interface", {"network": {"gloo_interface": value}}),
        ("network.nccl_interface", {"network": {"nccl_interface": value}}),
        ("network.mpi_interface", {"network": {"mpi_interface": value}}),
    ):
        with pytest.raises(ConfigErrors) as caught:
            shipped_config(clusters={"jureca-dc": override})
        assert any(error.key == f"clusters.jureca-dc.{path}" for error in caught.value.errors), (path, value)


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


def test_every_bad_value_of_a_cluster_is_reported_at_once():
    raw = {
        **MINIMAL,
        "gres_name": "GPU",
        "srun_flags": ["--ok", "x;y"],
        "setup": {"venv": "a\nb", "modules": ["ok", "../up"]},
        "max_time": {"gpu": "soon"},
        "cpus_per_task": 3,
    }
    with pytest.raises(ConfigErrors) as caught:
        clusters.parse_cluster("x", raw)
    assert [error.key for error in caught.value.errors] == [
        "clusters.x.max_time.gpu",
        "clusters.x.gres_name",
        "clusters.x.srun_flags[1]",
        "clusters.x.setup.modules[1]",
        "clusters.x.setup.venv",
        "clusters.x.cpus_per_task",
    ]


def test_defaults_of_a_minimal_cluster():
    cluster = clusters.parse_cluster("x", MINIMAL)
    assert (cluster.gres_name, cluster.cpus_per_task, cluster.srun_line()) == ("gpu", 2, "srun")
    assert clusters.setup_lines(cluster) == []
    with pytest.raises(ConfigError, match="cluster x has no 'gpu_devel' partition; it has: cpu, gpu"):
        cluster.partition("gpu_devel", "key")


# ------------------------------------------------------------------------------ network


def test_one_interface_reaches_every_library_and_a_library_of_its_own_wins():
    cluster = clusters.parse_cluster("x", {**MINIMAL, "network": {"interface": "ib0", "nccl_interface": "^docker,lo"}})
    assert cluster.network.variables() == (
        ("HOROVOD_GLOO_IFACE", "ib0"),
        ("NCCL_SOCKET_IFNAME", "^docker,lo"),
        ("OMPI_MCA_btl_tcp_if_include", "ib0"),
        ("OMPI_MCA_oob_tcp_if_include", "ib0"),
    )
    only_mpi = clusters.parse_cluster("x", {**MINIMAL, "network": {"mpi_interface": "10.0.0.0/8,ib0"}})
    assert only_mpi.network.variables() == (
        ("OMPI_MCA_btl_tcp_if_include", "10.0.0.0/8,ib0"),
        ("OMPI_MCA_oob_tcp_if_include", "10.0.0.0/8,ib0"),
    )
    # not set: nothing exported, the libraries choose
    assert clusters.parse_cluster("x", MINIMAL).network.variables() == ()


def test_network_exports_reach_the_shell_as_the_values_given():
    cluster = clusters.parse_cluster(
        "x", {**MINIMAL, "environment": {"A": "1"}, "network": {"interface": "lo", "nccl_interface": "^=docker0"}}
    )
    lines = clusters.setup_lines(cluster)
    assert lines[0] == "export A=1"  # the cluster's environment first, then the network
    shown = subprocess.run(
        [
            "bash",
            "-c",
            "\n".join(lines) + '\nprintf "%s|" "$HOROVOD_GLOO_IFACE" "$NCCL_SOCKET_IFNAME" '
            '"$OMPI_MCA_btl_tcp_if_include" "$OMPI_MCA_oob_tcp_if_include"',
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shown.stdout == "lo|^=docker0|lo|lo|"


@pytest.mark.parametrize(
    "setting,value,fragment",
    [
        ("interface", "ib0;reboot", "it contains ';'"),
        ("interface", "ib0,ib1", "it contains ','"),  # one name: HOROVOD_GLOO_IFACE takes exactly one
        ("interface", "a" * 16, "1-15 letters"),
        ("gloo_interface", "$(id)", "it contains '$', '(', ')'"),
        ("nccl_interface", "ib0 ib1", "it contains ' '"),
        ("nccl_interface", "ib0,^lo", "NCCL_SOCKET_IFNAME"),  # ^ only first, for the whole list
        ("mpi_interface", "10.0.0.0/8;id", "it contains ';'"),
    ],
)
def test_bad_interface_values_are_refused_with_the_key_and_what_is_wrong(setting, value, fragment):
    with pytest.raises(ConfigErrors) as caught:
        clusters.parse_cluster("x", {**MINIMAL, "network": {setting: value}})
    (error,) = caught.value.errors
    assert error.key == f"clusters.x.network.{setting}" and fragment in str(error)


def test_a_network_variable_in_environment_is_refused_one_fact_one_place():
    with pytest.raises(ConfigErrors) as caught:
        clusters.parse_cluster("x", {**MINIMAL, "environment": {"NCCL_SOCKET_IFNAME": "ib0"}})
    (error,) = caught.value.errors
    assert error.key == "clusters.x.environment.NCCL_SOCKET_IFNAME"
    assert "clusters.x.network.nccl_interface" in str(error)


def test_the_test_cluster_keeps_cross_node_traffic_on_loopback_and_the_jsc_clusters_use_ib0():
    config = shipped_config()
    local = clusters.parse_cluster("local", config["clusters"]["local"])
    # Open MPI's TCP transport leaves loopback out unless it is named: every library gets lo
    assert dict(local.network.variables()) == dict.fromkeys(
        ("HOROVOD_GLOO_IFACE", "NCCL_SOCKET_IFNAME", "OMPI_MCA_btl_tcp_if_include", "OMPI_MCA_oob_tcp_if_include"),
        "lo",
    )
    for name in ("jureca-dc", "juwels-booster", "juwels-cluster"):
        assert clusters.parse_cluster(name, config["clusters"][name]).network.interface == "ib0"
    assert clusters.parse_cluster("generic", config["clusters"]["generic"]).network.variables() == ()


@pytest.mark.parametrize("ranks,nodes,per_node", [(1, 1, 1), (3, 1, 3), (4, 1, 4), (8, 2, 4)])
def test_geometry_fills_nodes_with_one_rank_per_gpu(ranks, nodes, per_node):
    geometry = clusters.training_geometry(clusters.parse_cluster("x", MINIMAL), ranks, "k")
    assert (geometry.nodes, geometry.tasks_per_node, geometry.gpus_per_node) == (nodes, per_node, per_node)
    assert geometry.ranks == ranks


def test_charging_whole_nodes_decides_the_gpus_a_job_sees_and_where_light_stages_run():
    whole = clusters.parse_cluster("x", {**MINIMAL, "charges_whole_nodes": True, "threads_per_core": 1})
    assert whole.light_stages_on_login_node  # its default: each such job would cost a node
    assert whole.evaluate_in_training_job  # the same: an evaluation job would pay for a whole node
    assert whole.srun_line() == "srun --threads-per-core=1"
    for ranks, visible in ((4, "0,1,2,3"), (8, "0,1,2,3"), (2, "0,1")):
        geometry = clusters.training_geometry(whole, ranks, "experiments.e.ranks", allow_partial_node=True)
        assert f"export CUDA_VISIBLE_DEVICES={visible}" in clusters.setup_lines(whole, geometry)
    assert not any("CUDA_VISIBLE_DEVICES" in line for line in clusters.setup_lines(whole))  # not for CPU jobs
    with pytest.raises(ConfigError, match=r"2 rank\(s\) use 2 of the 4 GPUs of a node, and x charges whole nodes"):
        clusters.training_geometry(whole, 2, "experiments.e.ranks")
    with pytest.raises(ConfigError, match=r"use a multiple of 4$"):
        clusters.training_geometry(whole, 6, "experiments.e.ranks", allow_partial_node=True)
    # a cluster that may share nodes: Slurm sets CUDA_VISIBLE_DEVICES from the GPUs it granted
    shared = clusters.parse_cluster("y", MINIMAL)
    assert not shared.charges_whole_nodes and not shared.light_stages_on_login_node
    assert not shared.evaluate_in_training_job
    geometry = clusters.training_geometry(shared, 2, "experiments.e.ranks")
    assert not any("CUDA_VISIBLE_DEVICES" in line for line in clusters.setup_lines(shared, geometry))
    explicit = clusters.parse_cluster(
        "z",
        {
            **MINIMAL,
            "charges_whole_nodes": True,
            "light_stages_on_login_node": False,
            "evaluate_in_training_job": False,
        },
    )
    assert not explicit.light_stages_on_login_node and not explicit.evaluate_in_training_job


def test_the_whole_nodes_refusal_names_the_fix_for_the_profile_and_for_job_scripts():
    whole = clusters.parse_cluster("x", {**MINIMAL, "charges_whole_nodes": True})
    with pytest.raises(ConfigError) as caught:
        clusters.training_geometry(whole, 2, "experiments.e.ranks")
    text = str(caught.value)
    assert f"--configfile config/config.yaml {clusters.WHOLE_NODES_CONFIG}" in text
    assert "hpcseq sbatch --nodes N" in text and "allow_partial_node: true" in text
    assert (REPO_ROOT / clusters.WHOLE_NODES_CONFIG).is_file()


def test_a_fixed_cuda_visible_devices_is_refused_by_key():
    with pytest.raises(ConfigErrors) as caught:
        shipped_config(clusters={"jureca-dc": {"environment": {"CUDA_VISIBLE_DEVICES": "0,1,2,3"}}})
    assert "clusters.jureca-dc.environment.CUDA_VISIBLE_DEVICES: derived from the GPUs the job asks for" in str(
        caught.value
    )


def test_the_jsc_clusters_charge_whole_nodes_bind_physical_cores_and_keep_software_in_project():
    config = shipped_config()
    for name in ("jureca-dc", "juwels-booster", "juwels-cluster"):
        cluster = clusters.parse_cluster(name, config["clusters"][name])
        assert cluster.charges_whole_nodes and cluster.threads_per_core == 1
        assert cluster.cpus_per_task == cluster.cpus_per_node // cluster.gpus_per_node
        assert cluster.venv.startswith("$PROJECT/")
    for name in ("local", "generic"):
        assert not clusters.parse_cluster(name, config["clusters"][name]).charges_whole_nodes
    # issue 13.4: evaluation on JUWELS Booster stays on the Booster (batch is a JUWELS Cluster partition)
    booster = clusters.parse_cluster("juwels-booster", config["clusters"]["juwels-booster"])
    assert booster.partitions["cpu"] == "booster"
