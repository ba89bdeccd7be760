"""The console of a real training, read back the way `hpcseq logs` reads it: its epoch lines give
the epochs, losses and accuracies of metrics.jsonl (to the 4 decimals they show), its speed and
time per epoch, its checkpoint lines the checkpoints on disk, and its last line the files of
training_summary.json's run."""

from __future__ import annotations

import pytest

from hpcseq.events import CONSOLE, TRAINING_DONE
from hpcseq.logs.parse import console_epochs, console_progress, lines_from_text
from hpcseq.records import checkpoints_on_disk
from tests.training.test_train import metrics_of, summary_of

METRICS = {
    "next_character": ("loss", "val_loss", "sparse_categorical_accuracy", "val_sparse_categorical_accuracy"),
    "sequence_classification": ("loss", "val_loss", "accuracy", "val_accuracy"),
}


@pytest.mark.parametrize("name", ["char", "senti"])
def test_the_console_of_a_real_training_agrees_with_its_metrics_and_summary(plain_training, name):
    trained = plain_training(name)
    settings, paths = trained.settings, trained.console_paths  # the files its console names
    lines = lines_from_text(trained.console.stdout, "train.out")
    records, summary = metrics_of(paths), summary_of(paths)

    shown = console_epochs(lines)
    assert [epoch["epoch"] for epoch in shown] == [record["epoch"] for record in records] == [1, 2]
    for epoch, record in zip(shown, records, strict=True):
        assert epoch["epochs"] == record["epochs"] == summary["epochs"] == 2
        for key in METRICS[settings["task"]]:
            assert epoch[key] == round(record[key], 4), key
        assert epoch["samples_per_second"] == round(record["samples_per_second"])
        assert epoch["epoch_seconds"] == round(record["epoch_seconds"], 1)

    progress = console_progress(lines)
    final = summary["final"]
    assert (progress.epochs_done, progress.epochs_planned, progress.epochs_this_job) == (2, 2, 2)
    assert (progress.loss, progress.val_loss) == (round(final["loss"], 4), round(final["val_loss"], 4))
    assert (progress.ranks, progress.launcher) == (summary["ranks"], summary["launcher"]) == (1, "plain")
    assert progress.training_started and progress.finished and progress.stopped_on is None
    complete = [found.path for found in checkpoints_on_disk(paths.checkpoints) if found.state is not None]
    assert progress.last_checkpoint.path == str(complete[-1]) and progress.last_checkpoint.describe() == "epoch 2"

    last = CONSOLE.match(lines[-1].text)
    assert (last.group("stage"), last.group("level")) == ("train", "INFO")
    done = TRAINING_DONE.match(last.group("message"))
    assert (done.group("model"), done.group("metrics")) == (str(paths.final_model), str(paths.metrics))
    assert paths.final_model.is_file()
