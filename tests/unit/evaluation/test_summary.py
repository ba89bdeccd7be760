"""results/summary.md: the "Ran on" line of an experiment, from its training's provenance."""

from __future__ import annotations

import copy

from hpcseq.evaluation.summary import experiment_section, ran_on, write_summary
from hpcseq.io import write_json
from hpcseq.paths import ExperimentPaths
from tests.unit.evaluation.test_verdicts import result_of

PROVENANCE = {
    "ranks": [
        {"rank": rank, "hostname": host, "local_rank": rank % 2, "local_size": 2, "pid": 10 + rank}
        for rank, host in enumerate(["jwb0001", "jwb0001", "jwb0002", "jwb0002"])
    ],
    "hosts": ["jwb0001", "jwb0002"],
    "host_count": 2,
    "launcher": "srun",
    "slurm": {"SLURM_JOB_ID": "4711", "SLURM_STEP_ID": "0", "SLURM_JOB_NODELIST": "jwb[0001-0002]"},
    "code": {"commit": "48a66027687f0d8525f00473078ad3516867ed4e", "dirty": False, "repository": "/r", "reason": None},
    "versions": {
        "python": "3.11.7",
        "tensorflow": "2.21.0",
        "keras": "tf_keras 2.21.0",
        "horovod": "0.28.1",
        "numpy": "1.26.4",
        "horovod_built": {"mpi": True, "gloo": True, "nccl": True, "controller": "mpi"},
        "mpi": {"library": "Open MPI v4.1.4, package: Debian OpenMPI", "standard": "3.1", "path": "/l/libmpi.so"},
    },
}


def test_ran_on_names_hosts_commit_job_and_software():
    assert ran_on(PROVENANCE) == (
        "*Ran on* 2 host(s) (jwb0001: ranks 0-1; jwb0002: ranks 2-3); code 48a66027687f; Slurm job 4711 step 0; "
        "TensorFlow 2.21.0 (Keras tf_keras 2.21.0), Horovod 0.28.1 over Open MPI v4.1.4"
    )


def test_ran_on_outside_slurm_with_changes_an_unknown_commit_and_gloo():
    local = copy.deepcopy(PROVENANCE)
    local["slurm"] = None
    local["code"]["dirty"] = True
    local["versions"]["horovod_built"]["controller"] = "gloo"
    assert ran_on(local).endswith(
        "code 48a66027687f with changes; TensorFlow 2.21.0 (Keras tf_keras 2.21.0), Horovod 0.28.1 over Gloo"
    )
    local["code"] = {"commit": None, "dirty": None, "repository": None, "reason": "git is not installed"}
    assert "; code of unknown commit; " in ran_on(local)
    assert ran_on(None) is None


SENTIMENT_RESULT = {
    "model": "sentiment_lstm",
    "task": "sequence_classification",
    "evaluated_split": "test",
    "split_method": "grouped",
    "model_metrics": {"accuracy": 0.9, "precision": 0.9, "recall": 0.9, "f1": 0.9, "confusion_matrix": []},
    "majority_baseline": {"accuracy": 0.5},
    "model_metrics_not_in_training": None,
    "overlap": {"also_in_training": 0, "test_sentences": 10, "not_in_training": 10},
}


def test_the_experiment_section_shows_the_line_only_where_training_recorded_it():
    result = {**SENTIMENT_RESULT, "training": {"ranks": 4, "launcher": "srun", "provenance": copy.deepcopy(PROVENANCE)}}
    assert "\n*Ran on* 2 host(s) (jwb0001: ranks 0-1; jwb0002: ranks 2-3);" in experiment_section("x", result)
    del result["training"]["provenance"]  # a training of before provenance was recorded
    assert "Ran on" not in experiment_section("x", result)


def test_the_section_counts_what_training_never_saw_and_leaves_out_older_evaluations():
    language = {"perplexity": 9.0, "bits_per_character": 3.1, "loss": 2.2, "accuracy": 0.4}
    result = {
        "model": "char_rnn",
        "task": "next_character",
        "evaluated_split": "test",
        "model_metrics": language,
        "unigram_baseline": language,
        "unseen_in_training": {"characters": 3, "by_character": {"`": 3}, "unk_id": 29, "targets": 2},
    }
    row = "| test characters unseen in training | 3 ('`' 3x; unknown id 29, 2 targets) |"
    assert row in experiment_section("x", result)
    result["unseen_in_training"] = {"characters": 0, "by_character": {}, "unk_id": None, "targets": 0}
    assert "| test characters unseen in training | 0 |" in experiment_section("x", result)
    del result["unseen_in_training"]  # an evaluation of before they were counted
    assert "unseen" not in experiment_section("x", result)

    words = {**SENTIMENT_RESULT, "unseen_in_training": {"words": 4, "tokens": 60, "unknown_tokens": 7}}
    row = "| test words unseen in training | 4 of 60 (7 encoded UNK, with those beyond max_words) |"
    assert row in experiment_section("x", words)


def test_the_bag_of_words_baselines_stand_beside_the_classifier():
    base = {"accuracy": 0.93, "f1": 0.931, "confusion_matrix": [[9, 1], [0, 10]], "described": "1643 word ids"}
    result = {
        **SENTIMENT_RESULT,
        "majority_baseline": {"accuracy": 0.5, "f1": 0.0},
        "model_metrics_not_in_training": {"accuracy": 0.8},
        "bag_of_words_baselines": {"unigram_binary": {**base, "not_in_training": {"accuracy": 0.75}}},
    }
    section = experiment_section("x", result)
    assert "| 0.9000 / 0.9000 / 0.9000 (majority class F1 0.0000) |" in section
    row = "| bag-of-words baseline `unigram_binary` (1643 word ids): test accuracy / F1, confusion matrix | "
    assert row + "0.9300 / 0.9310, [[9, 1], [0, 10]] |" in section
    assert "| accuracy on test sentences not in training | 0.8000 (10 sentences; unigram_binary 0.7500) |" in section
    assert "bag-of-words" not in experiment_section("x", SENTIMENT_RESULT)  # an evaluation of before them


def test_a_word_model_is_summarised_per_word_next_to_the_unigram_word_model_with_its_text():
    def per_word(loss):
        return {"loss": loss, "perplexity": 2.718281828**loss, "bits_per_word": loss / 0.693147}

    result = {
        "model": "poetry_bilstm",
        "task": "next_word",
        "evaluated_split": "test",
        "samples_evaluated": 1569,
        "model_metrics": {**per_word(7.5), "accuracy": 0.03},
        "unigram_baseline": per_word(6.7),
        "model_metrics_known_targets": per_word(6.0),
        "unigram_baseline_known_targets": per_word(6.1),
        "unseen_in_training": {"words": 260, "tokens": 1785, "unknown_tokens": 260, "unknown_targets": 242},
        "samples": [{"mode": "greedy", "window": "from fairest", "text": "the love of"}],
    }
    section = experiment_section("sonnets", result)
    assert "| test bits per word | 10.820 (unigram word model 9.666) |" in section
    assert "| test perplexity on targets seen in training | 403.4 (unigram word model 445.9) |" in section
    assert "| test words unseen in training | 260 of 1785 (242 of 1569 targets) |" in section
    assert "- `greedy`: from fairest | the love of" in section


def test_the_summary_opens_with_each_experiments_verdict_on_its_baselines(tmp_path):
    """Both branches from the numbers: one experiment beats a baseline and not another, one beats none."""
    results = tmp_path / "results"
    weather = {"persistence_baseline": 2.22, "training_mean_baseline": 3.9, "seasonal_baseline": 1.85}
    beating = result_of("sequence_regression", 1.91, weather)
    beating["seasonal_baseline"]["described"] = "the training years' mean of the day"
    losing = result_of("sequence_regression", 1.68, {"persistence_baseline": 0.19, "training_mean_baseline": 0.5})
    for name, result in (("weather", beating), ("normals", losing)):
        base = {"target_column": "t", "horizon_minutes": 1440, "windows": 4, "windows_dropped_at_gaps": 0}
        index = {"runs": 1, "gap": 0, "missing_rows": 0, "repeated": 0, "backwards": 0, "irregular": 0}
        write_json(ExperimentPaths.of(results, name).eval_metrics, {**result, **base, "time_index": index})
    text = write_summary(results, ["weather", "normals"], tmp_path / "summary.md")
    overview, weather_section, normals_section = text.split("\n## ")
    weather_verdict = (
        "Beats persistence (MAE 1.91 vs 2.22 degC) and the training mean (3.90); does not beat the seasonal "
        "baseline (1.85)."
    )
    assert f"- `weather` (m): {weather_verdict}\n" in overview
    assert (
        "- `normals` (m): Does not beat persistence (MAE 1.68 vs 0.19 degC) or the training mean (0.50).\n" in overview
    )
    assert weather_section.startswith(f"weather (m)\n\n**{weather_verdict}**\n")
    assert "| test MAE (degC) | 1.910 (persistence 2.220, training mean 3.900, seasonal 1.850) |" in weather_section
    assert "| seasonal baseline | the training years' mean of the day |" in weather_section
    assert "seasonal" not in normals_section  # an evaluation without it
