"""A corpus nobody tuned for, on the defaults: a ~35 KB text that is not Shakespeare, whose test part
has a character (a backtick) its training part lacks, runs preprocess -> vocab -> train -> evaluate
as the stages' commands (one rank, one short epoch: the cheapest path through real TensorFlow)."""

from __future__ import annotations

import json
import math
import random

from hpcseq import config as config_module
from hpcseq.data.vocabulary import UNKNOWN_MARKER
from hpcseq.evaluation.summary import experiment_section
from tests.training.test_train import run_stage

# No "j" anywhere: a letter of the default seed texts ("romeo and juliet") that this corpus lacks.
SUBJECTS = ["the river", "a lantern", "our neighbour", "the old mill", "every kettle", "the ferry", "my aunt"]
VERBS = ["hums", "waits", "forgets", "carries", "mends", "counts", "drifts past", "wakes"]
OBJECTS = ["the bread", "seven stones", "a quiet song", "the harbour wall", "its own shadow", "the morning post"]
ENDINGS = [".", "!", "?", ", or so they say.", "; nobody minds.", ", again and again."]


def corpus(size: int = 35_000, seed: int = 7) -> str:
    """Made-up sentences, ~`size` characters; backticks (markdown-like code quotes) only in the last
    5 %, inside the test part (the default split's last 10 %)."""
    rng = random.Random(seed)
    lines, length = [], 0
    while length < size:
        line = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}{rng.choice(ENDINGS)}"
        if length > 0.95 * size and rng.random() < 0.3:
            line = f"type `{rng.choice(['make', 'ls', 'tea'])}` {line}"
        lines.append(line.capitalize())
        length += len(line) + 1
    return "\n".join(lines) + "\n"


def test_a_new_corpus_runs_end_to_end_on_the_defaults(tmp_path):
    text = corpus()
    assert "j" not in text.lower() and "`" not in text[: int(0.9 * len(text))]
    source = tmp_path / "notes.txt"
    source.write_text(text, encoding="utf-8")
    raw = {
        "preset": None,
        "datasets": {"notes": {"format": "text", "path": str(source)}},
        "experiments": {
            "notes": {  # the defaults but for the length of training and of the samples
                "model": "char_rnn",
                "dataset": "notes",
                "ranks": 1,
                "training": {"epochs": 1, "max_steps_per_epoch": 10},
                "evaluation": {"sample_length": 40},
            }
        },
    }
    settings = config_module.experiment_settings(config_module.validate_config(raw), "notes")
    assert settings["vocabulary"] == {"unseen": "unknown"}
    results = tmp_path / "results"

    run_stage("preprocess", settings, results)
    vocab = run_stage("vocab", settings, results)
    document = json.loads((results / "notes" / "vocab.json").read_text())
    splits = document["encoded"]["splits"]
    backticks = splits["test"]["unseen_characters"]["`"]
    assert backticks >= 2 and splits["test"]["unseen"] == backticks
    assert splits["train"]["unseen"] == splits["validation"]["unseen"] == 0
    unk = document["unk_id"]
    assert unk == document["size"] - 1 and document["entries"][unk]["token"] == "<unk>"
    assert (
        f"notes: characters unseen in training: test {backticks} ('`' {backticks}x): "
        f"encoded as the unknown id <unk> (id {unk}) (vocabulary.unseen: unknown)"
    ) in vocab.stdout + vocab.stderr

    run_stage("train", settings, results)
    evaluation = run_stage("evaluate", settings, results)
    metrics = json.loads((results / "notes" / "eval" / "metrics.json").read_text())
    assert metrics["evaluated_split"] == "test"
    unseen = metrics["unseen_in_training"]
    assert unseen["characters"] == backticks and unseen["by_character"] == {"`": backticks}
    assert unseen["unk_id"] == unk and 1 <= unseen["targets"] <= backticks
    assert math.isfinite(metrics["model_metrics"]["loss"]) and math.isfinite(metrics["unigram_baseline"]["loss"])
    assert f"{backticks} characters unseen in training" in evaluation.stdout + evaluation.stderr
    # generated text never holds the unknown id; the "j" of a default seed is shown as the marker
    assert all(UNKNOWN_MARKER not in sample["text"] for sample in metrics["samples"])
    assert any(UNKNOWN_MARKER in sample["window"] for sample in metrics["samples"])
    assert f"| test characters unseen in training | {backticks} ('`' {backticks}x; unknown id {unk}," in (
        experiment_section("notes", metrics)
    )

    refuse = {**settings, "vocabulary": {"unseen": "refuse"}}
    refused = run_stage("vocab", refuse, results, check=False)  # refused before it writes anything
    assert refused.returncode == 2
    assert "character '`' (U+0060, first at character offset" in refused.stderr
    assert f"occurs {backticks} time(s) in the test split" in refused.stderr
