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


def plot_confusion_matrix(matrix: list[list[int]], title: str, path: Path) -> None:
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(4.2, 3.8))
    image = axis.imshow(matrix, cmap="Blues")
    names = ["negative (0)", "positive (1)"]
    axis.set_xticks([0, 1], names)
    axis.set_yticks([0, 1], names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(title)
    peak = max(max(row) for row in matrix) or 1
    for i in range(2):
        for j in range(2):
            axis.text(
                j, i, str(matrix[i][j]), ha="center", va="center", color="white" if matrix[i][j] > peak / 2 else "black"
            )
    figure.colorbar(image, ax=axis, fraction=0.046)
    save_figure(figure, path)
    plt.close(figure)


def plot_from_files(kind: str, source: Path, title: str, output: Path) -> None:
    if kind == "curves":
        plot_training_curves(read_epoch_records(source), title, output)
    else:
        result = json.loads(Path(source).read_text(encoding="utf-8"))
        plot_confusion_matrix(
            result["model_metrics"]["confusion_matrix"], f"{title} ({result['evaluated_split']})", output
        )
