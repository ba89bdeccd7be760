"""Where each stage's files live: one definition for the workflow rules, the CLI and `hpcseq logs`.

results/<experiment>/
    prepared/{train,validation,test}.{txt|tsv|npz}, split_report.json (preprocess)
    vocab.json, encoded/{index.json, <split>.ids | <split>.npz}       (vocabulary)
    model/final.keras, metrics.jsonl, training_summary.json,          (train)
          tensorboard/{train,validation}/ (rank 0's TensorBoard logs),
          checkpoints/, ranks/rank-<r>.json, heartbeats/rank-<r>.json (while it runs)
    eval/metrics.json, samples.txt, plots/*.png                       (evaluate)
    slurm_jobs.jsonl, slurm_jobs.set-aside.jsonl, .slurm_jobs.lock    (every stage run in a Slurm job: job_ledger.py)
data/downloads/<dataset>/                                             (datasets fetched by `hpcseq download`)
    <file>, <file>.sha256, unpacked/                                  (see DownloadPaths)
results/sweeps/<sweep>.{json,md,png}, <sweep>/<model>/{model,eval}/   (a sweep's table and runs)
results/scaling/                                                      (the scaling study)
    <experiment>.{json,md,png}, <experiment>.timeline/ranks-<n>.json  (table, plot, Horovod timelines)
    <experiment>/ranks-<n>/model/                                     (its training run at n ranks)
logs/<stage>/<experiment>.log, benchmarks/<stage>/<experiment>.tsv    (each rule's log and benchmark)

The rules build their file patterns from `ExperimentPaths.of(RESULTS, "{experiment}")`: the
same properties with a wildcard as the experiment name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

# The repository: the shipped config and the schema every config is checked against.
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG_PATH = REPO_ROOT / "config" / "config.yaml"
SCHEMA_PATH = REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"
PUBLISHED_PATH = REPO_ROOT / "config" / "published.yaml"  # the course material's figures (evaluation.published)

SPLITS = ("train", "validation", "test")
# The data format each task reads (a dataset's `format` in the config must match it); the tasks
# are those of the config schema ($defs.task).
# The dataset formats (config datasets.<name>.format) each task reads: preprocessing turns each
# into the task's stage format below (review folders and JSON records into labelled sentences).
TASK_SOURCE_FORMATS = {
    "next_character": ("text",),
    "sequence_classification": ("labelled_sentences", "review_folders", "json_records"),
    "next_word": ("text",),
    "next_character_sequence": ("text",),
    "sequence_regression": ("time_series",),
}
# What the data stages of each task write: a character stream (text), labelled sentences, the
# lines of a text kept apart (text_lines: a word model's samples never cross a line), or a numeric
# time series (time_series).
TASK_STAGE_FORMAT = {
    "next_character": "text",
    "sequence_classification": "labelled_sentences",
    "next_word": "text_lines",
    "next_character_sequence": "text",
    "sequence_regression": "time_series",
}
# What the data stages write per split: cleaned text / labelled sentences as TSV / one cleaned
# line per line (preprocess); character ids as a flat array / token ids of sentences or lines in
# an .npz (vocabulary); a time series' values, times and runs as an .npz (preprocess), normalised
# values and runs as an .npz (vocabulary).
PREPARED_SUFFIX = {"text": "txt", "labelled_sentences": "tsv", "text_lines": "txt", "time_series": "npz"}
ENCODED_SUFFIX = {"text": "ids", "labelled_sentences": "npz", "text_lines": "npz", "time_series": "npz"}
SPLIT_REPORT = "split_report.json"
ENCODED_INDEX = "index.json"
# The entries of an experiment's folder, by which a path is recognised as lying under one.
EXPERIMENT_ENTRIES = ("prepared", "vocab.json", "encoded", "model", "eval")


@dataclass(frozen=True)
class ExperimentPaths:
    results_dir: Path
    name: str
    # where training writes (model/): elsewhere for a scaling run, which reads the experiment's data
    model_root: Path | None = None
    # where evaluation writes (eval/): elsewhere for a sweep's run
    eval_root: Path | None = None

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

    def prepared_split(self, split: str, task: str) -> Path:
        return prepared_split_file(self.prepared, split, TASK_STAGE_FORMAT[task])

    @property
    def split_report(self) -> Path:
        return self.prepared / SPLIT_REPORT

    # vocabulary
    @property
    def vocab(self) -> Path:
        return self.root / "vocab.json"

    @property
    def encoded(self) -> Path:
        return self.root / "encoded"

    def encoded_split(self, split: str, task: str) -> Path:
        return encoded_split_file(self.encoded, split, TASK_STAGE_FORMAT[task])

    @property
    def encoded_index(self) -> Path:
        return self.encoded / ENCODED_INDEX

    # train
    @property
    def model_dir(self) -> Path:
        return self.model_root if self.model_root is not None else self.root / "model"

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
    def tensorboard(self) -> Path:
        """Rank 0's TensorBoard logs (Keras' TensorBoard callback: train/ and validation/ event
        files with the epoch metrics), beside metrics.jsonl: `tensorboard --logdir <this>`."""
        return self.model_dir / "tensorboard"

    @property
    def checkpoints(self) -> Path:
        return self.model_dir / "checkpoints"

    @property
    def rank_reports(self) -> Path:
        return self.model_dir / "ranks"

    @property
    def heartbeats(self) -> Path:
        """Each rank's heartbeat while training runs (training/watchdog.py): under the results, on
        the file system every node of the job shares, because the ranks watch each other there."""
        return self.model_dir / "heartbeats"

    # evaluate
    @property
    def eval_dir(self) -> Path:
        return self.eval_root if self.eval_root is not None else self.root / "eval"

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

    # the Slurm jobs that made the results (job_ledger.py; results/summary.md sums their charges)
    @property
    def slurm_jobs(self) -> Path:
        return self.root / "slurm_jobs.jsonl"

    @property
    def slurm_jobs_set_aside(self) -> Path:
        """The ledger's entries of jobs whose results a new start of training replaced."""
        return self.root / "slurm_jobs.set-aside.jsonl"

    @property
    def slurm_jobs_lock(self) -> Path:
        return self.root / ".slurm_jobs.lock"

    # what each data stage writes, by name (the rules' named outputs)
    def prepared_files(self, task: str) -> dict[str, Path]:
        return {**{split: self.prepared_split(split, task) for split in SPLITS}, "report": self.split_report}

    def encoded_files(self, task: str) -> dict[str, Path]:
        files = {"vocab": self.vocab, "index": self.encoded_index}
        return {**files, **{split: self.encoded_split(split, task) for split in SPLITS}}


def prepared_split_file(prepared_dir: str | Path, split: str, data_format: str) -> Path:
    """A split as preprocessing writes it, in a `prepared/` folder."""
    return Path(prepared_dir) / f"{split}.{PREPARED_SUFFIX[data_format]}"


def encoded_split_file(encoded_dir: str | Path, split: str, data_format: str) -> Path:
    """A split as the vocabulary stage encodes it, in an `encoded/` folder."""
    return Path(encoded_dir) / f"{split}.{ENCODED_SUFFIX[data_format]}"


@dataclass(frozen=True)
class _StudyPaths:
    """A study's comparison of runs under <results>/<FOLDER>/: its table (JSON, Markdown) and plot."""

    FOLDER: ClassVar[str]
    results_dir: Path
    name: str

    @classmethod
    def of(cls, results_dir: str | Path, name: str):
        return cls(Path(results_dir), name)

    @property
    def root(self) -> Path:
        return Path(self.results_dir) / self.FOLDER

    @property
    def table_json(self) -> Path:
        return self.root / f"{self.name}.json"

    @property
    def table_md(self) -> Path:
        return self.root / f"{self.name}.md"

    @property
    def plot(self) -> Path:
        return self.root / f"{self.name}.png"


@dataclass(frozen=True)
class ScalingPaths(_StudyPaths):
    """The files of an experiment's scaling study (`snakemake scaling`), under <results>/scaling/."""

    FOLDER: ClassVar[str] = "scaling"

    @property
    def timelines(self) -> Path:
        return self.root / f"{self.name}.timeline"

    def timeline(self, ranks: int | str) -> Path:
        """Horovod's timeline of the run at `ranks` ranks, kept beside the table."""
        return self.timelines / f"ranks-{ranks}.json"

    def run(self, ranks: int | str) -> ExperimentPaths:
        """The training run at `ranks` ranks: the experiment's data, its own model folder."""
        return ExperimentPaths(self.results_dir, self.name, self.root / self.name / f"ranks-{ranks}" / "model")


@dataclass(frozen=True)
class SweepPaths(_StudyPaths):
    """The files of a sweep (`snakemake sweeps`), under <results>/sweeps/: the comparison table,
    JSON and plot, and each model's run (its model/ and eval/) on the experiment's data."""

    FOLDER: ClassVar[str] = "sweeps"

    def run(self, experiment: str, model: str) -> ExperimentPaths:
        """The run of `model`: the experiment's data, its own model/ and eval/ folders."""
        run_root = self.root / self.name / model
        return ExperimentPaths(self.results_dir, experiment, run_root / "model", run_root / "eval")


def job_script_file(jobs_dir: str | Path, cluster: str, job_name: str) -> Path:
    """Where `hpcseq sbatch` (and the workflow's job-script rule) writes a job script:
    <jobs_dir>/<cluster>/<job name>.sbatch (the job name: the experiment's, its data job's, the
    smoke test's)."""
    return Path(jobs_dir) / cluster / f"{job_name}.sbatch"


# A generated job script's Slurm output files, in the directory it is submitted from: sbatch's
# --output/--error patterns (%j: the job id), and what `hpcseq logs` finds by (SBATCH_OUTPUT_FILE).
JOB_OUTPUT_KINDS = ("out", "err")


def job_output_pattern(job_name: str, kind: str) -> str:
    """sbatch's --output (kind "out") or --error ("err") of a generated script: <name>_out.%j."""
    return f"{job_name}_{kind}.%j"


def job_output_file(directory: str | Path, job_name: str, job_id: str, kind: str = "out") -> Path:
    """The file a job's pattern (job_output_pattern) became."""
    return Path(directory) / job_output_pattern(job_name, kind).replace("%j", str(job_id))


# the name of such a file: <name>_<out|err>.<job id>[_<array index>]
SBATCH_OUTPUT_FILE = re.compile(rf"^(?P<name>.+)_(?P<kind>{'|'.join(JOB_OUTPUT_KINDS)})\.(?P<id>\d+(?:_\d+)?)$")


# A rule's own log (the program's whole output, overwritten by every run of the rule) and
# Snakemake's benchmark of its job, under the config's logs_dir and benchmarks_dir: one folder per
# stage (or kind of rule), one file per experiment (or run). The rules write theirs with wildcards
# as the name (`{experiment}`); `hpcseq logs` finds the jobs of a local run by them (logs/local.py).
# Strings, not Paths: a rule's pattern keeps the folder as the config writes it.
def rule_log_file(logs_dir: str | Path, stage: str, name: str) -> str:
    """<logs_dir>/<stage>/<name>.log"""
    return f"{logs_dir}/{stage}/{name}.log"


def benchmark_file(benchmarks_dir: str | Path, stage: str, name: str) -> str:
    """<benchmarks_dir>/<stage>/<name>.tsv"""
    return f"{benchmarks_dir}/{stage}/{name}.tsv"


def rule_log_parts(path: str | Path) -> tuple[str, str] | None:
    """(stage, name) of a file laid out as rule_log_file lays out a rule's log, else None (read
    back through rule_log_file itself, so that the layout stays written once)."""
    path = Path(path)
    stage, name = path.parent.name, path.stem
    if name and Path(rule_log_file(path.parent.parent, stage, name)) == path:
        return stage, name
    return None


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


# Archive kinds a download may be unpacked from (config `datasets.<name>.download.archive`).
ARCHIVE_KINDS = ("tar.gz", "zip")


@dataclass(frozen=True)
class DownloadPaths:
    """Where a dataset that does not ship with hpcseq is fetched to: <downloads_dir>/<dataset>/.

    <file>           the download, complete and verified (kept: it is never fetched again)
    <file>.part      a transfer under way or interrupted, resumed from its end
    <file>.sha256    the hash recorded at the first download, for a file with no published one
    <file>.rejected  a complete download whose checksum did not match, kept aside to look at
    unpacked/        an archive's contents; `member` names the entry the data stages read
    .lock            held while a download runs (one at a time per dataset)

    The config's `datasets.<name>.path` of a downloaded dataset is `data` (filled in when the
    config is validated), so the rules, the CLI and the data stages agree on one location.
    """

    downloads_dir: Path
    name: str
    file_name: str
    archive: str | None = None
    member: str | None = None

    @classmethod
    def of(cls, downloads_dir: str | Path, name: str, download: dict) -> DownloadPaths:
        """From a dataset's `download` entry of the config (file, archive, member)."""
        return cls(Path(downloads_dir), name, download["file"], download.get("archive"), download.get("member"))

    @property
    def root(self) -> Path:
        return self.downloads_dir / self.name

    @property
    def file(self) -> Path:
        return self.root / self.file_name

    @property
    def part(self) -> Path:
        return self.root / f"{self.file_name}.part"

    @property
    def recorded_sha256(self) -> Path:
        return self.root / f"{self.file_name}.sha256"

    @property
    def rejected(self) -> Path:
        return self.root / f"{self.file_name}.rejected"

    @property
    def unpacked(self) -> Path:
        return self.root / "unpacked"

    @property
    def lock(self) -> Path:
        return self.root / ".lock"

    @property
    def output(self) -> Path:
        """What the download rule produces: the unpacked folder of an archive, else the file."""
        return self.unpacked if self.archive else self.file

    @property
    def data(self) -> Path:
        """What the data stages read: the archive's `member` inside unpacked/, else the file."""
        return self.unpacked / self.member if self.archive else self.file
