"""A sweep's comparison: every model of `sweeps.<name>.models` trained on one experiment's data and
settings (snakemake sweeps), its test metric beside the experiment's baseline, as the material
compares its forecasting models (Chollet, Deep Learning with Python 2nd ed., ch. 10: each model's
test MAE beside the naive persistence forecast), and beside the figure the material publishes for
the same model on the same data where config/published.yaml has one (hpcseq.evaluation.published).
Table, JSON and plot in results/sweeps/<name>.*."""

from __future__ import annotations

import json

from hpcseq.errors import ConfigError, InputDataError
from hpcseq.evaluation import verdicts
from hpcseq.evaluation.plots import pyplot, save_figure
from hpcseq.evaluation.published import Publication, load_published
from hpcseq.io import write_json, write_text
from hpcseq.paths import SweepPaths

# Per task, how a sweep's table names what it compares; the metric, its direction and the
# baseline's key in eval/metrics.json are the verdicts' (verdicts.TASKS: the first baseline).
# published_metric None: the material publishes no figure comparable with the test metric (only
# training losses of next-character models).
HEADLINES = {
    "sequence_regression": {"metric": "MAE", "baseline_name": "persistence", "baseline_model": "persistence"},
    "sequence_classification": {
        "metric": "accuracy",
        "baseline_name": "majority class",
        "baseline_model": "majority",
    },
    "next_character": {
        "metric": "loss (nats/char)",
        "baseline_name": "unigram",
        "baseline_model": "unigram",
        "published_metric": None,
    },
}


def headline_of(task: str) -> dict:
    """HEADLINES[task] with the verdicts' measure of the task: the metric's key, whether lower is
    better, the baseline's key and the published metric."""
    if task not in HEADLINES:
        raise ConfigError("sweeps", f"a sweep compares models of {', '.join(HEADLINES)}, not of {task}")
    measure, baselines = verdicts.TASKS[task]
    return {
        "model": ("model_metrics", measure.metric),
        "baseline": (baselines[0][0], measure.metric),
        "lower_is_better": measure.lower_is_better,
        "published_metric": measure.published_metric,
        **HEADLINES[task],
    }


def _read(path) -> dict:
    if not path.is_file():
        raise InputDataError(path, "missing: the sweep's run did not finish (snakemake sweeps runs it)")
    return json.loads(path.read_text(encoding="utf-8"))


def sweep_description(config: dict, name: str) -> dict:
    """What the table needs of the config: the sweep's experiment and its models with their
    descriptions, in the sweep's order (what the workflow hands `hpcseq sweep --settings`)."""
    if name not in config.get("sweeps", {}):
        raise ConfigError("sweeps", f"no sweep named {name!r}; defined: {', '.join(sorted(config['sweeps']))}")
    sweep = config["sweeps"][name]
    models = [[model, config["models"][model].get("description", "").strip()] for model in sweep["models"]]
    return {"name": name, "experiment": sweep["experiment"], "models": models}


def _published_value(publication: Publication | None, model: str, metric: str | None) -> dict | None:
    figure = publication.figure(model, metric) if publication is not None and metric else None
    return None if figure is None else {"value": figure.value, "unit": figure.unit, "what": figure.what}


def published_columns(publication: Publication | None, headline: dict, models: list[str]) -> dict | None:
    """The published figures of the sweep's experiment beside its models and baseline, with their
    source; None where config/published.yaml has no figure of the headline metric for them."""
    metric = headline["published_metric"]
    figures = {model: _published_value(publication, model, metric) for model in models}
    baseline = _published_value(publication, headline["baseline_model"], metric)
    if baseline is None and not any(figures.values()):
        return None
    return {"source": publication.source, "note": publication.note, "baseline": baseline, "models": figures}


def sweep_rows(sweep: dict, results_dir, publications: dict[str, Publication] | None = None) -> dict:
    """Each model's metric, baseline, epochs, training time and cuDNN verdict, from its run's files,
    and the published figures of the experiment (`publications`: by experiment, load_published())."""
    name = sweep["name"]
    paths = SweepPaths.of(results_dir, name)
    rows = []
    task = None
    for model, description in sweep["models"]:
        run = paths.run(sweep["experiment"], model)
        metrics, training = _read(run.eval_metrics), _read(run.training_summary)
        task = metrics["task"]
        headline = headline_of(task)
        rows.append(
            {
                "model": model,
                "description": description,
                "value": metrics[headline["model"][0]][headline["model"][1]],
                "baseline": metrics[headline["baseline"][0]][headline["baseline"][1]],
                "epochs": training["epochs"],
                "global_batch_size": training["global_batch_size"],
                "training_seconds": training["wall_seconds_this_run"],
                "fused_cudnn_kernel": all(layer["fused_cudnn_kernel"] for layer in training["cudnn_kernels"])
                if training["cudnn_kernels"]
                else None,
                "evaluated_split": metrics["evaluated_split"],
                "unit": metrics.get("unit"),
                "preset": training.get("preset"),
                "ranks": training["ranks"],
            }
        )
    headline = headline_of(task)
    publication = (publications or {}).get(sweep["experiment"])
    published = published_columns(publication, headline, [row["model"] for row in rows])
    for row in rows:
        better = row["value"] < row["baseline"] if headline["lower_is_better"] else row["value"] > row["baseline"]
        row["beats_baseline"] = bool(better)
        row["published"] = published["models"][row["model"]] if published else None
    return {
        "sweep": name,
        "experiment": sweep["experiment"],
        "task": task,
        "metric": headline["metric"],
        "baseline_name": headline["baseline_name"],
        "lower_is_better": headline["lower_is_better"],
        "published": None if published is None else {key: published[key] for key in ("source", "note", "baseline")},
        "rows": rows,
    }


def _cell(value, digits: int = 3) -> str:
    if value is None:
        return "\u2013"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _published_unit(table: dict) -> str | None:
    figures = [row["published"] for row in table["rows"] if row["published"]]
    baseline = table["published"]["baseline"] if table["published"] else None
    return next((figure["unit"] for figure in [*figures, baseline] if figure and figure["unit"]), None)


def _published_cell(figure: dict | None, unit: str | None) -> str:
    """A published figure as published (its own digits), its unit named where it is not the column's."""
    if figure is None:
        return "\u2013"
    return f"{figure['value']:g}" + (f" {figure['unit']}" if figure["unit"] and figure["unit"] != unit else "")


def _published_lines(table: dict) -> list[str]:
    """Below the table: where the published figures are from, and how they differ from these runs."""
    published = table["published"]
    if published is None:
        return []
    baseline = published["baseline"]
    lines = ["", f"Published figures: {published['source']} (config/published.yaml)."]
    if baseline is not None:
        lines.append(
            f"Its {table['baseline_name']}: {_published_cell(baseline, None)} ({baseline['what']}); "
            f"on these runs' {table['rows'][0]['evaluated_split']} windows: {_cell(table['rows'][0]['baseline'])}."
        )
    if published["note"]:
        lines.append(published["note"].strip())
    return lines


def sweep_markdown(table: dict) -> str:
    unit = next((row["unit"] for row in table["rows"] if row["unit"]), None)
    metric = f"{table['metric']} ({unit})" if unit else table["metric"]
    split = table["rows"][0]["evaluated_split"]
    published_unit = _published_unit(table)
    published = f" published{f' ({published_unit})' if published_unit else ''} |" if table["published"] else ""
    lines = [
        f"# Sweep {table['sweep']}: the models of {table['experiment']} ({table['task']})",
        "",
        f"{split} {metric} of each model beside {table['baseline_name']} on the same {split} windows "
        f"({'lower' if table['lower_is_better'] else 'higher'} is better); preset {table['rows'][0]['preset']}, "
        f"{table['rows'][0]['ranks']} rank(s).",
        "",
        f"| model | {split} {metric} |{published} {table['baseline_name']} | beats it | epochs | global batch | "
        "training (s) | cuDNN fused kernel |",
        f"| --- | ---: |{' ---: |' if published else ''} ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for row in table["rows"]:
        fused = {True: "yes", False: "no", None: "no recurrent layer"}[row["fused_cudnn_kernel"]]
        beside = f" {_published_cell(row['published'], published_unit)} |" if published else ""
        lines.append(
            f"| `{row['model']}` | {_cell(row['value'])} |{beside} {_cell(row['baseline'])} | "
            f"{'yes' if row['beats_baseline'] else 'no'} | {row['epochs']} | {row['global_batch_size']} | "
            f"{_cell(row['training_seconds'], 0)} | {fused} |"
        )
    lines += _published_lines(table)
    lines += ["", *(f"- `{row['model']}`: {row['description']}" for row in table["rows"])]
    return "\n".join(lines) + "\n"


def plot_sweep(table: dict, path) -> None:
    plt = pyplot()
    rows = table["rows"]
    figure, axis = plt.subplots(figsize=(7, 0.5 * len(rows) + 1.5))
    names = [row["model"] for row in rows]
    axis.barh(
        names, [row["value"] for row in rows], color=["tab:green" if r["beats_baseline"] else "tab:red" for r in rows]
    )
    baseline = rows[0]["baseline"]  # the same windows for every model
    axis.axvline(baseline, color="black", linestyle="--", label=f"{table['baseline_name']} {baseline:.3f}")
    published = [(row["model"], row["published"]["value"]) for row in rows if row["published"]]
    if published:  # the material's figures, in their unit (the sweep's table names it and the source)
        axis.scatter([value for _, value in published], [name for name, _ in published], color="black", marker="x")
        axis.scatter([], [], color="black", marker="x", label="published")
    unit = next((row["unit"] for row in rows if row["unit"]), None)
    axis.set_xlabel(f"{rows[0]['evaluated_split']} {table['metric']}" + (f" ({unit})" if unit else ""))
    axis.invert_yaxis()
    axis.set_title(f"{table['sweep']}: {table['experiment']}")
    axis.legend()
    axis.grid(alpha=0.3, axis="x")
    save_figure(figure, path)
    plt.close(figure)


def write_sweep(sweep: dict, results_dir, publications: dict[str, Publication] | None = None) -> dict:
    """results/sweeps/<name>.{json,md,png} from the runs of the sweep (sweep_description), beside
    the published figures (`publications`; by default config/published.yaml's)."""
    table = sweep_rows(sweep, results_dir, load_published() if publications is None else publications)
    paths = SweepPaths.of(results_dir, sweep["name"])
    write_json(paths.table_json, table)
    write_text(paths.table_md, sweep_markdown(table))
    plot_sweep(table, paths.plot)
    return table
