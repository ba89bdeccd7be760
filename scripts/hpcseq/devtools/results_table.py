"""`make results-table`: the docs' table of experiments, generated from a run's results.

One row per experiment of config/config.yaml, run or not: its data, hpcseq's result with its
baselines and the verdict in words (hpcseq.evaluation.verdicts), the course material's published
figures with their document and section (config/published.yaml), and the run's time.

The numbers come from a run's files: each experiment's eval/metrics.json and model/
training_summary.json under results/, and Snakemake's benchmark of each stage (<benchmarks_dir>/
<stage>/<experiment>.tsv, column `s`). `make benchmark` (devtools/benchmark.py) measures hpcseq's
data path against the lecture's, not the experiments, so the times here are the run's own. A
stage's file written well after the experiment's evaluation belongs to a later run of that stage
and is left out.

The fields read are kept in a snapshot (docs/using/results-table.json, in the results' own key
names), and the table is rewritten between two marker lines of docs/using/results.md. `--check`
renders the table from the snapshot alone and fails, with a diff, where the docs' table differs
(tests/unit/test_results_table.py runs it), so the page cannot drift from the numbers it shows.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import json
import sys
from pathlib import Path

from hpcseq.config import load_config
from hpcseq.errors import InputDataError
from hpcseq.evaluation.published import METRICS, Publication, load_published
from hpcseq.evaluation.verdicts import BAG_OF_WORDS, LECTURE_PRESET, TASKS, hpcseq_figure, verdict
from hpcseq.io import write_json, write_text
from hpcseq.paths import REPO_ROOT, ExperimentPaths, benchmark_file

DOCS_PAGE = REPO_ROOT / "docs" / "using" / "results.md"
SNAPSHOT = REPO_ROOT / "docs" / "using" / "results-table.json"
BEGIN = "<!-- results-table: begin (written by `make results-table` from docs/using/results-table.json) -->"
END = "<!-- results-table: end -->"
STAGES = ("preprocess", "vocabulary", "train", "evaluate")  # the rules whose benchmarks time an experiment
BENCHMARK_SECONDS = "s"  # Snakemake's benchmark column of wall-clock seconds
LATER_RUN_SECONDS = 120  # a stage's file this much newer than the evaluation is of a later run
METRIC_WORDS = {"training_loss": "training loss", "accuracy": "accuracy", "mae": "MAE"}  # published.METRICS, short
HEADER = (
    "| experiment (model) | data | hpcseq here: preset, then the verdict on its baselines | "
    "published figure (document, section) | time on the run's machine |",
    "| --- | --- | --- | --- | --- |",
)


# ---- the snapshot: what the table reads of a run, in the results' own key names


def metrics_fields(result: dict) -> dict:
    """The part of an eval/metrics.json the table reads (its verdict, preset and published comparison)."""
    measure, baselines = TASKS[result["task"]]
    kept = {key: result[key] for key in ("experiment", "model", "task", "evaluated_split", "unit") if key in result}
    kept["model_metrics"] = {measure.metric: result["model_metrics"][measure.metric]}
    for key, _ in baselines:
        if key == BAG_OF_WORDS and result.get(key):
            kept[key] = {kind: {measure.metric: found[measure.metric]} for kind, found in result[key].items()}
        elif key != BAG_OF_WORDS and result.get(key):
            kept[key] = {measure.metric: result[key][measure.metric]}
    training = result.get("training") or {}
    kept["training"] = {key: training.get(key) for key in ("preset", "epochs", "ranks")}
    kept["training"]["final"] = {"loss": (training.get("final") or {}).get("loss")}
    return kept


def _written_after(path: Path, evaluated: float) -> bool:
    return path.stat().st_mtime > evaluated + LATER_RUN_SECONDS


def experiment_snapshot(results_dir: Path, benchmarks_dir: Path, name: str) -> dict | None:
    """What the table reads of one experiment's run; None where it has no evaluation."""
    paths = ExperimentPaths.of(results_dir, name)
    if not paths.eval_metrics.is_file():
        return None
    evaluated = paths.eval_metrics.stat().st_mtime
    snapshot = {"eval_metrics": metrics_fields(json.loads(paths.eval_metrics.read_text(encoding="utf-8")))}
    summary = paths.training_summary
    if summary.is_file() and not _written_after(summary, evaluated):
        seconds = json.loads(summary.read_text(encoding="utf-8")).get("wall_seconds_this_run")
        snapshot["training_summary"] = {"wall_seconds_this_run": seconds}
    stages = {}
    for stage in STAGES:
        path = Path(benchmark_file(benchmarks_dir, stage, name))
        if path.is_file() and not _written_after(path, evaluated):
            with path.open(encoding="utf-8", newline="") as handle:
                rows = list(csv.DictReader(handle, delimiter="\t"))
            if rows:
                stages[stage] = {BENCHMARK_SECONDS: float(rows[-1][BENCHMARK_SECONDS])}
    snapshot["benchmarks"] = stages
    return snapshot


def take_snapshot(config: dict, results_dir: Path, benchmarks_dir: Path) -> dict:
    """Every configured experiment's snapshot that has a run under `results_dir`."""
    experiments = {}
    for name in config["experiments"]:
        found = experiment_snapshot(results_dir, benchmarks_dir, name)
        if found is not None:
            experiments[name] = found
    if not experiments:
        raise InputDataError(results_dir, "holds no experiment's eval/metrics.json: run `make run` first")
    return {"experiments": experiments}


# ---- the table


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def data_cell(config: dict, name: str) -> str:
    """The dataset in a few words (its description up to the first comma) and its file or download."""
    dataset_name = config["experiments"][name]["dataset"]
    dataset = config["datasets"][dataset_name]
    words = dataset.get("description", dataset_name).strip().replace(";", ",").split(", ")[0]
    where = "download" if dataset.get("download") else f"`{dataset['path']}`"
    return f"{words} ({where})"


def not_run_cell(config: dict, name: str) -> str:
    """Why an experiment has no result here, and how to run it."""
    experiment = config["experiments"][name]
    dataset = experiment["dataset"]
    if config["datasets"][dataset].get("download"):
        return (
            f"not run here: needs the download (`snakemake --cores 1 download_{dataset}`, then "
            f"`snakemake --cores 2 {name}`)"
        )
    if experiment["default_target"]:
        return "in `make run`, but not in this snapshot: `make run`, then `make results-table`"
    return f"not in `make run`: `snakemake --cores 2 {name}`"


def result_cell(metrics: dict) -> str:
    """`quick, 5 epochs on 2 ranks: Beats the unigram model (loss 2.038 vs 3.014 nats/char).`"""
    training = metrics.get("training") or {}
    setting = f"{training.get('preset')}, {training.get('epochs')} epochs on {training.get('ranks')} rank(s)"
    return f"{setting}: {verdict(metrics).sentence}"


def published_cell(publication: Publication | None, model: str, metrics: dict | None) -> str:
    """Each published figure by metric (with what it is, for the experiment's `model`), the document
    and section, and whether hpcseq's figure beside it is comparable (the same preset) or not."""
    if publication is None:
        return "none"
    by_metric: dict[str, list[str]] = {}
    for figure in publication.figures:
        unit = f" {figure.unit}" if figure.unit else ""
        what = f" ({figure.what})" if figure.model == model else ""
        by_metric.setdefault(figure.metric, []).append(f"`{figure.model}` {figure.value:g}{unit}{what}")
    figures = "; ".join(f"{METRIC_WORDS[metric]}: {', '.join(shown)}" for metric, shown in by_metric.items())
    text = f"{figures}. {publication.source}"
    if metrics is None:
        return text
    measure = TASKS[metrics["task"]][0]
    figure = publication.figure(model, measure.published_metric)
    ours = hpcseq_figure(metrics, measure)
    preset = (metrics.get("training") or {}).get("preset")
    if figure is not None and ours is not None:
        comparable = (
            "comparable" if preset == LECTURE_PRESET else f"not comparable (published: preset {LECTURE_PRESET})"
        )
        text += f". hpcseq here, {METRICS[figure.metric]} at preset {preset}: {measure.text(ours)}, {comparable}"
    return text


def time_cell(snapshot: dict) -> str:
    """`training 24 s; all 4 stages 163 s`, from the training summary and the stages' benchmarks."""
    parts = []
    training = (snapshot.get("training_summary") or {}).get("wall_seconds_this_run")
    if training is not None:
        parts.append(f"training {training:.0f} s")
    stages = snapshot.get("benchmarks") or {}
    if len(stages) == len(STAGES):
        total = sum(stage[BENCHMARK_SECONDS] for stage in stages.values())
        parts.append(f"all {len(STAGES)} stages {total:.0f} s")
    return "; ".join(parts) or "not recorded"


def render(config: dict, published: dict[str, Publication], snapshot: dict) -> str:
    """The Markdown table of every configured experiment, with the notes on the published figures."""
    runs = snapshot["experiments"]
    rows = list(HEADER)
    for name in config["experiments"]:
        run = runs.get(name)
        metrics = run["eval_metrics"] if run else None
        model = config["experiments"][name]["model"]
        hpcseq = result_cell(metrics) if metrics else not_run_cell(config, name)
        cells = [
            f"`{name}` (`{model}`)",
            data_cell(config, name),
            hpcseq,
            published_cell(published.get(name), model, metrics),
            time_cell(run) if run else "not run",
        ]
        rows.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    notes = [f"- `{name}`: {_cell(p.note.strip())}" for name, p in published.items() if p.note]
    left_out = sorted(set(runs) - set(config["experiments"]))
    if left_out:
        notes.append(f"- In the snapshot but no longer configured, left out: {', '.join(left_out)}.")
    return "\n".join(rows) + ("\n\nOn the published figures:\n\n" + "\n".join(notes) if notes else "") + "\n"


# ---- the docs page


def docs_table(page: str, where: Path = DOCS_PAGE) -> str:
    """The text between the page's two marker lines."""
    if page.count(BEGIN) != 1 or page.count(END) != 1 or page.index(BEGIN) > page.index(END):
        raise InputDataError(where, f"needs the marker lines {BEGIN!r} and {END!r}, once each, in this order")
    return page.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n") + "\n"


def with_table(page: str, table: str, where: Path = DOCS_PAGE) -> str:
    """The page with `table` between its marker lines."""
    docs_table(page, where)
    before, rest = page.split(BEGIN, 1)
    return f"{before}{BEGIN}\n\n{table}\n{END}{rest.split(END, 1)[1]}"


def check(page_path: Path, snapshot_path: Path, config: dict, published: dict) -> list[str]:
    """The diff of the docs' table against the table rendered from the snapshot; empty where equal."""
    snapshot = json.loads(snapshot_path.read_text(encoding="utf-8"))
    wanted = "\n" + render(config, published, snapshot)
    shown = "\n" + docs_table(page_path.read_text(encoding="utf-8"), page_path)
    return list(
        difflib.unified_diff(
            shown.splitlines(keepends=True),
            wanted.splitlines(keepends=True),
            f"{page_path} (the docs' table)",
            f"rendered from {snapshot_path}",
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hpcseq.devtools.results_table", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare the docs' table with the snapshot's; no writing")
    parser.add_argument("--results-dir", type=Path, help="a run's results (default: the config's results_dir)")
    parser.add_argument("--benchmarks-dir", type=Path, help="its benchmarks (default: the config's benchmarks_dir)")
    parser.add_argument("--snapshot", type=Path, default=SNAPSHOT, help="the numbers the table shows (JSON)")
    parser.add_argument("--docs", type=Path, default=DOCS_PAGE, help="the page whose table is rewritten")
    args = parser.parse_args(argv)
    config, published = load_config(), load_published()
    if args.check:
        diff = check(args.docs, args.snapshot, config, published)
        sys.stdout.writelines(diff)
        if diff:
            print(f"\nthe table of {args.docs} is stale: run `make results-table` after `make run`", file=sys.stderr)
        return 1 if diff else 0
    results = args.results_dir or REPO_ROOT / config["results_dir"]
    benchmarks = args.benchmarks_dir or REPO_ROOT / config["benchmarks_dir"]
    snapshot = take_snapshot(config, results, benchmarks)
    table = render(config, published, snapshot)
    write_json(args.snapshot, snapshot)
    write_text(args.docs, with_table(args.docs.read_text(encoding="utf-8"), table, args.docs))
    print(table, end="")
    print(f"wrote {args.snapshot} and the table of {args.docs}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
