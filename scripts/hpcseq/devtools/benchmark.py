"""`make benchmark`: hpcseq's speed and memory beside two references, measured the same way.

For the char-RNN and the sentiment LSTM it runs, alternating and `--reps` times each:

  * the seed's own code path (JSC lecture 6, Riedel 2018): arrays in memory, `model.fit` as the
    lecture calls it, one step per execution (bench_tasks.py);
  * the in-memory reference: the same model on the same arrays at hpcseq's steps per execution,
    the model's own limit with no input pipeline;
  * hpcseq as its rule runs it: `hpcseq launch ... -- python -m hpcseq train --settings ...` on the
    shipped config's experiment (lecture preset), reading the rate from its metrics.jsonl; for the
    char-RNN also on 2 ranks of one node (horovodrun, as a local run starts them).

Every rate is training samples per second after the first execution of steps, whose time (tracing,
the pipeline's start) is reported apart. Then the data stages as their rules run them (`hpcseq
preprocess`, then `hpcseq vocab`, each its own interpreter) on a corpus of `--data-mb` MB made from
the shipped text, and the training input's memory. The arithmetic and the table: bench_figures.py.

The references' TensorFlow thread pools are pinned to what hpcseq takes for one rank (TensorFlow's
own default ran some runs on one of 2 cores here, halving them: a 2x swing that is not the code's).
Defaults are tuned on a 2-core machine; on a GPU node the same command runs unchanged (each
process takes the GPU TensorFlow finds).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace

from hpcseq.config import REPO_ROOT
from hpcseq.devtools import bench_figures
from hpcseq.devtools.bench_tasks import CHAR_BATCH, SENTIMENT_BATCH, TASKS, steady_rate

CORPUS = REPO_ROOT / "data" / "tinyshakespeare.txt"  # the char-RNN's text, and the data stages' source
CHAR_EXPERIMENT = "shakespeare_char_rnn"
SENTIMENT_EXPERIMENT = "umich_sentiment_lstm"
MEMORY_SCALE = 10  # the corpus repeated this often for the second training-input memory figure
# A char-RNN run's steps come in this many epochs; the run's rate is the median of its epochs'
# (bench_tasks.steady_rate), so that a moment of the machine's other work moves one epoch, not the run.
CHAR_EPOCHS = 8
PARTS = ("char", "sentiment", "data", "switches", "memory")
DOCS_PAGE = REPO_ROOT / "docs" / "developing" / "benchmark.md"  # its table, between the markers below
DOCS_FIGURES = REPO_ROOT / "docs" / "developing" / "benchmark.json"  # the figures that table shows
MARKERS = ("<!-- make benchmark's table: begin (written by --write-docs) -->", "<!-- make benchmark's table: end -->")
DEFAULT_JSON = REPO_ROOT / "benchmarks" / "benchmark.json"  # the last run, which the next is compared with


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------- child processes


def _reference_environment() -> dict:
    """TensorFlow's thread pools as hpcseq sets them for one rank (training/distributed.py)."""
    from hpcseq.training.distributed import thread_pools

    intra_op, inter_op = thread_pools(None, 1)
    return {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "TF_NUM_INTRAOP_THREADS": str(intra_op),
        "TF_NUM_INTEROP_THREADS": str(inter_op),
    }


def _run_task(name: str, **kwargs) -> dict:
    command = [sys.executable, "-m", "hpcseq.devtools.benchmark", "--task", name, "--args", json.dumps(kwargs)]
    result = subprocess.run(command, capture_output=True, text=True, env=_reference_environment())
    if result.returncode != 0:
        raise RuntimeError(f"benchmark task {name} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _peak_of(pid: int, peak: float) -> float:
    """The larger of `peak` and the process's own high-water mark (MiB), while it runs."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return max(peak, int(line.split()[1]) / 1024)
    except (OSError, ValueError):  # exited between two looks
        pass
    return peak


def _measured(command: list[str], output: Path, watch_memory: bool = True) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one command, its interpreter's start included. The peak is
    the child's own VmHWM, read every few milliseconds while it runs: getrusage's ru_maxrss would
    count the RSS this driver had when the child was forked (Linux carries it across exec).
    Without `watch_memory` it only waits (a timed training is not disturbed by the looks)."""
    started = time.perf_counter()
    peak = 0.0
    with open(output, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        while watch_memory and process.poll() is None:
            peak = _peak_of(process.pid, peak)
            time.sleep(0.005)
        process.wait()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{command[3]} failed (output {output}):\n{output.read_text(errors='replace')[-3000:]}")
    return seconds, peak


# ------------------------------------------------------------------------------------- set-up


def _settings(name: str, overrides: dict, preset: str | None = "lecture") -> dict:
    """The shipped config's experiment with `overrides`, as the workflow's stage JSON sees it;
    the resolved config under "_config" (the training rule's command needs it)."""
    from hpcseq.config import DEFAULT_CONFIG_PATH, experiment_settings, load_config

    config = load_config([DEFAULT_CONFIG_PATH], {"preset": preset, "experiments": {name: overrides}})
    return {**experiment_settings(config, name), "_config": config}


def char_settings(corpus: Path) -> dict:
    """A char_rnn experiment on any text file (the data stages' large corpus), no preset."""
    from hpcseq import config as config_module

    raw = {
        "preset": None,
        "datasets": {"corpus": {"format": "text", "path": str(corpus)}},
        "experiments": {"bench": {"model": "char_rnn", "dataset": "corpus", "ranks": 1}},
    }
    return config_module.experiment_settings(config_module.validate_config(raw), "bench")


def _prepare(settings: dict, results: Path):
    """Preprocessing and vocabulary of one experiment (not timed: the data stages are measured
    apart, on a larger corpus)."""
    from hpcseq.data.preparation import prepare_dataset
    from hpcseq.data.vocabulary import build_vocabulary
    from hpcseq.paths import ExperimentPaths

    paths = ExperimentPaths.of(results, settings["name"])
    prepare_dataset(settings, paths.prepared)
    build_vocabulary(settings, paths.prepared, paths.vocab, paths.encoded)
    return paths


# ----------------------------------------------------------------------------------- hpcseq runs


def _train_command(settings: dict, results: Path, model_dir: Path) -> list[str]:
    """The training rule's command (TRAIN_COMMAND) with the values its rule gives it on a local
    run of this experiment; this interpreter in place of both environments' (it has hpcseq too)."""
    from hpcseq.cluster.launch import TRAIN_COMMAND, rule_command
    from hpcseq.cluster.resources import stage_resources
    from hpcseq.config import stage_settings

    config = settings["_config"]
    local = dict(srun="", setup="", container="", timeline="", launcher=config["local_launcher"])
    params = SimpleNamespace(
        workflow_python=sys.executable,
        python=sys.executable,
        ranks=settings["ranks"],
        settings=json.dumps(stage_settings(settings, "train")),
        results=results,
        model_dir=model_dir,
        **local,
    )
    resources = SimpleNamespace(**stage_resources(config, settings["name"], "train"))
    return rule_command(TRAIN_COMMAND, params=params, resources=resources)


def _hpcseq_run(settings: dict, results: Path, model_dir: Path) -> dict:
    """One training as its rule runs it; its rate: the median of its epochs' steady rates (after the
    first execution of steps) in metrics.jsonl."""
    from hpcseq.paths import ExperimentPaths

    model_dir.mkdir(parents=True)
    _measured(_train_command(settings, results, model_dir), model_dir.parent / f"{model_dir.name}.out", False)
    paths = dataclasses.replace(ExperimentPaths.of(results, settings["name"]), model_root=model_dir)
    records = [json.loads(line) for line in paths.metrics.read_text(encoding="utf-8").splitlines()]
    epoch_rates = [record["steady_samples_per_second"] for record in records if record["steady_samples_per_second"]]
    return {
        "samples_per_second": steady_rate(epoch_rates),
        "epoch_rates": epoch_rates,
        "first_execution_seconds": records[0]["first_execution_seconds"],
        "steps": sum(record["steps"] for record in records),
    }


# ----------------------------------------------------------------------------------- the runs


def _alternate(approaches: dict, reps: int, label: str) -> dict:
    """Each approach `reps` times, in turn (a b c a b c ...), so that drift hits all alike."""
    runs: dict = {name: [] for name in approaches}
    for rep in range(reps):
        for name, run_once in approaches.items():
            runs[name].append(run_once(rep))
            _say(f"{label} {name} run {rep + 1}: {runs[name][-1]['samples_per_second']:,.0f} samples/s")
    return runs


def char_training(steps: int) -> dict:
    """The char-RNN's training settings for a run of `steps` steps in CHAR_EPOCHS epochs."""
    return {"epochs": CHAR_EPOCHS, "max_steps_per_epoch": steps // CHAR_EPOCHS}


def measure_char(tmp: Path, reps: int, steps: int, steps_per_execution: int) -> dict:
    settings = _settings(CHAR_EXPERIMENT, {"ranks": 1, "training": char_training(steps)})
    two = _settings(CHAR_EXPERIMENT, {"ranks": 2, "training": char_training(steps)})
    results = tmp / "results"
    _prepare(settings, results)
    arrays = tmp / "char-arrays"
    arrays.mkdir()
    _run_task("char_arrays", corpus=str(CORPUS), out=str(arrays))
    task = dict(arrays=str(arrays), steps=steps, epochs=CHAR_EPOCHS, steps_per_execution=steps_per_execution)
    runs = _alternate(
        {
            "seed": lambda rep: _run_task("char", approach="seed", **task),
            "reference": lambda rep: _run_task("char", approach="reference", **task),
            "hpcseq": lambda rep: _hpcseq_run(settings, results, tmp / "runs" / f"char-1-{rep}"),
            "hpcseq_2_ranks": lambda rep: _hpcseq_run(two, results, tmp / "runs" / f"char-2-{rep}"),
        },
        reps,
        "char_rnn",
    )
    return runs


def measure_sentiment(tmp: Path, reps: int, epochs: int, steps_per_execution: int) -> dict:
    settings = _settings(SENTIMENT_EXPERIMENT, {"ranks": 1, "training": {"epochs": epochs}}, "lecture")
    results = tmp / "results"
    paths = _prepare(settings, results)
    arrays = tmp / "sentence-arrays"
    arrays.mkdir()
    length = settings["hyperparameters"]["sentence_length"]
    _run_task("sentence_arrays", encoded=str(paths.encoded), vocab=str(paths.vocab), length=length, out=str(arrays))
    task = dict(arrays=str(arrays), epochs=epochs, steps_per_execution=steps_per_execution)
    return _alternate(
        {
            "seed": lambda rep: _run_task("sentiment", approach="seed", **task),
            "reference": lambda rep: _run_task("sentiment", approach="reference", **task),
            "hpcseq": lambda rep: _hpcseq_run(settings, results, tmp / "runs" / f"sentiment-{rep}"),
        },
        reps,
        "sentiment_lstm",
    )


SWITCHES = {  # each speed switch of the char-RNN's training, the values measured (the default among them)
    "steps_per_execution": (1, 8, 32, 128),
    "threads_per_rank": (1, 2),
}


def measure_switches(tmp: Path, reps: int, steps: int) -> dict:
    """hpcseq train (char_rnn, 1 rank) at each value of each switch, alternating; and the input
    pipeline made one batch at a time against a chunk of batches at once (bench_tasks)."""
    results = tmp / "results"
    variants = {}
    for switch, values in SWITCHES.items():
        for value in values:
            training = {**char_training(steps), switch: value}
            variants[f"{switch}={value}"] = _settings(CHAR_EXPERIMENT, {"ranks": 1, "training": training})
    paths = _prepare(next(iter(variants.values())), results)
    approaches = {
        name: (lambda rep, name=name, settings=settings: _hpcseq_run(settings, results, tmp / "runs" / f"{name}-{rep}"))
        for name, settings in variants.items()
    }
    runs = _alternate(approaches, reps, "switch")
    runs["input_chunks"] = _run_task(
        "input_chunks", encoded=str(paths.encoded), vocab=str(paths.vocab), steps=steps, epochs=CHAR_EPOCHS, reps=reps
    )
    return runs


def _large_corpus(path: Path, megabytes: float) -> tuple[Path, int]:
    """The shipped text repeated to at least `megabytes` MB (a benchmark input, not shipped)."""
    data = CORPUS.read_bytes()
    copies = math.ceil(megabytes * bench_figures.MB / len(data))
    with open(path, "wb") as handle:
        for _ in range(copies):
            handle.write(data)
    return path, copies


def measure_data_stages(tmp: Path, reps: int, megabytes: float, workflow_python: str) -> dict:
    from hpcseq.config import stage_settings

    corpus, copies = _large_corpus(tmp / "large-corpus.txt", megabytes)
    settings = char_settings(corpus)
    runs = []
    for rep in range(reps):
        results = tmp / f"data-{rep}"
        run = {}
        for stage, command in (("preprocess", "preprocess"), ("vocabulary", "vocab")):
            argv = [workflow_python, "-m", "hpcseq", command, "--settings"]
            argv += [json.dumps(stage_settings(settings, stage)), "--results-dir", str(results)]
            run[f"{stage}_seconds"], run[f"{stage}_peak_mib"] = _measured(argv, tmp / f"data-{rep}-{stage}.out")
        runs.append(run)
        _say(f"data stages run {rep + 1}: {run['preprocess_seconds'] + run['vocabulary_seconds']:.2f} s")
    size = corpus.stat().st_size
    corpus.unlink()
    return {"corpus_bytes": size, "made_from": f"{CORPUS.name} x {copies}", "runs": runs}


def measure_memory(tmp: Path) -> dict:
    """The char-RNN's training input on the corpus and on the corpus repeated MEMORY_SCALE times
    (what grows with the data, apart from TensorFlow's fixed buffers), and the seed's arrays."""
    base = _prepare(char_settings(CORPUS), tmp / "memory-x1")
    scaled, _ = _large_corpus(tmp / f"corpus-x{MEMORY_SCALE}.txt", CORPUS.stat().st_size * MEMORY_SCALE / 1e6)
    paths = _prepare(char_settings(scaled), tmp / f"memory-x{MEMORY_SCALE}")
    memory = {
        "corpus_bytes": CORPUS.stat().st_size,
        "scaled_bytes": scaled.stat().st_size,
        "hpcseq": _run_task("memory_hpcseq", encoded=str(base.encoded)),
        "hpcseq_scaled": _run_task("memory_hpcseq", encoded=str(paths.encoded)),
        "lecture": _run_task("memory_lecture", corpus=str(CORPUS)),
    }
    scaled.unlink()
    return memory


def _machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line), platform.processor())
    tensorflow = metadata.version("tensorflow")
    return (
        f"{len(os.sched_getaffinity(0))} cores ({model}), TensorFlow {tensorflow}, Python "
        f"{platform.python_version()}, {time.strftime('%Y-%m-%d')}"
    )


def run(args) -> dict:
    from hpcseq.training.distributed import thread_pools

    # the references run at the steps per execution hpcseq trains the char-RNN with
    steps_per_execution = _settings(CHAR_EXPERIMENT, {})["training"]["steps_per_execution"]
    setup = {
        "machine": _machine(),
        "reps": args.reps,
        "char_batch": CHAR_BATCH,
        "char_steps": args.char_steps,
        "sentiment_batch": SENTIMENT_BATCH,
        "sentiment_epochs": args.sentiment_epochs,
        "char_epochs": CHAR_EPOCHS,
        "data_reps": args.data_reps,
        "steps_per_execution": steps_per_execution,
        "default_threads_per_rank": thread_pools(None, 1)[0],  # threads_per_rank null, 1 rank
    }
    results = {"setup": setup}
    with tempfile.TemporaryDirectory(prefix="hpcseq-bench-") as folder:
        tmp = Path(folder)
        if "char" in args.parts:
            results["char"] = measure_char(tmp, args.reps, args.char_steps, steps_per_execution)
        if "sentiment" in args.parts:
            results["sentiment"] = measure_sentiment(tmp, args.reps, args.sentiment_epochs, steps_per_execution)
        if "data" in args.parts:
            results["data"] = measure_data_stages(tmp, args.data_reps, args.data_mb, args.workflow_python)
        if "switches" in args.parts:
            results["switches"] = measure_switches(tmp, args.switch_reps, args.char_steps)
        if "memory" in args.parts:
            results["memory"] = measure_memory(tmp)
    return results


def write_docs(results: dict) -> None:
    """The docs' table: the rendered figures between the page's markers, the figures beside it."""
    page = DOCS_PAGE.read_text(encoding="utf-8")
    begin, end = (page.index(marker) for marker in MARKERS)
    table = f"{MARKERS[0]}\n```text\n{bench_figures.render(results)}\n```\n"
    DOCS_PAGE.write_text(page[:begin] + table + page[end:], encoding="utf-8")
    DOCS_FIGURES.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hpcseq.devtools.benchmark", description=__doc__.splitlines()[0])
    parser.add_argument("--task", help=argparse.SUPPRESS)
    parser.add_argument("--args", help=argparse.SUPPRESS)
    parser.add_argument("--reps", type=int, default=5, help="runs of each approach, alternating (default 5)")
    parser.add_argument("--char-steps", type=int, default=2048, help="char-RNN training steps per run")
    parser.add_argument("--switch-reps", type=int, default=3, help="runs of each switch's value (default 3)")
    parser.add_argument("--sentiment-epochs", type=int, default=3, help="sentiment epochs per run")
    parser.add_argument("--data-reps", type=int, default=7, help="runs of the data stages (default 7)")
    parser.add_argument("--data-mb", type=float, default=60.0, help="size of the data stages' corpus in MB")
    parser.add_argument(
        "--workflow-python", default=sys.executable, help="the interpreter the data stages' rules run (Snakemake's)"
    )
    parser.add_argument(
        "--parts",
        type=lambda text: text.split(","),
        default=PARTS,
        help=f"what to measure, comma-separated (default: all of {','.join(PARTS)})",
    )
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="the figures' file, compared with before")
    parser.add_argument("--render", type=Path, help="print the table of a kept JSON (measure nothing)")
    parser.add_argument(
        "--write-docs",
        action="store_true",
        help=f"put the table and its figures into {DOCS_PAGE.relative_to(REPO_ROOT)}",
    )
    args = parser.parse_args(argv)
    if args.task:
        print(json.dumps(TASKS[args.task](**json.loads(args.args))))
        return 0
    if args.render:
        kept = json.loads(args.render.read_text(encoding="utf-8"))
        print(bench_figures.render(kept))
        if args.write_docs:
            write_docs(kept)
        return 0
    results = run(args)
    print(bench_figures.render(results))
    if args.json.is_file():
        previous = bench_figures.all_ratios(json.loads(args.json.read_text(encoding="utf-8")))
        print(f"\nagainst the previous run ({args.json}):")
        for line in bench_figures.agreement(previous, bench_figures.all_ratios(results)):
            print(f"  {line}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if args.write_docs:
        write_docs(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
