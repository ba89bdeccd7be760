"""`make benchmark`'s arithmetic: medians and spreads of repeated runs, each rate read against the
two references, the goals, the agreement of two runs, and the table it prints (pure functions:
tests/unit/test_benchmark_figures.py).

The raw results (benchmark.py writes them as JSON) hold every run of every approach; every figure
printed is computed here from them, so a kept JSON re-renders the same table.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

# The goals of issue 27, each read off one ratio below.
GOALS = {
    "char_of_reference": 0.95,  # hpcseq's char-RNN at least 95% of the in-memory reference
    "char_of_seed": 1.5,  # ... and 1.5x the seed's own code path
    "sentiment_of_seed": 1.5,  # the sentiment LSTM 1.5x the seed's
    "data_mb_per_second": 50.0,  # preprocessing + vocabulary together, interpreter starts included
    "data_memory_x_corpus": 10.0,  # peak memory of a data stage, and the training input, per corpus byte
}
AGREEMENT = 0.10  # two consecutive runs agree when every ratio differs by at most this fraction
EXTRAPOLATE_TO_BYTES = 10 * 10**9  # the data stages' time on 10 GB of text, at the measured rate
MB = 10**6  # throughput in MB/s of 10^6 bytes; memory in MiB as RSS is counted
MIB = 2**20


@dataclass(frozen=True)
class Spread:
    """Median and range of one figure over repeated runs."""

    median: float
    low: float
    high: float
    runs: int

    @classmethod
    def of(cls, values) -> Spread:
        values = [float(v) for v in values]
        if not values:
            raise ValueError("no runs to summarise")
        return cls(statistics.median(values), min(values), max(values), len(values))

    def text(self, digits: int = 0, unit: str = "") -> str:
        def fmt(value):
            return f"{value:,.{digits}f}"

        return f"{fmt(self.median)}{unit} ({fmt(self.low)}-{fmt(self.high)}, {self.runs} runs)"


def rates(runs: list[dict], key: str = "samples_per_second") -> Spread:
    return Spread.of(run[key] for run in runs)


def char_ratios(char: dict) -> dict[str, float]:
    """The char-RNN's ratios of medians: hpcseq to the seed and to the in-memory reference."""
    seed, reference, hpcseq = (rates(char[name]).median for name in ("seed", "reference", "hpcseq"))
    ratios = {
        "char_of_seed": hpcseq / seed,
        "char_of_reference": hpcseq / reference,
        "char_reference_of_seed": reference / seed,
    }
    if char.get("hpcseq_2_ranks"):
        ratios["char_2_ranks_of_1"] = rates(char["hpcseq_2_ranks"]).median / hpcseq
    return ratios


def sentiment_ratios(sentiment: dict) -> dict[str, float]:
    seed, reference, hpcseq = (rates(sentiment[name]).median for name in ("seed", "reference", "hpcseq"))
    return {"sentiment_of_seed": hpcseq / seed, "sentiment_of_reference": hpcseq / reference}


def data_figures(data: dict) -> dict[str, float]:
    """MB/s of the two stages together (median total time of the runs), peak memory per corpus
    byte (the worst stage of the worst run), and the time the rate gives for 10 GB."""
    size = data["corpus_bytes"]
    totals = Spread.of(run["preprocess_seconds"] + run["vocabulary_seconds"] for run in data["runs"])
    peak = max(max(run["preprocess_peak_mib"], run["vocabulary_peak_mib"]) for run in data["runs"])
    return {
        "data_mb_per_second": size / MB / totals.median,
        "data_memory_x_corpus": peak * MIB / size,
        "data_seconds_for_10_gb": totals.median * EXTRAPOLATE_TO_BYTES / size,
    }


def switch_ratios(switches: dict, setup: dict) -> dict[str, float]:
    """Each switch value's median rate over its default's (`name=value` keys; input_chunks: one
    batch per call over the chunked default)."""
    defaults = {
        "steps_per_execution": setup["steps_per_execution"],
        "threads_per_rank": setup["default_threads_per_rank"],
    }
    ratios = {}
    for name, runs in switches.items():
        if name == "input_chunks":
            continue
        switch, value = name.split("=")
        default = rates(switches[f"{switch}={defaults[switch]}"]).median
        if int(value) != defaults[switch]:
            ratios[f"switch {name} of default"] = rates(runs).median / default
    chunks = switches.get("input_chunks")
    if chunks:
        one, chunked = (rates(chunks[key]).median for key in sorted(chunks, key=int))
        ratios["switch input chunk 1 of default"] = one / chunked
    return ratios


def all_ratios(results: dict) -> dict[str, float]:
    """Every ratio the table prints, by name: what two runs must agree on."""
    figures = {}
    if results.get("char"):
        figures.update(char_ratios(results["char"]))
    if results.get("sentiment"):
        figures.update(sentiment_ratios(results["sentiment"]))
    if results.get("switches"):
        figures.update(switch_ratios(results["switches"], results["setup"]))
    if results.get("data"):
        figures.update({k: v for k, v in data_figures(results["data"]).items() if k != "data_seconds_for_10_gb"})
    memory = results.get("memory")
    if memory:
        figures["input_memory_x_corpus"] = memory["hpcseq_scaled"]["data_peak_mib"] * MIB / memory["scaled_bytes"]
    return figures


def goal_lines(ratios: dict[str, float]) -> list[str]:
    """One line per goal: met or not, with the figure."""
    lines = []
    for name, goal in GOALS.items():
        value = ratios.get(name)
        if value is None:
            continue
        upper = name.endswith("x_corpus")  # a limit, not a floor
        met = value <= goal if upper else value >= goal
        sign = "<=" if upper else ">="
        lines.append(f"{'met' if met else 'NOT met'}: {name} {value:.2f} (goal {sign} {goal:g})")
    memory = ratios.get("input_memory_x_corpus")
    if memory is not None:
        met = memory <= GOALS["data_memory_x_corpus"]
        lines.append(
            f"{'met' if met else 'NOT met'}: input_memory_x_corpus {memory:.2f} "
            f"(goal <= {GOALS['data_memory_x_corpus']:g}; the training input at 10x the corpus)"
        )
    return lines


def agreement(previous: dict[str, float], current: dict[str, float], tolerance: float = AGREEMENT) -> list[str]:
    """Each ratio of two runs side by side; 'agree' when they differ by at most `tolerance` of the
    earlier one. Ratios only one run has are listed as such."""
    lines = []
    for name in sorted(set(previous) | set(current)):
        if name not in previous or name not in current:
            lines.append(f"{name}: only in {'this' if name in current else 'the previous'} run")
            continue
        before, now = previous[name], current[name]
        change = abs(now - before) / abs(before) if before else float("inf")
        verdict = "agree" if change <= tolerance else "DIFFER"
        lines.append(f"{name}: {before:.3f} then {now:.3f} ({change:.1%}) {verdict}")
    return lines


def reading(rate: float, seed: float, reference: float) -> str:
    """'1.52x the seed, 97% of the in-memory reference'."""
    return f"{rate / seed:.2f}x the seed, {rate / reference:.0%} of the in-memory reference"


def _approach_rows(title: str, runs_by_approach: dict, labels: dict) -> list[str]:
    seed = rates(runs_by_approach["seed"]).median
    reference = rates(runs_by_approach["reference"]).median
    lines = [title]
    width = max(len(label) for label in labels.values())
    for name, label in labels.items():
        runs = runs_by_approach.get(name)
        if not runs:
            continue
        speed = rates(runs)
        first = Spread.of(run["first_execution_seconds"] for run in runs)
        line = f"  {label:<{width}}  {speed.text(0)} samples/s, first execution {first.median:.2f} s"
        lines.append(line + f"; {reading(speed.median, seed, reference)}")
        if name.endswith("_2_ranks"):
            lines.append(f"  {'':<{width}}  per rank {speed.median / 2:,.0f} samples/s")
    return lines


def render(results: dict) -> str:
    """The table `make benchmark` prints (and the docs' page shows between its markers)."""
    setup = results["setup"]
    lines = [f"machine: {setup['machine']}"]
    if results.get("char"):
        lines += ["", *_char_lines(results["char"], setup)]
    if results.get("sentiment"):
        lines += ["", *_sentiment_lines(results["sentiment"], setup)]
    if results.get("data"):
        lines += ["", *_data_lines(results["data"])]
    if results.get("switches"):
        lines += ["", *_switch_lines(results["switches"], setup)]
    if results.get("memory"):
        lines += ["", *_memory_lines(results["memory"])]
    lines += ["", "goals:", *(f"  {line}" for line in goal_lines(all_ratios(results)))]
    return "\n".join(lines)


def _char_lines(char: dict, setup: dict) -> list[str]:
    return _approach_rows(
        f"char_rnn (SimpleRNN 128), batch {setup['char_batch']}, {setup['char_steps']} steps in "
        f"{setup.get('char_epochs', 1)} epochs; a run's rate: the median of its epochs' training samples/s "
        "after the first execution:",
        char,
        {
            "seed": "seed's code path (one-hot arrays, fit, 1 step per execution)",
            "reference": f"in-memory reference (same, {setup['steps_per_execution']} steps per execution)",
            "hpcseq": "hpcseq train, 1 rank (as its rule runs it)",
            "hpcseq_2_ranks": "hpcseq train, 2 ranks on one node (in all)",
        },
    )


def _sentiment_lines(sentiment: dict, setup: dict) -> list[str]:
    return _approach_rows(
        f"sentiment_lstm, batch {setup['sentiment_batch']}, {setup['sentiment_epochs']} epochs of the grouped "
        "split's training part; a run's rate: the median of its epochs':",
        sentiment,
        {
            "seed": "seed's code path (padded arrays, fit, 1 step per execution)",
            "reference": f"in-memory reference (same, {setup['steps_per_execution']} steps per execution)",
            "hpcseq": "hpcseq train, 1 rank (as its rule runs it)",
        },
    )


def _switch_lines(switches: dict, setup: dict) -> list[str]:
    ratios = switch_ratios(switches, setup)
    lines = ["speed switches (hpcseq train, char_rnn, 1 rank; training samples/s after the first execution):"]
    for name, runs in switches.items():
        if name == "input_chunks":
            continue
        ratio = ratios.get(f"switch {name} of default")
        versus = f"{ratio:.2f}x the default" if ratio is not None else "the default here"
        lines.append(f"  training.{name:<24} {rates(runs).text(0)} samples/s, {versus}")
    chunks = switches.get("input_chunks")
    if chunks:
        one, chunked = sorted(chunks, key=int)
        lines.append(
            f"  input pipeline, 1 batch per call        {rates(chunks[one]).text(0)} samples/s, "
            f"{ratios['switch input chunk 1 of default']:.2f}x the default"
        )
        lines.append(
            f"  input pipeline, {chunked} batches per call (default) {rates(chunks[chunked]).text(0)} samples/s"
        )
    return lines


def _data_lines(data: dict) -> list[str]:
    figures = data_figures(data)
    totals = Spread.of(run["preprocess_seconds"] + run["vocabulary_seconds"] for run in data["runs"])
    return [
        f"data stages (hpcseq preprocess, then hpcseq vocab, each its own interpreter) on "
        f"{data['corpus_bytes'] / MB:.1f} MB made from {data['made_from']}:",
        f"  {figures['data_mb_per_second']:.1f} MB/s; both stages {totals.text(2, ' s')}; "
        f"peak memory {figures['data_memory_x_corpus']:.2f}x the corpus; "
        f"10 GB would take about {figures['data_seconds_for_10_gb'] / 60:.1f} min at this rate",
    ]


def _memory_lines(memory: dict) -> list[str]:
    base_mib = memory["corpus_bytes"] / MIB
    scaled_mib = memory["scaled_bytes"] / MIB
    hpcseq, scaled, lecture = memory["hpcseq"], memory["hpcseq_scaled"], memory["lecture"]
    growth = (scaled["data_peak_mib"] - hpcseq["data_peak_mib"]) / (scaled_mib - base_mib)
    return [
        "training input memory (char_rnn, peak over the process's start):",
        f"  hpcseq {hpcseq['data_peak_mib']:.1f} MiB = {hpcseq['data_peak_mib'] / base_mib:.1f}x the corpus; "
        f"at {scaled_mib:.1f} MiB of text {scaled['data_peak_mib']:.1f} MiB = "
        f"{scaled['data_peak_mib'] / scaled_mib:.1f}x (grows {growth:.2f} bytes per corpus byte)",
        f"  seed's one-hot arrays {lecture['data_peak_mib']:.0f} MiB = "
        f"{lecture['data_peak_mib'] / base_mib:.0f}x the corpus",
    ]
