"""hpcseq.evaluation.scaling: Horovod timelines read (also cut off), communication shares that
never exceed the window, the table's arithmetic, and clear errors for missing or broken runs.

horovod_timeline_2_ranks.json is a real timeline: `hpcseq train --horovod-timeline` of the tiny
char_rnn (hidden_units 32, batch 32) on 2 ranks under mpirun, 2 epochs of 4 steps with
steps_per_execution 2, trimmed of the broadcasts of the initial variables (13 tensors, one
operation each, before training); every other event as Horovod 0.28.1 wrote it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from hpcseq.errors import InputDataError
from hpcseq.evaluation.scaling import (
    CATEGORIES,
    Interval,
    analyse_timeline,
    communication_shares,
    markdown,
    measured_window,
    read_run,
    read_timeline,
    timeline_intervals,
    with_speedup,
    write_study,
)
from hpcseq.paths import ScalingPaths

TIMELINE = Path(__file__).with_name("horovod_timeline_2_ranks.json")
STEPS_PER_EPOCH, EPOCHS = 4, 2
GRADIENTS = 5  # the SimpleRNN's kernel, recurrent kernel and bias, the output layer's kernel and bias
# Read off the file: the 5th gradient operation (the first measured step) of ..._grads_4_0 ends
# last, at 23881657 us; the last operation, of the same tensor, ends at 23899610 us.
WINDOW = (23881657, 23899610)


# --------------------------------------------------------------------------- the real timeline


def test_the_real_timeline_reads_with_every_event():
    timeline = read_timeline(TIMELINE)
    assert len(timeline.events) == 594 and not timeline.truncated
    intervals = timeline_intervals(timeline)
    transfers = [i for i in intervals if i.name == "MPI_ALLREDUCE"]
    # 8 steps x 5 gradients, and 12 small allreduces: the step guard after every 2 steps (4 per
    # epoch) and the 4 averaged metrics at the end of each epoch
    assert len(transfers) == 8 * GRADIENTS + 12
    assert all(i.depth == 1 and i.category == "transfer" for i in transfers)
    assert {i.category for i in intervals if i.name.startswith("NEGOTIATE_")} == {"negotiation"}
    assert {i.category for i in intervals if i.name.startswith("MEMCPY_")} == {"other"}


def test_the_window_is_the_measured_steps_of_the_gradients():
    intervals = timeline_intervals(read_timeline(TIMELINE))
    window = measured_window(intervals, STEPS_PER_EPOCH * EPOCHS, STEPS_PER_EPOCH, TIMELINE)
    assert window == WINDOW


def test_the_shares_of_the_real_timeline_are_those_of_a_plain_count():
    """Each microsecond of the window counted by hand (NumPy masks): transfer first, then the rest
    of an operation, then negotiation."""
    result = analyse_timeline(TIMELINE, STEPS_PER_EPOCH, EPOCHS)
    start, end = WINDOW
    masks = {name: np.zeros(end - start, dtype=bool) for name in CATEGORIES}
    for interval in timeline_intervals(read_timeline(TIMELINE)):
        low, high = max(interval.start, start), min(interval.end, end)
        if high > low:
            masks[interval.category][low - start : high - start] = True
    counted = masks["transfer"].mean()
    other = (masks["other"] & ~masks["transfer"]).mean()
    negotiation = (masks["negotiation"] & ~masks["other"] & ~masks["transfer"]).mean()
    assert result["shares"] == pytest.approx({"transfer": counted, "other": other, "negotiation": negotiation})
    assert result["communication_share"] == pytest.approx(sum(result["shares"].values()))
    assert 0 < result["communication_share"] <= 1
    assert result["gradient_tensors"] == GRADIENTS
    assert result["window_seconds"] == pytest.approx((end - start) / 1e6)
    assert result["window_steps"] == STEPS_PER_EPOCH - 1


def test_a_timeline_of_another_run_is_refused():
    intervals = timeline_intervals(read_timeline(TIMELINE))
    with pytest.raises(InputDataError, match=r"reduced 8 times, but the run trained 10 steps"):
        measured_window(intervals, 10, 5, TIMELINE)
    with pytest.raises(InputDataError, match=r"reduced 8 times, but the run trained 10 steps"):
        analyse_timeline(TIMELINE, 5, 2)


def test_one_rank_reduces_no_gradient_and_has_no_communication(tmp_path):
    # a timeline of one rank: the broadcasts and the metric allreduces, no gradients
    events = [e for e in json.loads(TIMELINE.read_text()) if e.get("pid") in (0, 1, 2)]
    path = tmp_path / "one.json"
    path.write_text(json.dumps(events))
    result = analyse_timeline(path, STEPS_PER_EPOCH, EPOCHS)
    assert result["communication_share"] == 0 and result["window_seconds"] is None
    assert "one rank" in result["note"]


# ---------------------------------------------------------------------- cut-off and bad files


@pytest.mark.parametrize("cut", ["inside_the_last_event", "after_the_last_event", "inside_a_metadata_event"])
def test_a_timeline_cut_off_by_a_killed_writer_reads_up_to_the_cut(cut, tmp_path):
    text = TIMELINE.read_text()
    if cut == "after_the_last_event":
        cut_text, kept = text[:-1], json.loads(text)  # the closing ] missing
    else:
        first = '{"ph"' if cut == "inside_the_last_event" else '{"name": "process_name"'
        at = text.rindex(first) if cut == "inside_the_last_event" else text.index(first, text.index("_grads"))
        cut_text = text[: at + 20]
        kept = json.loads(text[:at].rstrip().rstrip(",") + "]")  # the events before the one cut
    path = tmp_path / "cut.json"
    path.write_text(cut_text)
    timeline = read_timeline(path)
    assert timeline.truncated
    assert timeline.events == kept and len(kept) > 40


def test_begins_left_open_by_a_cut_have_no_interval(tmp_path):
    path = tmp_path / "cut.json"
    path.write_text('[\n{"ph": "B", "name": "ALLREDUCE", "ts": 5, "pid": 1},{"ph": "B", "name": "MPI_ALLRE')
    timeline = read_timeline(path)
    assert timeline.truncated and len(timeline.events) == 1
    assert timeline_intervals(timeline) == []


def test_an_empty_timeline_has_no_events(tmp_path):
    path = tmp_path / "empty.json"
    path.write_text("")  # Horovod opens the file when the run starts, writes at the first event
    assert read_timeline(path).events == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"ph": "B", "ts": 1, "pid": 1},{"ph": "E" "ts": 2, "pid": 1},{"ph": "B", "ts": 3, "pid": 1}]', "line 1"),
        ('[{"ph": "B", "ts": 1, "pid": 1}\n{"ph": "E", "ts": 2, "pid": 1}]', "expected ',' or ']' after event 1"),
        ('{"ph": "B", "ts": 1, "pid": 1}', "a list of events, not a dict"),
        ("[1, 2]", "event 1 is not a trace event"),
        ('[{"ph": "B", "name": "ALLREDUCE", "pid": 1}]', "event 1 (B) lacks a numeric 'ts'"),
        ('[{"ph": "E", "ts": 2, "pid": 1}]', "event 1 ends an activity of pid 1 that never began"),
        ('[{"ph": "B", "ts": 5, "pid": 1}, {"ph": "E", "ts": 2, "pid": 1}]', "before it began"),
        ("not json", "starts with '['"),
    ],
)
def test_a_malformed_timeline_is_an_error_naming_the_file(text, message, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(InputDataError, match=str(path)) as raised:
        timeline_intervals(read_timeline(path))
    assert message in str(raised.value)


def test_a_missing_timeline_says_how_to_record_one(tmp_path):
    with pytest.raises(InputDataError, match=r"no Horovod timeline.*HOROVOD_TIMELINE"):
        read_timeline(tmp_path / "absent.json")


# ------------------------------------------------------------------------ shares, by hand


def interval(category: str, start: int, end: int, tensor: str = "a") -> Interval:
    name, depth = {"transfer": ("MPI_ALLREDUCE", 1), "other": ("MEMCPY_IN_FUSION_BUFFER", 1)}.get(
        category, ("NEGOTIATE_ALLREDUCE", 0)
    )
    return Interval(tensor, name, start, end, depth)


def test_overlapping_intervals_count_once_for_the_first_category():
    intervals = [
        interval("transfer", 0, 10, "a"),
        interval("negotiation", 5, 20, "b"),  # 10..15 its own: 5
        interval("other", 15, 25, "a"),  # 15..25: 10
        interval("transfer", 2, 8, "c"),  # inside the first transfer: nothing more
    ]
    shares = communication_shares(intervals, (0, 40))
    assert shares == pytest.approx({"transfer": 10 / 40, "other": 10 / 40, "negotiation": 5 / 40})


def test_shares_never_exceed_the_window_however_much_overlaps():
    intervals = [interval(c, 0, 100, t) for c in CATEGORIES for t in "abcdef"]
    shares = communication_shares(intervals, (20, 60))  # clipped to the window
    assert shares == pytest.approx({"transfer": 1.0, "other": 0.0, "negotiation": 0.0})
    assert communication_shares(intervals, (50, 50)) == dict.fromkeys(CATEGORIES, 0.0)


# ---------------------------------------------------------------------------------- the table


def test_speedup_and_efficiency_over_one_rank():
    runs = with_speedup([{"ranks": n, "samples_per_second": r} for n, r in ((4, 300.0), (1, 100.0), (2, 180.0))])
    assert [run["ranks"] for run in runs] == [1, 2, 4]
    assert [run["speedup"] for run in runs] == pytest.approx([1.0, 1.8, 3.0])
    assert [run["efficiency"] for run in runs] == pytest.approx([1.0, 0.9, 0.75])


def test_speedup_over_the_smallest_rank_count_when_it_is_not_one():
    runs = with_speedup([{"ranks": 8, "samples_per_second": 300.0}, {"ranks": 4, "samples_per_second": 200.0}])
    assert [run["speedup"] for run in runs] == pytest.approx([1.0, 1.5])
    assert [run["efficiency"] for run in runs] == pytest.approx([1.0, 0.75])


# ------------------------------------------------------------------------------------ the runs


def write_run(results: Path, ranks: int, rate_seconds: float = 0.5, changes: dict | None = None) -> None:
    """A finished scaling run at `ranks` ranks: its summary, metrics, rank reports and timeline
    (the real one for 2 ranks, none of a gradient for 1)."""
    paths = ScalingPaths.of(results, "tiny")
    run = paths.run(ranks)
    run.rank_reports.mkdir(parents=True)
    summary = {
        "ranks": ranks,
        "launcher": "mpirun" if ranks > 1 else "plain",
        "epochs": EPOCHS,
        "steps_per_epoch": STEPS_PER_EPOCH,
        "batch_size_per_rank": 32,
        "global_batch_size": 32 * ranks,
        "resumed_from_epoch": None,
        "resumed_at_step": None,
        "device": {"gpu": None, "threads_per_rank": 1},
        **(changes or {}),
    }
    run.training_summary.write_text(json.dumps(summary))
    samples = STEPS_PER_EPOCH * 32 * ranks
    records = [
        {"epoch": 1, "steps": STEPS_PER_EPOCH, "samples": samples, "train_seconds": 20.0},  # warm-up: tracing
        {"epoch": 2, "steps": STEPS_PER_EPOCH, "samples": samples, "train_seconds": rate_seconds},
    ]
    run.metrics.write_text("".join(json.dumps(record) + "\n" for record in records))
    for rank in range(ranks):
        (run.rank_reports / f"rank-{rank}.json").write_text(json.dumps({"rank": rank, "host": f"node{rank // 2}"}))
    paths.timelines.mkdir(parents=True, exist_ok=True)
    if ranks == 2:
        shutil.copy(TIMELINE, paths.timeline(ranks))
    else:
        events = [e for e in json.loads(TIMELINE.read_text()) if e.get("pid") in (0, 1, 2)]
        paths.timeline(ranks).write_text(json.dumps(events))


def test_a_run_is_measured_after_its_warm_up_epoch(tmp_path):
    write_run(tmp_path, 2, rate_seconds=0.04)
    run = read_run(ScalingPaths.of(tmp_path, "tiny"), 2)
    assert run["samples_per_second"] == pytest.approx(256 / 0.04)  # epoch 2 only
    assert run["samples_per_second_per_rank"] == pytest.approx(128 / 0.04)
    assert (run["nodes"], run["measured_steps"], run["measured_epochs"]) == (1, STEPS_PER_EPOCH, 1)
    assert run["timeline"]["window_seconds"] == pytest.approx((WINDOW[1] - WINDOW[0]) / 1e6)


def test_the_study_writes_its_table_json_and_plot(tmp_path):
    write_run(tmp_path, 1, rate_seconds=0.02)
    write_run(tmp_path, 2, rate_seconds=0.03)
    study = write_study(tmp_path, "tiny", [2, 1])
    paths = ScalingPaths.of(tmp_path, "tiny")
    written = json.loads(paths.table_json.read_text())
    assert written == json.loads(json.dumps(study))
    one, two = written["runs"]
    assert (one["speedup"], one["efficiency"]) == (1.0, 1.0)
    assert two["speedup"] == pytest.approx((256 / 0.03) / (128 / 0.02))
    assert two["efficiency"] == pytest.approx(two["speedup"] / 2)
    assert two["timeline"]["file"] == "tiny.timeline/ranks-2.json"  # beside the table
    table = paths.table_md.read_text()
    assert table == markdown(written)
    assert "| 1 | 1 | 4 | 6,400 | 6,400 | 1.00 | 100.0 % | 0.0 % |" in table
    assert paths.plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ranks": 1}, "the run for 2 ranks trained on 1: its launcher started independent processes"),
        ({"resumed_from_epoch": 1}, "resumed from a checkpoint"),
        ({"steps_per_epoch": 5}, "reduced 8 times, but the run trained 10 steps"),
    ],
)
def test_a_run_that_is_not_one_measurement_is_refused(change, message, tmp_path):
    write_run(tmp_path, 2, changes=change)
    with pytest.raises(InputDataError) as raised:
        read_run(ScalingPaths.of(tmp_path, "tiny"), 2)
    assert message in str(raised.value)


def test_a_missing_run_names_its_file(tmp_path):
    write_run(tmp_path, 1)
    with pytest.raises(InputDataError, match=r"ranks-2/model/training_summary.json: no training summary"):
        write_study(tmp_path, "tiny", [1, 2])
    assert not ScalingPaths.of(tmp_path, "tiny").table_json.exists()


def test_a_run_of_the_warm_up_epoch_only_measures_nothing(tmp_path):
    write_run(tmp_path, 1)
    run = ScalingPaths.of(tmp_path, "tiny").run(1)
    run.metrics.write_text(run.metrics.read_text().splitlines()[0] + "\n")
    with pytest.raises(InputDataError, match="1 epoch\\(s\\), none after the 1 of warm-up"):
        read_run(ScalingPaths.of(tmp_path, "tiny"), 1)


def test_the_runs_live_under_results_scaling():
    paths = ScalingPaths.of("results", "exp")
    assert str(paths.table_json) == "results/scaling/exp.json"
    assert str(paths.timeline(4)) == "results/scaling/exp.timeline/ranks-4.json"
    run = paths.run(4)
    assert str(run.training_summary) == "results/scaling/exp/ranks-4/model/training_summary.json"
    assert str(run.vocab) == "results/exp/vocab.json"  # the experiment's data
    assert str(run.encoded) == "results/exp/encoded"
