"""A sweep's comparison: every model of `sweeps.<name>.models` trained on one experiment's data and
settings (snakemake sweeps), its test metric beside the experiment's baseline, as the material
compares its forecasting models (Chollet, Deep Learning with Python 2nd ed., ch. 10: each model's
test MAE beside the naive persistence forecast). Table, JSON and plot in results/sweeps/<name>.*."""

from __future__ import annotations

import json

from hpcseq.errors import ConfigError, InputDataError
from hpcseq.evaluation.plots import pyplot, save_figure
from hpcseq.io import write_json, write_text
from hpcseq.paths import SweepPaths

# Per task: the metric compared, where it and its baseline are in eval/metrics.json, and whether lower is better.
HEADLINES = {
    "sequence_regression": {
        "metric": "MAE",
        "model": ("model_metrics", "mae"),
        "baseline_name": "persistence",
        "baseline": ("persistence_baseline", "mae"),
        "lower_is_better": True,
    },
    "sequence_classification": {
        "metric": "accuracy",
        "model": ("model_metrics", "accuracy"),
        "baseline_name": "majority class",
        "baseline": ("majority_baseline", "accuracy"),
        "lower_is_better": False,
    },
    "next_character": {
        "metric": "loss (nats/char)",
        "model": ("model_metrics", "loss"),
        "baseline_name": "unigram",
        "baseline": ("unigram_baseline", "loss"),
        "lower_is_better": True,
    },
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


def sweep_rows(sweep: dict, results_dir) -> dict:
    """Each model's metric, baseline, epochs, training time and cuDNN verdict, from its run's files."""
    name = sweep["name"]
    paths = SweepPaths.of(results_dir, name)
    rows = []
    task = None
    for model, description in sweep["models"]:
        run = paths.run(sweep["experiment"], model)
        metrics, training = _read(run.eval_metrics), _read(run.training_summary)
        task = metrics["task"]
        headline = HEADLINES[task]
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
    headline = HEADLINES[task]
    for row in rows:
        better = row["value"] < row["baseline"] if headline["lower_is_better"] else row["value"] > row["baseline"]
        row["beats_baseline"] = bool(better)
    return {
        "sweep": name,
        "experiment": sweep["experiment"],
        "task": task,
        "metric": headline["metric"],
        "baseline_name": headline["baseline_name"],
        "lower_is_better": headline["lower_is_better"],
        "rows": rows,
    }


def _cell(value, digits: int = 3) -> str:
    if value is None:
        return "\u2013"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def sweep_markdown(table: dict) -> str:
    unit = next((row["unit"] for row in table["rows"] if row["unit"]), None)
    metric = f"{table['metric']} ({unit})" if unit else table["metric"]
    split = table["rows"][0]["evaluated_split"]
    lines = [
        f"# Sweep {table['sweep']}: the models of {table['experiment']} ({table['task']})",
        "",
        f"{split} {metric} of each model beside {table['baseline_name']} on the same {split} windows "
        f"({'lower' if table['lower_is_better'] else 'higher'} is better); preset {table['rows'][0]['preset']}, "
        f"{table['rows'][0]['ranks']} rank(s).",
        "",
        f"| model | {split} {metric} | {table['baseline_name']} | beats it | epochs | global batch | "
        "training (s) | cuDNN fused kernel |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for row in table["rows"]:
        fused = {True: "yes", False: "no", None: "no recurrent layer"}[row["fused_cudnn_kernel"]]
        lines.append(
            f"| `{row['model']}` | {_cell(row['value'])} | {_cell(row['baseline'])} | "
            f"{'yes' if row['beats_baseline'] else 'no'} | {row['epochs']} | {row['global_batch_size']} | "
            f"{_cell(row['training_seconds'], 0)} | {fused} |"
        )
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
    unit = next((row["unit"] for row in rows if row["unit"]), None)
    axis.set_xlabel(f"{rows[0]['evaluated_split']} {table['metric']}" + (f" ({unit})" if unit else ""))
    axis.invert_yaxis()
    axis.set_title(f"{table['sweep']}: {table['experiment']}")
    axis.legend()
    axis.grid(alpha=0.3, axis="x")
    save_figure(figure, path)
    plt.close(figure)


def write_sweep(sweep: dict, results_dir) -> dict:
    """results/sweeps/<name>.{json,md,png} from the runs of the sweep (sweep_description)."""
    table = sweep_rows(sweep, results_dir)
    paths = SweepPaths.of(results_dir, sweep["name"])
    write_json(paths.table_json, table)
    write_text(paths.table_md, sweep_markdown(table))
    plot_sweep(table, paths.plot)
    return table
