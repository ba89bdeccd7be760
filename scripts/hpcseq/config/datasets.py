"""The datasets (`datasets:`): what an entry must hold, and which of them an experiment's model reads."""

from __future__ import annotations

from hpcseq.errors import ConfigError
from hpcseq.paths import TASK_SOURCE_FORMATS, DownloadPaths


def dataset_entry_errors(name: str, dataset: dict) -> list[ConfigError]:
    """What the schema cannot say about one entry of `datasets`."""
    return _download_errors(name, dataset) + _time_series_errors(name, dataset)


def _download_errors(name: str, dataset: dict) -> list[ConfigError]:
    """A downloaded dataset's location and checksum are those of its `download` entry: one place."""
    if "download" not in dataset:
        return []
    why = "a dataset with `download` is read from where it is fetched to (downloads_dir), checked at the download"
    return [
        ConfigError(f"datasets.{name}.{key}", f"leave it out: {why}")
        for key in ("path", "sha256")
        if dataset.get(key) is not None
    ]


def _time_series_errors(name: str, dataset: dict) -> list[ConfigError]:
    if dataset.get("format") == "time_series" and not dataset.get("time_series"):
        return [ConfigError(f"datasets.{name}.time_series", "format time_series needs its layout (time_column, ...)")]
    return []


def experiment_dataset_errors(name: str, experiment: dict, datasets: dict, models: dict) -> list[ConfigError]:
    """An experiment's dataset is defined and of a format its model's task reads."""
    dataset, model = experiment.get("dataset"), experiment.get("model")
    if dataset not in datasets:
        valid = ", ".join(sorted(datasets))
        return [
            ConfigError(f"experiments.{name}.dataset", f"{dataset!r} is not defined under `datasets`; defined: {valid}")
        ]
    task = models.get(model, {}).get("task")
    wanted = TASK_SOURCE_FORMATS.get(task)
    if wanted is not None and datasets[dataset].get("format") not in wanted:
        return [
            ConfigError(
                f"experiments.{name}.dataset",
                f"model {model} (task {task}) needs a dataset of format {' or '.join(map(repr, wanted))}, "
                f"but {dataset} has format {datasets[dataset].get('format')!r}",
            )
        ]
    return []


def fill_download_paths(config: dict) -> None:
    """`path` of every downloaded dataset: where hpcseq.paths.DownloadPaths says the data stages
    read it (downloads_dir unexpanded, as results_dir: expanded where a stage runs)."""
    for name, dataset in config["datasets"].items():
        if "download" in dataset:
            dataset["path"] = str(DownloadPaths.of(config["downloads_dir"], name, dataset["download"]).data)
