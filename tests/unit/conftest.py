"""Small shared fixtures for the unit tests (workflow environment: NumPy, no TensorFlow).

Everything here writes tiny files under pytest's tmp_path; nothing reads the shipped data
files, so the unit suite runs in a second or two.
"""

from __future__ import annotations

import copy
import io
import os
from pathlib import Path

import pytest

from hpcseq import config as config_module

# A short play-like text: mixed case, indentation, trailing tabs, blank and blank-looking lines.
PLAIN_TEXT = "  First Citizen:\n\nBefore we proceed ANY further,\t\n   \nhear me speak.\n"
# What the lecture's cleaning makes of PLAIN_TEXT, worked out by hand:
# strip, lowercase, drop the two empty lines, join with one space.
PLAIN_TEXT_CLEANED = "first citizen: before we proceed any further, hear me speak."

# Labelled sentences: duplicated lines, like the UMICH file.
SENTENCES = [
    (1, "The Da Vinci Code book is just awesome."),
    (0, "I hate Harry Potter, it's stupid!"),
    (1, "I've loved Brokeback Mountain."),
    (0, "Mission Impossible 3 sucked."),
    (1, "Harry Potter is AWESOME!!"),
    (0, "don't watch Da Vinci Code, it sucks."),
]


def lecture_clean(data: bytes) -> str:
    """The lecture's cleaning, written out independently of hpcseq:

    for line in open(path, "rb"):
        line = line.strip().lower().decode("ascii", "ignore")
        if len(line) == 0: continue
        lines.append(line)
    text = " ".join(lines)
    """
    lines = []
    for line in io.BytesIO(data):
        line = line.strip().lower().decode("ascii", "ignore")
        if len(line) == 0:
            continue
        lines.append(line)
    return " ".join(lines)


def resolved_settings(raw_experiment: dict, dataset: dict, name: str = "exp") -> dict:
    """Settings of one experiment resolved by the real config code (defaults filled, preset null)."""
    raw = {
        "preset": None,
        "datasets": {"data": copy.deepcopy(dataset)},
        "experiments": {name: {"dataset": "data", **copy.deepcopy(raw_experiment)}},
    }
    config = config_module.validate_config(raw)
    return config_module.experiment_settings(config, name)


@pytest.fixture
def write_file(tmp_path):
    """write_file(name, bytes_or_text) -> Path, under tmp_path."""

    def write(name: str, content) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode("utf-8")
        path.write_bytes(content)
        return path

    return write


@pytest.fixture
def text_settings():
    """text_settings(path, **preprocess) -> resolved char_rnn settings for a text file."""

    def make(path, sha256=None, encoding=None, **preprocess) -> dict:
        dataset = {"format": "text", "path": str(path)}
        if sha256 is not None:
            dataset["sha256"] = sha256
        if encoding is not None:
            dataset["encoding"] = encoding
        return resolved_settings({"model": "char_rnn", "ranks": 1, "preprocess": preprocess}, dataset)

    return make


@pytest.fixture
def sentence_settings():
    """sentence_settings(path, **preprocess) -> resolved sentiment_lstm settings for a TSV file."""

    def make(path, sha256=None, vocabulary=None, **preprocess) -> dict:
        dataset = {"format": "labelled_sentences", "path": str(path)}
        if sha256 is not None:
            dataset["sha256"] = sha256
        experiment = {"model": "sentiment_lstm", "ranks": 1, "preprocess": preprocess}
        if vocabulary is not None:
            experiment["vocabulary"] = vocabulary
        return resolved_settings(experiment, dataset)

    return make


@pytest.fixture
def sentence_file(write_file):
    """A small labelled-sentence file in which every sentence occurs several times."""
    counts = [5, 4, 3, 3, 2, 1]
    lines = []
    for (label, sentence), count in zip(SENTENCES, counts, strict=True):
        lines += [f"{label}\t{sentence}"] * count
    # interleave the copies deterministically so duplicates are spread through the file
    lines = lines[::2] + lines[1::2]
    return write_file("sentences.txt", "\n".join(lines) + "\n")


def leftovers(directory: Path) -> list[str]:
    """Temporary files or folders an interrupted write could leave behind."""
    return sorted(p.name for p in Path(directory).iterdir() if p.name.startswith((".tmp-", ".old-")))


def job_script_with_stand_ins(tmp_path: Path, stand_ins: dict[str, str]) -> tuple[Path, dict[str, str]]:
    """The job script rendered for the shipped config (cluster `local`, experiment
    shakespeare_char_rnn), and an environment whose PATH finds the given stand-ins for Slurm's
    commands first (no Slurm in the unit tests; name -> script text). The config goes in by its
    absolute path: the job runs in tmp_path, which holds no config/config.yaml."""
    from hpcseq.cluster import jobscript

    config = config_module.load_config(config_module.DEFAULT_CONFIG_PATH)
    request = jobscript.script_request(
        config, "local", "shakespeare_char_rnn", str(tmp_path), str(config_module.DEFAULT_CONFIG_PATH)
    )
    script = tmp_path / "job.sbatch"
    script.write_text(jobscript.render_job_script(request))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in {**stand_ins, **INTERPRETER_STAND_IN}.items():
        path = (tmp_path / name) if "/" in name else (bin_dir / name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o755)
    return script, {"PATH": f"{bin_dir}:{os.environ['PATH']}"}


# The job checks that the interpreter of its steps is there (the `local` cluster's, relative to the
# directory the job runs in); the steps themselves go to the srun stand-in.
INTERPRETER_STAND_IN = {".venv/train/bin/python": "#!/bin/bash\nexit 0\n"}
