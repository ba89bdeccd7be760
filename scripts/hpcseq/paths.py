"""Where each stage's files live: one definition for the workflow rules, the CLI and `hpcseq logs`.

results/<experiment>/
    prepared/{train,validation,test}.{txt|tsv}, split_report.json     (preprocess)
    vocab.json, encoded/{index.json, <split>.ids | <split>.npz}       (vocabulary)
    model/final.keras, metrics.jsonl, training_summary.json,          (train)
          checkpoints/, ranks/rank-<r>.json
    eval/metrics.json, samples.txt, plots/*.png                       (evaluate)

The rules build their file patterns from `ExperimentPaths.of(RESULTS, "{experiment}")`: the
same properties with a wildcard as the experiment name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SPLITS = ("train", "validation", "test")
# What each model's data stages write per split: text for characters, labelled sentences as TSV;
# encoded character ids as a flat array, encoded sentences as arrays in an .npz.
PREPARED_SUFFIX = {"char_rnn": "txt", "sentiment_lstm": "tsv"}
ENCODED_SUFFIX = {"char_rnn": "ids", "sentiment_lstm": "npz"}
# The entries of an experiment's folder, by which a path is recognised as lying under one.
EXPERIMENT_ENTRIES = ("prepared", "vocab.json", "encoded", "model", "eval")


@dataclass(frozen=True)
class ExperimentPaths:
    results_dir: Path
    name: str

    @classmethod
    def of(cls, results_dir: str | Path, name: str) -> ExperimentPaths:
        return cls(Path(results_dir), name)

    @property
    def root(self) -> Path:
        return self.results_dir / self.name

    # preprocess
    @property
    def prepared(self) -> Path:
        return self.root / "prepared"

    def prepared_split(self, split: str, model: str) -> Path:
        return self.prepared / f"{split}.{PREPARED_SUFFIX[model]}"

    @property
    def split_report(self) -> Path:
        return self.prepared / "split_report.json"

    # vocabulary
    @property
    def vocab(self) -> Path:
        return self.root / "vocab.json"

    @property
    def encoded(self) -> Path:
        return self.root / "encoded"

    def encoded_split(self, split: str, model: str) -> Path:
        return self.encoded / f"{split}.{ENCODED_SUFFIX[model]}"

    @property
    def encoded_index(self) -> Path:
        return self.encoded / "index.json"

    # train
    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def final_model(self) -> Path:
        return self.model_dir / "final.keras"

    @property
    def metrics(self) -> Path:
        return self.model_dir / "metrics.jsonl"

    @property
    def training_summary(self) -> Path:
        return self.model_dir / "training_summary.json"

    @property
    def checkpoints(self) -> Path:
        return self.model_dir / "checkpoints"

    @property
    def rank_reports(self) -> Path:
        return self.model_dir / "ranks"

    # evaluate
    @property
    def eval_dir(self) -> Path:
        return self.root / "eval"

    @property
    def eval_metrics(self) -> Path:
        return self.eval_dir / "metrics.json"

    @property
    def samples(self) -> Path:
        return self.eval_dir / "samples.txt"

    @property
    def plots(self) -> Path:
        return self.eval_dir / "plots"

    @property
    def training_curves(self) -> Path:
        return self.plots / "training_curves.png"

    @property
    def confusion_matrix(self) -> Path:
        return self.plots / "confusion_matrix.png"

    # what each data stage writes, by name (the rules' named outputs)
    def prepared_files(self, model: str) -> dict[str, Path]:
        return {**{split: self.prepared_split(split, model) for split in SPLITS}, "report": self.split_report}

    def encoded_files(self, model: str) -> dict[str, Path]:
        files = {"vocab": self.vocab, "index": self.encoded_index}
        return {**files, **{split: self.encoded_split(split, model) for split in SPLITS}}


def summary_file(results_dir: str | Path) -> Path:
    """The Markdown summary of every experiment."""
    return Path(results_dir) / "summary.md"


def results_dir_of(path: str | Path, experiment: str) -> Path | None:
    """The results folder of a file under `<results>/<experiment>/<entry>...`, else None."""
    path = Path(path)
    parts = path.parts
    for index in range(len(parts) - 2, -1, -1):
        if parts[index] == experiment and parts[index + 1] in EXPERIMENT_ENTRIES:
            return Path(*parts[:index]) if index else Path(".")
    return None
