"""hpcseq.evaluation.plots: the confusion-matrix figure of a classifier shows the model beside
every baseline of its evaluation, each with its own counts."""

from __future__ import annotations

import json

from hpcseq.evaluation.metrics import classification_metrics
from hpcseq.evaluation.plots import confusion_panels, plot_from_files

LABELS = [0, 0, 0, 1, 1, 1, 1]


def evaluation(with_bag_of_words: bool = True) -> dict:
    """A classification metrics.json as `hpcseq evaluate` writes it (the parts the plot reads)."""
    result = {
        "evaluated_split": "test",
        "model_metrics": classification_metrics(LABELS, [0, 0, 1, 1, 1, 1, 0]),
        "majority_baseline": {"class": 1, **classification_metrics(LABELS, [1] * 7)},
    }
    if with_bag_of_words:
        result["bag_of_words_baselines"] = {
            "unigram_binary": {"features": "unigram_binary", **classification_metrics(LABELS, [0, 0, 0, 1, 1, 1, 1])},
            "bigram_tfidf": {"features": "bigram_tfidf", **classification_metrics(LABELS, [1, 0, 0, 1, 0, 1, 1])},
        }
    return result


def test_the_model_comes_first_then_each_bag_of_words_baseline_then_the_majority_class():
    panels = confusion_panels(evaluation())
    assert [label.split("\n")[0] for label, _ in panels] == [
        "model",
        "bag of words: unigram binary",
        "bag of words: bigram tfidf",
        "majority class (1)",
    ]
    assert [matrix for _, matrix in panels] == [[[2, 1], [1, 3]], [[3, 0], [0, 4]], [[2, 1], [1, 3]], [[0, 3], [0, 4]]]
    assert panels[1][0].endswith("accuracy 1.000, F1 1.000")
    assert panels[3][0].endswith(f"accuracy {4 / 7:.3f}, F1 {8 / 11:.3f}")


def test_an_evaluation_without_bag_of_words_baselines_shows_the_model_and_the_majority_class():
    assert [label.split("\n")[0] for label, _ in confusion_panels(evaluation(False))] == [
        "model",
        "majority class (1)",
    ]


def test_the_figure_is_a_png_written_whole(tmp_path):
    source = tmp_path / "metrics.json"
    source.write_text(json.dumps(evaluation()))
    output = tmp_path / "confusion.png"
    plot_from_files("confusion", source, "tiny_sentiment", output)
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {path.name for path in tmp_path.iterdir()} == {"metrics.json", "confusion.png"}  # no temporary left
