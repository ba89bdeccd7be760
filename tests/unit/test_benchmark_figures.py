"""`make benchmark`'s arithmetic (hpcseq.devtools.bench_figures): medians and spreads, ratios
against the two references, the goals, the agreement of two runs, the 10 GB extrapolation, and
the docs' table rendered from the kept figures. No timing here: made-up runs only."""

from __future__ import annotations

import json

import pytest

from hpcseq.config import REPO_ROOT
from hpcseq.devtools import bench_figures as figures


def runs(*rates, first=0.5):
    return [{"samples_per_second": rate, "first_execution_seconds": first} for rate in rates]


def results(char_hpcseq=(150.0, 152.0, 148.0), data_seconds=(0.5, 0.7), peak_mib=40.0):
    return {
        "setup": {
            "machine": "test",
            "char_batch": 128,
            "char_steps": 2048,
            "sentiment_batch": 32,
            "sentiment_epochs": 2,
            "steps_per_execution": 32,
        },
        "char": {
            "seed": runs(100.0, 90.0, 110.0),
            "reference": runs(155.0, 160.0, 150.0),
            "hpcseq": runs(*char_hpcseq),
            "hpcseq_2_ranks": runs(60.0, 40.0, 50.0),
        },
        "sentiment": {"seed": runs(10.0, 10.0, 10.0), "reference": runs(12.0, 12.0, 12.0), "hpcseq": runs(16, 15, 17)},
        "data": {
            "corpus_bytes": 60 * 10**6,
            "made_from": "text x 54",
            "runs": [
                {
                    "preprocess_seconds": data_seconds[0],
                    "vocabulary_seconds": data_seconds[1],
                    "preprocess_peak_mib": peak_mib,
                    "vocabulary_peak_mib": peak_mib / 2,
                }
            ]
            * 3,
        },
    }


def test_spread_is_the_median_and_range_of_the_runs():
    spread = figures.Spread.of([3, 1, 2, 10])
    assert (spread.median, spread.low, spread.high, spread.runs) == (2.5, 1, 10, 4)
    assert spread.text(1, " s") == "2.5 s (1.0-10.0, 4 runs)"
    with pytest.raises(ValueError):
        figures.Spread.of([])


def test_ratios_are_of_medians_against_the_seed_and_the_in_memory_reference():
    ratios = figures.all_ratios(results())
    assert ratios["char_of_seed"] == pytest.approx(150 / 100)
    assert ratios["char_of_reference"] == pytest.approx(150 / 155)
    assert ratios["char_reference_of_seed"] == pytest.approx(155 / 100)
    assert ratios["char_2_ranks_of_1"] == pytest.approx(50 / 150)
    assert ratios["sentiment_of_seed"] == pytest.approx(1.6)
    assert ratios["sentiment_of_reference"] == pytest.approx(16 / 12)
    assert figures.reading(150, 100, 155) == "1.50x the seed, 97% of the in-memory reference"


def test_data_stages_rate_memory_and_the_10_gb_extrapolation():
    data = figures.data_figures(results()["data"])
    assert data["data_mb_per_second"] == pytest.approx(60 / 1.2)  # 60 MB in 0.5 + 0.7 s
    assert data["data_memory_x_corpus"] == pytest.approx(40 * 2**20 / 60e6)  # the worse stage
    assert data["data_seconds_for_10_gb"] == pytest.approx(1.2 * 10e9 / 60e6)


def test_goals_say_met_or_not_met_with_the_figure():
    lines = figures.goal_lines(figures.all_ratios(results(char_hpcseq=(140.0,), data_seconds=(1.0, 1.0))))
    assert "NOT met: char_of_reference 0.90 (goal >= 0.95)" in lines
    assert "NOT met: char_of_seed 1.40 (goal >= 1.5)" in lines
    assert "met: sentiment_of_seed 1.60 (goal >= 1.5)" in lines
    assert "NOT met: data_mb_per_second 30.00 (goal >= 50)" in lines
    assert "met: data_memory_x_corpus 0.70 (goal <= 10)" in lines


def test_two_runs_agree_when_every_ratio_is_within_ten_percent():
    before = figures.all_ratios(results())
    within = figures.all_ratios(results(char_hpcseq=(160.0,)))  # 150 -> 160: 6.7% on the char ratios
    outside = figures.all_ratios(results(char_hpcseq=(170.0,)))  # 13.3%
    assert all(line.endswith("agree") for line in figures.agreement(before, within))
    lines = figures.agreement(before, outside)
    assert "char_of_seed: 1.500 then 1.700 (13.3%) DIFFER" in lines
    assert any(line.startswith("sentiment_of_seed") and line.endswith("agree") for line in lines)
    assert figures.agreement({"a": 1.0}, {"b": 1.0}) == ["a: only in the previous run", "b: only in this run"]


def test_the_table_names_every_approach_and_reads_each_against_both_references():
    table = figures.render(results())
    assert "hpcseq train, 1 rank (as its rule runs it)" in table
    assert "150 (148-152, 3 runs) samples/s, first execution 0.50 s; 1.50x the seed, 97% of the in-memory" in table
    assert "per rank 25 samples/s" in table
    assert "10 GB would take about 3.3 min at this rate" in table


def test_the_docs_table_is_the_kept_figures_rendered():
    """docs/developing/benchmark.md shows `make benchmark`'s table of the kept JSON, unedited."""
    kept = json.loads((REPO_ROOT / "docs" / "developing" / "benchmark.json").read_text(encoding="utf-8"))
    page = (REPO_ROOT / "docs" / "developing" / "benchmark.md").read_text(encoding="utf-8")
    assert figures.render(kept) in page
