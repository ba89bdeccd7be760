"""hpcseq.logs.parse: console lines, metrics records, Snakemake's Slurm logs and the job script's lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hpcseq.logs.parse import (
    console_progress,
    lines_from_text,
    parse_script_output,
    parse_snakemake_log,
    records_between,
    results_dir_from,
    results_dir_from_lines,
    timestamp,
)
from hpcseq.records import read_epoch_records
from tests.unit.logs.excerpts import CONSOLE, SCRIPT_REQUEUED, SNAKEMAKE_LOG

# ------------------------------------------------------------------------------- console lines


def test_console_progress_reads_epochs_metrics_ranks_and_the_last_checkpoint():
    progress = console_progress(lines_from_text(CONSOLE))
    assert (progress.epochs_done, progress.epochs_planned, progress.epochs_this_job) == (3, 500, 3)
    assert (progress.loss, progress.val_loss) == (2.9149, 2.8815)
    assert (progress.accuracy, progress.val_accuracy) == (0.1896, 0.1930)
    assert progress.samples_per_second == 8715  # the median: the first epoch's 122/s includes compiling
    assert (progress.ranks, progress.launcher, progress.host) == (2, "srun", "vm")
    assert progress.last_checkpoint.describe() == "epoch 3 + 5 steps of epoch 4"
    assert not progress.finished and progress.training_started


def test_horovodrun_prefixes_are_stripped_and_the_rank_kept():
    # horovodrun prefixes every line with [rank]<stream>:, mpirun --tag-output with [job,rank]<stream>:
    text = (
        "[0]<stdout>:2026-11-22 07:59:09 hpcseq train rank 0/2 INFO epoch 1/25 loss 2.1197 "
        "sparse_categorical_accuracy 0.3823 val_loss 1.9879 val_sparse_categorical_accuracy 0.4123 | "
        "31151 samples/s | 32.8 s\n[1,1]<stderr>:Traceback (most recent call last):\n"
    )
    lines = lines_from_text(text)
    assert [line.rank for line in lines] == [0, 1]
    assert lines[1].text == "Traceback (most recent call last):"
    progress = console_progress(lines)
    assert (progress.epochs_done, progress.epochs_planned, progress.loss, progress.val_accuracy) == (
        1,
        25,
        2.1197,
        0.4123,
    )
    assert progress.samples_per_second == 31151


def test_sentiment_accuracy_key_and_the_end_of_training():
    text = (
        "2026-11-22 11:11:12 hpcseq train rank 0/2 INFO epoch 2/2 loss 0.6374 accuracy 0.5719 val_loss 0.6038 "
        "val_accuracy 0.6838 | 1704 samples/s | 0.8 s\n"
        "2026-11-22 11:11:12 hpcseq train rank 0/2 INFO done: final model /r/x/model/final.keras, metrics "
        "/r/x/model/metrics.jsonl\n"
    )
    progress = console_progress(lines_from_text(text))
    assert (progress.accuracy, progress.val_accuracy, progress.finished) == (0.5719, 0.6838, True)


def test_the_training_part_of_progress_is_what_a_job_record_keeps():
    progress = console_progress(lines_from_text(CONSOLE))
    training = progress.training()
    assert (training.epochs_done, training.loss, training.source) == (3, 2.9149, "console")
    assert not hasattr(training, "launcher")


# ------------------------------------------------------------------------------- metrics.jsonl


def test_metrics_file_skips_a_cut_off_line_and_records_are_chosen_by_time(tmp_path):
    path = tmp_path / "metrics.jsonl"
    records = [
        {"epoch": e, "epochs": 5, "loss": 3.0 - e / 10, "time": f"2026-11-22T11:0{e}:00+0000"} for e in (1, 2, 3)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + '{"epoch": 4, "epo')
    read = read_epoch_records(path, missing_ok=True)
    assert [r["epoch"] for r in read] == [1, 2, 3]
    start = timestamp("2026-11-22T11:01:30+0000")
    assert [r["epoch"] for r in records_between(read, start, None)] == [2, 3]
    assert [r["epoch"] for r in records_between(read, start, timestamp("2026-11-22T11:02:30+0000"))] == [2]
    assert read_epoch_records(tmp_path / "missing.jsonl", missing_ok=True) == []
    with pytest.raises(FileNotFoundError):
        read_epoch_records(tmp_path / "missing.jsonl")


def test_timestamps_of_sacct_metrics_and_console_agree(utc):
    assert timestamp("2026-11-22T11:04:38") == timestamp("2026-11-22T11:04:38+0000") == timestamp("2026-11-22 11:04:38")
    assert timestamp("2026-11-22T12:04:38+0100") == timestamp("2026-11-22T11:04:38+0000")
    assert timestamp("Unknown") is None and timestamp(None) is None


# ------------------------------------------------------------------------ Snakemake's Slurm logs


def test_snakemake_slurm_log_names_rule_log_outputs_and_the_failure():
    parsed = parse_snakemake_log(lines_from_text(SNAKEMAKE_LOG))
    assert parsed.rule == "train" and parsed.wildcards == {"experiment": "tiny_sentiment"}
    assert parsed.log_files == ["/tmp/s1/logs/train/tiny_sentiment.log"]
    assert parsed.error and not parsed.finished and parsed.exit_status == 2
    assert results_dir_from(parsed.outputs, "tiny_sentiment") == Path("/tmp/s1/results")
    finished = parse_snakemake_log(
        lines_from_text("localrule evaluate:\nFinished jobid: 0 (Rule: evaluate)\n1 of 1 steps (100%) done\n")
    )
    assert finished.finished and not finished.error


def test_the_results_folder_is_found_by_the_layout_of_paths_py():
    # relative outputs (the config's results_dir), and results_dir "." (the experiment folder in the run directory)
    assert results_dir_from(["results/x/model/final.keras"], "x") == Path("results")
    assert results_dir_from(["x/prepared/train.txt", "x/vocab.json"], "x") == Path(".")
    assert results_dir_from(["/r/other/model/final.keras", "/r/x/notes.txt"], "x") is None
    lines = lines_from_text(
        "2026-11-22 11:11:43 hpcseq train INFO done: final model /s/res/x/model/final.keras, metrics "
        "/s/res/x/model/metrics.jsonl\n"
    )
    assert results_dir_from_lines(lines, "x") == Path("/s/res") and results_dir_from_lines(lines, "y") is None


# ------------------------------------------------------------------------ the job script's lines


def test_script_output_counts_only_the_latest_run_of_a_requeued_job():
    output = parse_script_output(lines_from_text(SCRIPT_REQUEUED))
    assert (output.restarts, output.done, output.requeue_line) == (1, True, None)
    first = parse_script_output(lines_from_text("\n".join(SCRIPT_REQUEUED.splitlines()[:2])))
    assert first.requeue_line is not None and not first.done
