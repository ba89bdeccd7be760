"""The scaling study (`snakemake scaling`): an experiment trained for a fixed number of steps at
several rank counts, read back into samples per second, speedup, efficiency and the share of time
Horovod spent communicating; results/scaling/<experiment>.{json,md,png}.

Weak scaling: every rank keeps the experiment's batch, so the global batch grows with the ranks and
the ideal throughput with it, n-fold at n ranks (what Horovod's benchmarks report: a fixed batch
per GPU keeps each GPU as busy as alone, so what is lost is lost to communication and waiting). A
fixed global batch (strong scaling) would shrink each rank's batch and measure small batches
rather than Horovod. Speedup is the throughput at n ranks over that of the smallest rank count
(1: rate(n) / rate(1)), efficiency the speedup over its ideal (n / smallest).

Measured are the epochs after the first, which traces the training graph. Throughput is their
samples over their training seconds (metrics.jsonl, validation excluded).

Horovod's timeline (HOROVOD_TIMELINE, written by rank 0, the coordinator) is Chrome trace JSON: a
list of events in which each tensor is a "process" (pid, named by a metadata event). Each
collective operation on a tensor is

    NEGOTIATE_<OP>  B .. E   from the first rank to the last one reporting the tensor ready
                             (with one zero-length X event per rank as it reports)
    <OP>            B .. E   the operation (ALLREDUCE, BROADCAST, ALLGATHER, ...), around
        activities  B .. E   MEMCPY_IN_FUSION_BUFFER, MPI_ALLREDUCE / GLOO_ALLREDUCE /
                             NCCL_ALLREDUCE (the transfer), MEMCPY_OUT_FUSION_BUFFER, ...

Horovod closes the list after every event, but a writer killed in the middle of one leaves it
unterminated: what precedes the cut is read. The timeline's window is the measured steps: Horovod's
DistributedOptimizer reduces each gradient once per step, so the window runs from the end of the
first measured step's gradient exchange to the end of the last step's, whole steps only. Within it
each instant counts once, for the first of these that is in flight on any tensor:

    transfer      the collective in MPI, Gloo or NCCL
    other         the rest of an operation: fusion-buffer copies, allocation, queueing
    negotiation   waiting until every rank has the tensor ready (mostly for the slowest rank)

so the shares add up to the communication share, which is at most 1. Horovod overlaps its
communication with the backward pass: the share is the time communication was in flight, an
upper bound of the time lost to it. With one rank there is none: the DistributedOptimizer
skips the allreduce.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from hpcseq.errors import InputDataError
from hpcseq.io import write_json, write_text
from hpcseq.paths import ScalingPaths
from hpcseq.records import read_epoch_records, read_rank_reports

WARMUP_EPOCHS = 1  # not measured: the first epoch traces the training graph
# The tensors Horovod's DistributedOptimizer reduces once per training step: gradients are named
# HorovodAllreduce_grads_0, HorovodAllreduce_grads_3_0 (dense; ..._grad_<i> with generic names),
# sparse ones are gathered (HorovodAllgather_grads_...).
GRADIENT_TENSOR = re.compile(r"Horovod(Grouped)?(Allreduce|Allgather)_grads?(_\d+)*$")
# The shares, in the order in which an instant is attributed when several are in flight.
CATEGORIES = ("transfer", "other", "negotiation")
# Activities inside an operation that move no data between ranks.
LOCAL_ACTIVITY = re.compile(r"^(MEMCPY_|INIT_|ALLOCATE_|QUEUE|WAIT_FOR_)")
NO_VALUE = "\u2013"


# ------------------------------------------------------------------------------------ timeline


@dataclass(frozen=True)
class Timeline:
    """The events of a timeline file; `truncated` when its writer stopped in the middle of one."""

    path: Path
    events: list
    truncated: bool = False


@dataclass(frozen=True)
class Interval:
    """One B..E pair of a tensor: `depth` 0 for a negotiation or an operation, 1 for an activity."""

    tensor: str
    name: str
    start: int  # microseconds since the timeline started
    end: int
    depth: int

    @property
    def category(self) -> str:
        if self.depth == 0:
            return "negotiation" if self.name.startswith("NEGOTIATE_") else "other"
        return "other" if LOCAL_ACTIVITY.match(self.name) else "transfer"


def read_timeline(path: str | Path) -> Timeline:
    """A Horovod timeline file; an empty file (Horovod opened it but recorded nothing) has no events."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputDataError(
            path,
            "no Horovod timeline: the run did not record one (HOROVOD_TIMELINE; `hpcseq train --horovod-timeline`)",
        ) from None
    except UnicodeDecodeError:
        raise InputDataError(path, "not a Horovod timeline: not UTF-8 text") from None
    body = text.rstrip()
    if not body.strip():
        return Timeline(path, [])
    try:
        data, truncated = json.loads(body), False
    except json.JSONDecodeError:
        data, truncated = _read_unterminated(body, path)
    if isinstance(data, dict) and isinstance(data.get("traceEvents"), list):  # Chrome's object form
        data = data["traceEvents"]
    if not isinstance(data, list):
        raise InputDataError(
            path, f"not a Horovod timeline: Chrome trace JSON is a list of events, not a {type(data).__name__}"
        )
    return Timeline(path, data, truncated)


def _read_unterminated(body: str, path: Path) -> tuple[list, bool]:
    """The events of a list whose end is missing or cut off inside its last event."""
    start = len(body) - len(body.lstrip())
    if not body.startswith("[", start):
        raise InputDataError(path, "not a Horovod timeline: Chrome trace JSON starts with '['", line=1)
    decoder, events, position = json.JSONDecoder(), [], start + 1
    while True:
        position = _skip_space(body, position)
        if position >= len(body) or body[position] == "]":
            break
        try:
            event, position = decoder.raw_decode(body, position)
        except json.JSONDecodeError as error:
            if re.search(r"\}\s*[,\]]", body[position:]) is None:  # no whole event follows: a cut-off last one
                return events, True
            raise InputDataError(
                path, f"not valid JSON: {error.msg} (column {error.colno})", line=error.lineno
            ) from None
        events.append(event)
        position = _skip_space(body, position)
        if position < len(body) and body[position] == ",":
            position += 1
        elif position < len(body) and body[position] != "]":
            line = body.count("\n", 0, position) + 1
            raise InputDataError(path, f"not valid JSON: expected ',' or ']' after event {len(events)}", line=line)
    if position < len(body) and body[position + 1 :].strip():
        line = body.count("\n", 0, position) + 1
        raise InputDataError(path, "not valid JSON: text after the end of the list", line=line)
    return events, position >= len(body)


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def timeline_intervals(timeline: Timeline) -> list[Interval]:
    """Every closed B..E pair of every tensor, in the order of their ends. A begin left open by
    the end of the file (a cut-off timeline) has no end and no interval."""
    names: dict = {}
    stacks: dict = {}
    intervals = []
    for index, event in enumerate(timeline.events, start=1):
        if not isinstance(event, dict) or not isinstance(event.get("ph"), str):
            raise InputDataError(timeline.path, f"event {index} is not a trace event (an object with a phase 'ph')")
        phase = event["ph"]
        if phase == "M" and event.get("name") == "process_name" and "name" in (event.get("args") or {}):
            names[event.get("pid")] = str(event["args"]["name"])
        if phase not in ("B", "E"):
            continue  # metadata, the ranks' zero-length ready marks (X), cycle markers (i)
        pid, ts = event.get("pid"), event.get("ts")
        if not isinstance(ts, int | float) or isinstance(ts, bool) or pid is None:
            raise InputDataError(timeline.path, f"event {index} ({phase}) lacks a numeric 'ts' or a 'pid'")
        stack = stacks.setdefault(pid, [])
        if phase == "B":
            stack.append((str(event.get("name", "")), ts))
            continue
        if not stack:
            raise InputDataError(timeline.path, f"event {index} ends an activity of pid {pid} that never began")
        name, start = stack.pop()
        if ts < start:
            raise InputDataError(timeline.path, f"event {index} ends {name} of pid {pid} before it began")
        intervals.append(Interval(names.get(pid, f"pid {pid}"), name, start, ts, len(stack)))
    return intervals


def operation_cycles(intervals: list[Interval]) -> dict[str, list[tuple[int, int]]]:
    """Per tensor, each operation from the start of its negotiation to its end, in order."""
    cycles: dict[str, list[tuple[int, int]]] = {}
    negotiating: dict[str, int] = {}
    for interval in sorted((i for i in intervals if i.depth == 0), key=lambda i: (i.start, i.end)):
        if interval.category == "negotiation":
            negotiating[interval.tensor] = interval.start
        else:
            start = negotiating.pop(interval.tensor, interval.start)
            cycles.setdefault(interval.tensor, []).append((start, interval.end))
    return cycles


def measured_window(intervals: list[Interval], steps: int, warmup_steps: int, path: Path) -> tuple[int, int] | None:
    """The span of the measured steps, or None when no gradient was reduced (one rank). `steps`:
    every step of the run; the first `warmup_steps` are not measured.

    From the end of the first measured step's gradient exchange to the end of the last step's:
    whole steps only (optimizer update, forward and backward pass, exchange), none of the time
    the epoch's start adds (rank 0 writing the warm-up's checkpoint, which the others wait for)."""
    gradients = {t: c for t, c in operation_cycles(intervals).items() if GRADIENT_TENSOR.search(t)}
    if not gradients:
        return None
    for tensor, cycles in sorted(gradients.items()):
        if len(cycles) != steps:
            raise InputDataError(
                path,
                f"gradient {tensor} was reduced {len(cycles)} times, but the run trained {steps} steps: "
                "the timeline is not this run's, or it is incomplete",
            )
    if steps - warmup_steps < 2:
        raise InputDataError(path, f"{steps - warmup_steps} measured step(s): the timeline's window needs 2")
    start = max(cycles[warmup_steps][1] for cycles in gradients.values())
    end = max(cycles[-1][1] for cycles in gradients.values())
    return start, end


def communication_shares(intervals: list[Interval], window: tuple[int, int]) -> dict[str, float]:
    """The share of the window attributed to each of CATEGORIES: every instant once, to the first
    category in flight on any tensor then; they add up to at most 1."""
    start, end = window
    if end <= start:
        return dict.fromkeys(CATEGORIES, 0.0)
    boundaries = []
    for interval in intervals:
        low, high = max(interval.start, start), min(interval.end, end)
        if high > low:
            rank = CATEGORIES.index(interval.category)
            boundaries += [(low, 1, rank), (high, -1, rank)]
    boundaries.sort()
    in_flight = [0] * len(CATEGORIES)
    seconds = [0.0] * len(CATEGORIES)
    previous = start
    for time, change, rank in boundaries:
        active = next((r for r, count in enumerate(in_flight) if count), None)
        if active is not None:
            seconds[active] += time - previous
        in_flight[rank] += change
        previous = time
    return {name: value / (end - start) for name, value in zip(CATEGORIES, seconds, strict=True)}


def analyse_timeline(path: str | Path, steps_per_epoch: int, epochs: int) -> dict:
    """The communication shares of a run's measured steps, from its timeline."""
    timeline = read_timeline(path)
    intervals = timeline_intervals(timeline)
    measured = steps_per_epoch * (epochs - WARMUP_EPOCHS)
    window = measured_window(intervals, steps_per_epoch * epochs, steps_per_epoch * WARMUP_EPOCHS, timeline.path)
    gradients = sorted({i.tensor for i in intervals if GRADIENT_TENSOR.search(i.tensor)})
    shares = communication_shares(intervals, window) if window else dict.fromkeys(CATEGORIES, 0.0)
    return {
        "file": str(path),
        "events": len(timeline.events),
        "truncated": timeline.truncated,
        "gradient_tensors": len(gradients),
        "window_seconds": (window[1] - window[0]) / 1e6 if window else None,
        "window_steps": measured - 1 if window else None,
        "seconds_per_step": (window[1] - window[0]) / 1e6 / (measured - 1) if window else None,
        "communication_share": sum(shares.values()),
        "shares": shares,
        "note": None if window else "no gradient was reduced (one rank: the DistributedOptimizer skips the allreduce)",
    }


# ----------------------------------------------------------------------------------------- runs


def _read_json(path: Path, what: str) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputDataError(path, f"no {what}: that run did not finish (`snakemake scaling` runs it)") from None
    except json.JSONDecodeError as error:
        raise InputDataError(path, f"{what} is not valid JSON: {error.msg}", line=error.lineno) from None
    if not isinstance(data, dict):
        raise InputDataError(path, f"{what} is not a JSON object")
    return data


def read_run(paths: ScalingPaths, ranks: int) -> dict:
    """What the run at `ranks` ranks measured: throughput of its measured epochs, its nodes, and
    the communication shares from its timeline."""
    run = paths.run(ranks)
    summary = _read_json(run.training_summary, "training summary")
    if summary.get("ranks") != ranks:
        raise InputDataError(
            run.training_summary,
            f"the run for {ranks} ranks trained on {summary.get('ranks')}: its launcher started "
            "independent processes, not one Horovod job of that many ranks",
        )
    if summary.get("resumed_from_epoch") or summary.get("resumed_at_step"):
        raise InputDataError(
            run.training_summary,
            f"the run resumed from a checkpoint, so its times are not one run's: delete {run.model_dir} and rerun",
        )
    try:
        records = read_epoch_records(run.metrics)
    except FileNotFoundError:
        raise InputDataError(run.metrics, "no metrics: that run did not finish (`snakemake scaling` runs it)") from None
    measured = [record for record in records if record["epoch"] > WARMUP_EPOCHS]
    if not measured:
        raise InputDataError(
            run.metrics, f"{len(records)} epoch(s), none after the {WARMUP_EPOCHS} of warm-up: nothing is measured"
        )
    samples = sum(record["samples"] for record in measured)
    seconds = sum(record["train_seconds"] for record in measured)
    if seconds <= 0:
        raise InputDataError(run.metrics, "the measured epochs took no time")
    hosts = sorted({report["host"] for report in read_rank_reports(run.rank_reports) if report.get("host")})
    device = summary.get("device") or {}
    on = f"GPU {device['gpu']}" if device.get("gpu") else f"CPU, {device.get('threads_per_rank')} threads per rank"
    return {
        "ranks": ranks,
        "nodes": len(hosts) or None,
        "hosts": hosts,
        "launcher": summary.get("launcher"),
        "device": on,
        "batch_size_per_rank": summary.get("batch_size_per_rank"),
        "global_batch_size": summary.get("global_batch_size"),
        "steps_per_epoch": summary["steps_per_epoch"],
        "measured_epochs": len(measured),
        "measured_steps": sum(record["steps"] for record in measured),
        "measured_seconds": seconds,
        "samples_per_second": samples / seconds,
        "samples_per_second_per_rank": samples / seconds / ranks,
        "timeline": analyse_timeline(paths.timeline(ranks), summary["steps_per_epoch"], summary["epochs"]),
    }


def with_speedup(runs: list[dict]) -> list[dict]:
    """The runs by rank count, each with its speedup over the smallest rank count and its efficiency."""
    runs = sorted(runs, key=lambda run: run["ranks"])
    base = runs[0]
    for run in runs:
        run["speedup"] = run["samples_per_second"] / base["samples_per_second"]
        run["efficiency"] = run["speedup"] / (run["ranks"] / base["ranks"])
    return runs


def scaling_study(results_dir: str | Path, experiment: str, ranks: list[int]) -> dict:
    if not ranks:
        raise InputDataError(results_dir, "no rank counts to compare")
    runs = with_speedup([read_run(ScalingPaths.of(results_dir, experiment), n) for n in sorted(set(ranks))])
    return {
        "experiment": experiment,
        "scaling": "weak: a fixed batch per rank, the global batch grows with the ranks",
        "baseline_ranks": runs[0]["ranks"],
        "warmup_epochs": WARMUP_EPOCHS,
        "runs": runs,
    }


# -------------------------------------------------------------------------------------- outputs


def _number(value, digits: int = 2) -> str:
    return NO_VALUE if value is None else f"{value:,.{digits}f}"


def _percent(value) -> str:
    return NO_VALUE if value is None else f"{100 * value:.1f} %"


def markdown(study: dict) -> str:
    runs = study["runs"]
    base = study["baseline_ranks"]
    lines = [
        f"# Scaling of {study['experiment']}",
        "",
        f"Weak scaling: {runs[0]['batch_size_per_rank']} samples per rank and step. Measured: the "
        f"epochs after {study['warmup_epochs']} of warm-up (graph tracing), their samples over their "
        f"training seconds; speedup and efficiency over {base} rank(s). Communication: the share of the "
        "measured steps in which Horovod had a collective in flight on rank 0 (transfer in MPI, Gloo or "
        "NCCL; other parts of the operation; negotiation: waiting until every rank is ready), from its "
        f"timeline ({study['experiment']}.timeline/ranks-<n>.json).",
        "",
        "| ranks | nodes | steps | throughput (samples/s) | per rank | speedup | efficiency | communication "
        "| transfer | other | negotiation |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        timeline = run["timeline"]
        shares = timeline["shares"]
        lines.append(
            f"| {run['ranks']} | {run['nodes'] or NO_VALUE} | {run['measured_steps']} "
            f"| {_number(run['samples_per_second'], 0)} | {_number(run['samples_per_second_per_rank'], 0)} "
            f"| {_number(run['speedup'])} | {_percent(run['efficiency'])} "
            f"| {_percent(timeline['communication_share'])} | {_percent(shares['transfer'])} "
            f"| {_percent(shares['other'])} | {_percent(shares['negotiation'])} |"
        )
    devices = sorted({f"{run['device']} ({run['launcher']})" for run in runs})
    lines += ["", f"Devices: {'; '.join(devices)}."]
    return "\n".join(lines) + "\n"


def plot_scaling(study: dict, path: Path) -> None:
    from hpcseq.evaluation.plots import pyplot, save_figure

    plt = pyplot()
    runs = study["runs"]
    ranks = [run["ranks"] for run in runs]
    base = study["baseline_ranks"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(ranks, [run["speedup"] for run in runs], marker="o", label="measured")
    left.plot(ranks, [n / base for n in ranks], linestyle="--", color="grey", label="ideal")
    left.set_xticks(ranks, [str(n) for n in ranks])
    left.set_xlabel("ranks")
    left.set_ylabel(f"speedup over {base} rank(s)")
    left.set_title(f"{study['experiment']}: samples/s, weak scaling")
    for run in runs:
        left.annotate(f"{run['samples_per_second']:,.0f}/s", (run["ranks"], run["speedup"]), fontsize=8)
    positions = list(range(len(runs)))
    bottom = [0.0] * len(runs)
    for name in ("transfer", "other", "negotiation"):
        values = [run["timeline"]["shares"][name] for run in runs]
        right.bar(positions, values, bottom=bottom, label=name)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    right.plot(positions, [run["efficiency"] for run in runs], marker="o", color="black", label="efficiency")
    right.set_xticks(positions, [str(n) for n in ranks])
    right.set_ylim(0, max(1.05, *(run["efficiency"] + 0.05 for run in runs)))
    right.set_xlabel("ranks")
    right.set_ylabel("share of the measured steps")
    right.set_title("Horovod communication (rank 0's timeline)")
    for axis in (left, right):
        axis.grid(alpha=0.3)
        axis.legend()
    save_figure(figure, path)
    plt.close(figure)


def write_study(results_dir: str | Path, experiment: str, ranks: list[int]) -> dict:
    """results/scaling/<experiment>.{json,md,png} from the runs and their timelines (beside them)."""
    study = scaling_study(results_dir, experiment, ranks)
    paths = ScalingPaths.of(results_dir, experiment)
    for run in study["runs"]:  # named from the JSON's folder, where they lie
        run["timeline"]["file"] = str(Path(run["timeline"]["file"]).relative_to(paths.root))
    write_json(paths.table_json, study)
    write_text(paths.table_md, markdown(study))
    plot_scaling(study, paths.plot)
    return study
