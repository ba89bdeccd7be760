"""Training curves and confusion matrices as PNG (matplotlib, no display needed)."""

from __future__ import annotations

import json
from pathlib import Path

from hpcseq.io import atomic_open
from hpcseq.records import read_epoch_records


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path: Path) -> None:
    with atomic_open(path, "wb") as handle:
        figure.savefig(handle, dpi=110, format="png", bbox_inches="tight")


def plot_training_curves(records: list[dict], title: str, path: Path) -> None:
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    epochs = [r["epoch"] for r in records]
    labels = {"accuracy": "accuracy", "sparse_categorical_accuracy": "accuracy", "mae": "MAE (normalised)"}
    second = next((key for key in labels if records and key in records[0]), None)
    panels = [("loss", "loss")] + ([(second, labels[second])] if second else [])
    figure, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    for axis, (key, label) in zip(axes[0], panels, strict=True):
        axis.plot(epochs, [r.get(key) for r in records], marker="o", label="training")
        axis.plot(epochs, [r.get(f"val_{key}") for r in records], marker="o", label="validation")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        axis.set_xlabel("epoch")
        axis.set_ylabel(label)
        axis.set_title(f"{title}: {label}")
        axis.legend()
        axis.grid(alpha=0.3)
    save_figure(figure, path)
    plt.close(figure)


def confusion_panels(result: dict) -> list[tuple[str, list[list[int]]]]:
    """(label, confusion matrix) of the model and of each baseline of a classification evaluation
    (metrics.json), the model first: the plot shows each matrix beside its baselines'."""

    def label(name: str, metrics: dict) -> str:
        return f"{name}\naccuracy {metrics['accuracy']:.3f}, F1 {metrics['f1']:.3f}"

    panels = [(label("model", result["model_metrics"]), result["model_metrics"]["confusion_matrix"])]
    for kind, baseline in (result.get("bag_of_words_baselines") or {}).items():
        panels.append((label(f"bag of words: {kind.replace('_', ' ')}", baseline), baseline["confusion_matrix"]))
    majority = result.get("majority_baseline")
    if majority:
        panels.append((label(f"majority class ({majority['class']})", majority), majority["confusion_matrix"]))
    return panels


def plot_confusion_matrices(panels: list[tuple[str, list[list[int]]]], title: str, path: Path) -> None:
    """One confusion matrix per panel, side by side, on one colour scale (counts of one split)."""
    plt = pyplot()
    figure, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels) + 0.8, 3.9), squeeze=False)
    names = ["negative (0)", "positive (1)"]
    peak = max(max(max(row) for row in matrix) for _, matrix in panels) or 1
    for index, (axis, (label, matrix)) in enumerate(zip(axes[0], panels, strict=True)):
        image = axis.imshow(matrix, cmap="Blues", vmin=0, vmax=peak)
        axis.set_xticks([0, 1], names)
        axis.set_yticks([0, 1], names if index == 0 else ["", ""])
        axis.set_xlabel("predicted")
        if index == 0:
            axis.set_ylabel("true")
        axis.set_title(label, fontsize=9)
        for i in range(2):
            for j in range(2):
                color = "white" if matrix[i][j] > peak / 2 else "black"
                axis.text(j, i, str(matrix[i][j]), ha="center", va="center", color=color)
    figure.suptitle(title)
    figure.colorbar(image, ax=list(axes[0]), fraction=0.046 / len(panels) * 2)
    save_figure(figure, path)
    plt.close(figure)


def plot_from_files(kind: str, source: Path, title: str, output: Path) -> None:
    if kind == "curves":
        plot_training_curves(read_epoch_records(source), title, output)
    else:
        result = json.loads(Path(source).read_text(encoding="utf-8"))
        plot_confusion_matrices(confusion_panels(result), f"{title} ({result['evaluated_split']} split)", output)
