"""`make results-table`: the docs' table of experiments is the one the command renders from the
shipped snapshot, the snapshot holds only fields the real results carry, and an experiment that
did not run says why."""

from __future__ import annotations

import ast
import json
import os
import shutil

import pytest
from snakemake.benchmark import BenchmarkRecord

from hpcseq.config import load_config
from hpcseq.devtools import results_table as T
from hpcseq.errors import InputDataError
from hpcseq.evaluation.baselines import FEATURES
from hpcseq.evaluation.published import load_published
from hpcseq.io import write_json
from hpcseq.paths import REPO_ROOT, ExperimentPaths, benchmark_file
from tests.unit.evaluation.test_verdicts import result_of

# the modules whose dict literals are the keys of eval/metrics.json and of the training summary
WRITERS = [
    REPO_ROOT / "scripts" / "hpcseq" / module
    for module in (
        "evaluation/forecast.py",
        "evaluation/classification.py",
        "evaluation/language_models.py",
        "evaluation/held_out.py",
        "evaluation/metrics.py",
        "evaluation/baselines.py",
        "evaluation/evaluate.py",
        "training/outputs.py",
        "training/callbacks.py",
    )
]
KERAS_LOGS = {"loss"}  # what Keras' fit() logs per epoch (the training summary's `final` is its last entry)


def writer_keys() -> set[str]:
    """Every string constant of the writers: dict keys, and TRAINING_SUMMARY_KEYS' names."""
    keys = set(KERAS_LOGS)
    for path in WRITERS:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                keys.add(node.value)
    return keys


def nested_keys(data: dict, where: str = "") -> list[tuple[str, str]]:
    """(where, key) of every key of a nested dict."""
    found = []
    for key, value in data.items():
        found.append((where, key))
        if isinstance(value, dict):
            found += nested_keys(value, f"{where}.{key}")
    return found


def test_the_docs_table_is_what_the_command_renders_from_the_shipped_snapshot(capsys):
    diff = T.check(T.DOCS_PAGE, T.SNAPSHOT, load_config(), load_published())
    assert not diff, "docs/using/results.md's table is stale: `make results-table`\n" + "".join(diff)
    assert T.main(["--check"]) == 0


def test_the_snapshot_holds_only_fields_of_the_real_results_format():
    snapshot = json.loads(T.SNAPSHOT.read_text(encoding="utf-8"))
    known = writer_keys()
    assert snapshot["experiments"]
    for name, run in snapshot["experiments"].items():
        assert set(run) <= {"eval_metrics", "training_summary", "benchmarks"}, name
        for entry in ("eval_metrics", "training_summary"):  # files of an experiment's run (hpcseq.paths)
            assert entry not in run or isinstance(getattr(ExperimentPaths, entry), property), entry
        for where, key in nested_keys(run["eval_metrics"]) + nested_keys(run.get("training_summary", {})):
            assert key in known or (where.endswith("bag_of_words_baselines") and key in FEATURES), (name, where, key)
        for stage, figures in run["benchmarks"].items():
            assert stage in T.STAGES and set(figures) <= set(BenchmarkRecord.get_header()), (name, stage)
    rules = "".join(path.read_text(encoding="utf-8") for path in (REPO_ROOT / "workflow/rules").glob("*.smk"))
    for stage in T.STAGES:  # the stages the table sums are the rules that write these benchmarks
        assert f'rule_benchmark("{stage}")' in rules, stage


def test_an_experiment_not_run_says_why_and_how_to_run_it():
    config, published = load_config(), load_published()
    table = T.render(config, published, {"experiments": {}})
    rows = {line.split("`")[1]: line for line in table.splitlines() if line.startswith("| `")}
    assert "needs the download (`snakemake --cores 1 download_imdb_reviews`" in rows["imdb_bilstm"]
    assert (
        "0.892" in rows["imdb_bilstm"] and "Chollet, Deep Learning with Python, 2nd ed., ch. 11" in rows["imdb_bilstm"]
    )
    assert "not in `make run`: `snakemake --cores 2 sonnets_word_lstm`" in rows["sonnets_word_lstm"]
    default = next(name for name, experiment in config["experiments"].items() if experiment["default_target"])
    assert "in `make run`, but not in this snapshot" in rows[default]
    assert len(rows) == len(config["experiments"])


def write_run(results, benchmarks, name: str, preset: str = "quick") -> ExperimentPaths:
    """An evaluated experiment with its training summary and its stages' benchmarks."""
    paths = ExperimentPaths.of(results, name)
    result = {
        **result_of("next_character", 2.0377, {"unigram_baseline": 3.0138}),
        "experiment": name,
        "model": "char_rnn",
    }
    training = {"preset": preset, "epochs": 5, "ranks": 2, "final": {"loss": 1.976, "val_loss": 2.07}}
    write_json(paths.eval_metrics, {**result, "training": training})
    write_json(paths.training_summary, {"wall_seconds_this_run": 24.2, "epochs": 5})
    for stage, seconds in zip(T.STAGES, (0.2, 0.3, 30.0, 7.0), strict=True):
        path = benchmark_file(benchmarks, stage, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        header = BenchmarkRecord.get_header()
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("\t".join(header) + "\n" + "\t".join([str(seconds), *["0"] * (len(header) - 1)]) + "\n")
    return paths


def test_the_command_writes_the_snapshot_and_the_table_and_check_catches_an_edit(tmp_path, capsys):
    results, benchmarks = tmp_path / "results", tmp_path / "benchmarks"
    write_run(results, benchmarks, "macbeth_char_rnn")
    page, snapshot = tmp_path / "results.md", tmp_path / "results-table.json"
    shutil.copy(T.DOCS_PAGE, page)
    arguments = ["--results-dir", str(results), "--benchmarks-dir", str(benchmarks)]
    assert T.main([*arguments, "--snapshot", str(snapshot), "--docs", str(page)]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("| `macbeth_char_rnn`"))
    assert "| quick, 5 epochs on 2 rank(s): Beats the unigram model (loss 2.038 vs 3.014 nats/char). |" in row
    assert "hpcseq here, the last epoch's training loss at preset quick: 1.976, not comparable" in row
    assert row.endswith("| training 24 s; all 4 stages 38 s |")
    assert T.main(["--check", "--snapshot", str(snapshot), "--docs", str(page)]) == 0
    page.write_text(page.read_text(encoding="utf-8").replace("2.038 vs 3.014", "2.031 vs 3.014"), encoding="utf-8")
    capsys.readouterr()
    assert T.main(["--check", "--snapshot", str(snapshot), "--docs", str(page)]) == 1
    assert "+| `macbeth_char_rnn`" in capsys.readouterr().out


def test_a_stage_timed_by_a_later_run_is_left_out(tmp_path):
    results, benchmarks = tmp_path / "results", tmp_path / "benchmarks"
    paths = write_run(results, benchmarks, "macbeth_char_rnn")
    later = paths.eval_metrics.stat().st_mtime + T.LATER_RUN_SECONDS + 60
    os.utime(benchmark_file(benchmarks, "train", "macbeth_char_rnn"), (later, later))
    run = T.experiment_snapshot(results, benchmarks, "macbeth_char_rnn")
    assert set(run["benchmarks"]) == {"preprocess", "vocabulary", "evaluate"}
    assert T.time_cell(run) == "training 24 s"


def test_no_results_is_an_error_that_says_what_to_run(tmp_path):
    with pytest.raises(InputDataError, match="make run"):
        T.take_snapshot(load_config(), tmp_path / "results", tmp_path / "benchmarks")
