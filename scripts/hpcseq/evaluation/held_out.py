"""What every task's evaluation shares: the split it scores, and the head of its metrics.json."""

from __future__ import annotations


def held_out_split(settings: dict, lengths: dict) -> str:
    """The test split, or the validation split when the config has no test part (test_fraction 0)."""
    return "test" if lengths.get("test", 0) > 0 else "validation"


def result_header(settings: dict, split: str) -> dict:
    """What every evaluation's metrics.json begins with: the run, and which split was evaluated."""
    return {
        "experiment": settings["name"],
        "model": settings["model"],
        "task": settings["task"],
        "evaluated_split": split,
        "evaluated_split_note": None
        if split == "test"
        else "no test part configured (test_fraction 0): these are validation numbers",
    }
