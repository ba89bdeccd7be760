"""Where each stage's files live: one definition for the Snakefile, the CLI and the log inspector.

results/<experiment>/
    prepared/{train,validation,test}.{txt|tsv}, split_report.json     (preprocess)
    vocab.json, encoded/{index.json, <split>.ids | <split>.npz}       (vocabulary)
    model/final.keras, metrics.jsonl, training_summary.json,          (train)
          checkpoints/, ranks/rank-<r>.json
    eval/metrics.json, samples.txt, plots/*.png                       (evaluate)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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

    @property
    def prepared(self) -> Path:
        return self.root / "prepared"

    @property
    def split_report(self) -> Path:
        return self.prepared / "split_report.json"

    @property
    def vocab(self) -> Path:
        return self.root / "vocab.json"

    @property
    def encoded(self) -> Path:
        return self.root / "encoded"

    @property
    def encoded_index(self) -> Path:
        return self.encoded / "index.json"

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


def prepared_files(model: str) -> list[str]:
    suffix = "txt" if model == "char_rnn" else "tsv"
    return [f"{split}.{suffix}" for split in ("train", "validation", "test")] + ["split_report.json"]


def encoded_files(model: str) -> list[str]:
    suffix = "ids" if model == "char_rnn" else "npz"
    return [f"{split}.{suffix}" for split in ("train", "validation", "test")] + ["index.json"]
