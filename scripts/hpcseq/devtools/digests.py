"""Digests of a run's results, to show that a change left them as they were: per experiment, the
final weights' sha256 (from model/training_summary.json) and a sha256 of eval/metrics.json without
the figures that differ from run to run (wall-clock times, throughput, hosts, processes, commit).

    python -m hpcseq.devtools.digests results            # one line per experiment
    python -m hpcseq.devtools.digests results > before.txt; ...; diff before.txt <(... results)

Training on CPU with the same ranks and seeds gives the same weights bit for bit, so a refactoring
that changes no computation leaves every line the same.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from hpcseq.paths import ExperimentPaths

# Keys whose values describe this run, not results of the computation: times, throughput, where it
# ran, and which checkout and commit (a refactoring changes the commit, not the results).
RUN_DEPENDENT = (
    "seconds",
    "per_second",
    "time",
    "hostname",
    "hosts",
    "host_count",
    "pid",
    "commit",
    "dirty",
    "repository",
)


def _without_run_dependent(value):
    if isinstance(value, dict):
        return {
            key: _without_run_dependent(item)
            for key, item in value.items()
            if not any(key == name or key.endswith("_" + name) for name in RUN_DEPENDENT)
        }
    if isinstance(value, list):
        return [_without_run_dependent(item) for item in value]
    return value


def metrics_digest(metrics_file: Path) -> str:
    metrics = _without_run_dependent(json.loads(metrics_file.read_text(encoding="utf-8")))
    return hashlib.sha256(json.dumps(metrics, sort_keys=True).encode()).hexdigest()


def experiment_digests(results: Path) -> dict[str, tuple[str, str]]:
    """{experiment: (weights sha256, metrics digest)} of every experiment with both files."""
    digests = {}
    for folder in sorted(path for path in results.iterdir() if path.is_dir()):
        paths = ExperimentPaths.of(results, folder.name)
        summary, metrics = Path(paths.training_summary), Path(paths.eval_metrics)
        if summary.is_file() and metrics.is_file():
            weights = json.loads(summary.read_text(encoding="utf-8"))["weights_sha256"]
            digests[folder.name] = (weights, metrics_digest(metrics))
    return digests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hpcseq.devtools.digests", description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="the run's results folder (results_dir)")
    args = parser.parse_args(argv)
    digests = experiment_digests(args.results)
    if not digests:
        parser.error(f"{args.results}: no experiment with model/training_summary.json and eval/metrics.json")
    for experiment, (weights, metrics) in digests.items():
        print(f"{experiment}  weights {weights}  metrics {metrics}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
