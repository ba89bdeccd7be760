"""hpcseq.config: the scaling study, its runs, and on a cluster their nodes and time limits."""

from __future__ import annotations

from hpcseq import config as C
from tests.unit.config.conftest import base_raw, config_errors, single_error


def test_the_scaling_study_is_off_unless_it_names_experiments():
    config = C.validate_config(base_raw())
    assert config["scaling"] == {
        "experiments": [],
        "ranks": [1, 2, 4],
        "steps_per_epoch": 200,
        "epochs": 2,
        "slurm": {},
    }


def test_a_scaling_run_is_its_experiment_on_its_ranks_for_the_study_steps_with_a_batch_per_rank():
    raw = base_raw()
    raw["experiments"]["chars"]["training"] = {"global_batch_size": 128, "checkpoint_every_minutes": 5}
    raw["scaling"] = {"experiments": ["chars"], "steps_per_epoch": 50, "epochs": 3, "slurm": {"time": "00:20:00"}}
    config = C.validate_config(raw)
    run = C.scaling_run_config(config, "chars", 8)["experiments"]["chars"]
    assert run["ranks"] == 8
    training = run["training"]
    assert (training["epochs"], training["max_steps_per_epoch"]) == (3, 50)
    assert training["global_batch_size"] is None and training["batch_size"] == 64  # the preset's, per rank
    assert (training["checkpoint_every_epochs"], training["checkpoint_every_minutes"]) == (3, None)
    assert run["slurm"] == {"partition": "gpu", "time": "00:20:00", "allow_partial_node": False}
    assert config["experiments"]["chars"]["ranks"] == 2  # the config itself is unchanged
    assert config["experiments"]["chars"]["training"]["global_batch_size"] == 128


def test_the_scaling_study_names_only_defined_experiments():
    raw = base_raw()
    raw["scaling"] = {"experiments": ["chars", "char"]}
    error = single_error(raw)
    assert (
        str(error) == "config key scaling.experiments: 'char' is not defined under `experiments`; defined: chars, words"
    )


def test_on_a_cluster_every_rank_count_of_the_study_must_fill_whole_nodes():
    raw = C.load_yaml(C.DEFAULT_CONFIG_PATH)
    raw["slurm"]["account"] = "training2543"  # JSC's clusters require a budget
    for experiment in raw["experiments"].values():
        experiment["ranks"] = 4  # one whole node: JSC charges whole nodes
    raw.update(cluster="jureca-dc", scaling={"experiments": ["shakespeare_char_rnn"], "ranks": [1, 4, 6, 8, 10]})
    errors = config_errors(raw)
    # a run on part of a node pays for the whole node: refused unless the study allows it
    assert [error.key for error in errors] == ["scaling.ranks", "scaling.ranks", "scaling.ranks"]
    assert "1 rank(s) use 1 of the 4 GPUs of a node, and jureca-dc charges whole nodes" in str(errors[0])
    raw["scaling"]["slurm"] = {"allow_partial_node": True}
    errors = config_errors(raw)
    assert [error.key for error in errors] == ["scaling.ranks", "scaling.ranks"]
    assert "6 ranks do not fill whole nodes of 4 GPUs on jureca-dc" in str(errors[0])
    assert "10 ranks do not fill whole nodes of 4 GPUs on jureca-dc" in str(errors[1])
    raw["scaling"].update(
        ranks=[1, 4, 8], slurm={"partition": "gpu_devel", "time": "03:00:00", "allow_partial_node": True}
    )
    error = single_error(raw)  # once, not once per rank count
    assert (
        str(error)
        == "config key scaling.slurm.time: 03:00:00 is above the 02:00:00 limit of partition dc-gpu-devel on jureca-dc"
    )
