"""The preprocess stage of any task: the preparation of the data format its task's stages read
(paths.TASK_STAGE_FORMAT), and what its report tells the stage's log (and so `hpcseq logs`)."""

from __future__ import annotations

import importlib
import json
import logging
from pathlib import Path

from hpcseq.paths import TASK_STAGE_FORMAT

# Each format's preparation (module, function), imported when used: a text corpus needs none of
# the others' imports (numpy alone is a tenth of a second of `hpcseq preprocess`' start).
PREPARATIONS = {
    "text": ("hpcseq.data.text_corpus", "prepare_text_corpus"),
    "text_lines": ("hpcseq.data.text_lines", "prepare_text_lines"),
    "time_series": ("hpcseq.data.time_series", "prepare_series"),
    "labelled_sentences": ("hpcseq.data.labelled_sentences", "prepare_sentences"),
}


def prepare_dataset(settings: dict, prepared: Path) -> dict:
    """Clean and split an experiment's dataset into `prepared`; the preparation's report."""
    module, function = PREPARATIONS[TASK_STAGE_FORMAT[settings["task"]]]
    return getattr(importlib.import_module(module), function)(settings, prepared)


def log_preparation(log: logging.Logger, name: str, report: dict) -> None:
    """The report's sizes, and what the user should know of the data: a time series' irregular
    steps, a labelled dataset's skipped lines and the overlap of its test and training splits."""
    sizes = report.get("characters") or report.get("lines") or report.get("sizes")
    log.info("%s: %s", name, json.dumps(sizes))
    if report["kind"] == "time_series":
        steps = report["steps_ending_runs"]
        log.info(
            "time index: %d gaps (%d missing rows), %d repeated, %d backwards, %d irregular steps; "
            "no window spans one (first: %s)",
            steps["gap"],
            steps["missing_rows"],
            steps["repeated"],
            steps["backwards"],
            steps["irregular"],
            "; ".join(steps["first"][:3]) or "none",
        )
    if report["kind"] == "labelled_sentences":
        skipped = report["source"]["bad_lines_skipped"]
        if skipped:
            log.warning(
                "%d malformed lines skipped (on_bad_line: skip); first: %s",
                skipped,
                report["source"]["bad_lines_first"][:3],
            )
        for method, numbers in report["overlap"].items():
            log.info(
                "%s split: %d of %d test sentences also occur in training",
                method,
                numbers["test_sentences_also_in_train"],
                numbers["test_sentences"],
            )
