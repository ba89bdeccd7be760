"""Local runs (`snakemake --cores N`, `make run`: no Slurm): each stage's rule log is one job.

What a local run leaves in its run directory, and what each tells:
  * the rule logs `<logs_dir>/<stage>/<experiment>.log` (preprocess, vocabulary, train, evaluate):
    the program's whole output (its progress, its error), overwritten by every run of the rule;
  * Snakemake's own log of each run, `.snakemake/log/<time>.snakemake.log`: which rule wrote which
    log file, when it started, whether it finished or failed (and the exit status), the host;
  * while Snakemake runs: `.snakemake/locks/<n>.output.lock` (the files that run will write) and
    `.snakemake/incomplete/<base64 of an output>` of each job started and not ended (both stay
    behind when Snakemake itself was killed; the markers also after Ctrl-C);
  * `<benchmarks_dir>/<stage>/<experiment>.tsv`, Snakemake's benchmark of a job that succeeded
    (seconds, memory);
  * the stage's outputs under `<results_dir>/<experiment>/` (paths.py).
The folders are those of the run directory's config/config.yaml (the schema's defaults where it
names none). How each job stands (running, failed, completed, interrupted): local_state.py.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field
from pathlib import Path

from hpcseq.errors import HpcseqError
from hpcseq.io import load_yaml
from hpcseq.logs.parse.lines import read_lines
from hpcseq.logs.parse.snakemake_logs import SnakemakeJob, SnakemakeRun, parse_snakemake_run
from hpcseq.paths import ExperimentPaths, benchmark_file, rule_log_file, rule_log_parts

LOCAL = "local"  # the JOB column of a local run's jobs, and the target that shows only them
STAGES = ("preprocess", "vocabulary", "train", "evaluate")  # the folders of the rule logs
CONFIG = Path("config") / "config.yaml"
SNAKEMAKE = Path(".snakemake")
FOLDER_DEFAULTS = {"logs_dir": "logs", "results_dir": "results", "benchmarks_dir": "benchmarks"}
MAX_RUN_LOGS = 100  # Snakemake's own logs read, newest first


def _stage_outputs(paths: ExperimentPaths, stage: str) -> list[Path]:
    """What a stage writes last (its rule's outputs, paths.py), when Snakemake's log does not say."""
    return {
        "preprocess": [paths.split_report],
        "vocabulary": [paths.vocab, paths.encoded_index],
        "train": [paths.final_model, paths.metrics, paths.training_summary],
        "evaluate": [paths.eval_metrics, paths.samples],
    }[stage]


# ------------------------------------------------------------------------------ the run directory


@dataclass
class RunDirectory:
    """A run directory's folders (from its config), Snakemake's logs of it, its locks and markers."""

    root: Path
    logs_dir: Path
    results_dir: Path
    benchmarks_dir: Path
    runs: list[SnakemakeRun] = field(default_factory=list)  # newest first
    locked: set[Path] = field(default_factory=set)  # outputs of a running (or killed) Snakemake
    incomplete: dict[Path, float] = field(default_factory=dict)  # output -> when its job started
    notes: list[str] = field(default_factory=list)
    _commands: list[tuple[int, str]] | None = None  # [] where this system shows no processes (no /proc)
    _writers: dict[Path, tuple[SnakemakeRun, SnakemakeJob]] | None = None

    def resolve(self, path: str | Path) -> Path:
        path = Path(os.path.expandvars(os.path.expanduser(str(path))))
        return Path(os.path.normpath(path if path.is_absolute() else self.root / path))

    def writers(self) -> dict[Path, tuple[SnakemakeRun, SnakemakeJob]]:
        """Each rule log named in Snakemake's logs here: the newest run, and its job, that wrote it."""
        if self._writers is None:
            self._writers = {}
            for run in reversed(self.runs):  # oldest first: a newer run's job replaces an older one's
                for job in sorted(run.jobs.values(), key=lambda job: job.started or 0):
                    if job.log.log_files:
                        self._writers[self.resolve(job.log.log_files[0])] = (run, job)
        return self._writers

    def commands(self) -> list[tuple[int, str]]:
        """The processes on this machine (read once)."""
        if self._commands is None:
            self._commands = _commands()
        return self._commands


def run_directory(root: Path, results_override: Path | None = None) -> RunDirectory:
    """What a run directory holds about its local runs."""
    root = Path(os.path.abspath(root))
    folders, notes = _configured_folders(root)
    place = RunDirectory(root, *(Path() for _ in range(3)), notes=notes)
    place.logs_dir = place.resolve(folders["logs_dir"])
    # a results_dir on $SCRATCH (say) as the run on this machine expanded it
    configured = os.path.expandvars(os.path.expanduser(folders["results_dir"]))
    place.results_dir = place.resolve(results_override or configured)
    place.benchmarks_dir = place.resolve(folders["benchmarks_dir"])
    place.runs = _snakemake_runs(root / SNAKEMAKE / "log")
    place.locked = {place.resolve(path) for path in _lock_entries(root / SNAKEMAKE / "locks")}
    markers = _incomplete_markers(root / SNAKEMAKE / "incomplete")
    place.incomplete = {place.resolve(path): when for path, when in markers}
    return place


def _configured_folders(root: Path) -> tuple[dict[str, str], list[str]]:
    """logs_dir, results_dir and benchmarks_dir of the run directory's config/config.yaml."""
    folders = dict(FOLDER_DEFAULTS)
    if not (root / CONFIG).is_file():
        return folders, []
    try:
        config = load_yaml(root / CONFIG)
    except HpcseqError as error:
        return folders, [f"{error}: the default folders are assumed ({', '.join(FOLDER_DEFAULTS.values())})"]
    folders.update({key: config[key] for key in FOLDER_DEFAULTS if isinstance(config.get(key), str) and config[key]})
    return folders, []


def _snakemake_runs(directory: Path) -> list[SnakemakeRun]:
    """Snakemake's logs of its runs here, newest first (dry runs write none)."""
    if not directory.is_dir():
        return []
    paths = sorted(directory.glob("*.snakemake.log"), reverse=True)[:MAX_RUN_LOGS]
    return [parse_snakemake_run(read_lines(path)) for path in paths]


def _lock_entries(directory: Path) -> list[str]:
    """The files that running Snakemakes will write (`.snakemake/locks/<n>.output.lock`)."""
    entries = []
    for path in sorted(directory.glob("*.output.lock")) if directory.is_dir() else []:
        try:
            entries += [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        except OSError:
            continue
    return entries


def _incomplete_markers(directory: Path) -> list[tuple[str, float]]:
    """The outputs Snakemake marked incomplete (a job started, not ended) and when it marked them:
    each marker's name is the output's path in urlsafe base64, long ones split into `@`-folders."""
    found = []
    for folder, _, names in os.walk(directory):
        prefix = "".join(part[1:] for part in Path(folder).relative_to(directory).parts if part.startswith("@"))
        for name in names:
            try:
                path = base64.urlsafe_b64decode(prefix + name).decode()
                found.append((path, os.path.getmtime(os.path.join(folder, name))))
            except (binascii.Error, UnicodeDecodeError, ValueError, OSError):
                continue  # not a marker (e.g. migration_underway)
    return found


# ------------------------------------------------------------------------------------ the jobs


@dataclass
class LocalJob:
    """One local job: a stage's rule log, and the Snakemake run that wrote it (if its log is there)."""

    stage: str
    experiment: str
    rule_log: Path
    place: RunDirectory
    snakemake: SnakemakeJob | None = None
    run: SnakemakeRun | None = None

    @property
    def key(self) -> str:
        """What tells it apart from the other jobs (Slurm's have numbers)."""
        return f"{LOCAL}:{self.rule_log}"

    @property
    def rule(self) -> str:
        return (self.snakemake.log.rule if self.snakemake else None) or self.stage

    def outputs(self) -> list[Path]:
        """What its job writes: the outputs Snakemake's log names, else the stage's (paths.py)."""
        if self.snakemake is not None and self.snakemake.log.outputs:
            return [self.place.resolve(path) for path in self.snakemake.log.outputs]
        return _stage_outputs(ExperimentPaths.of(self.place.results_dir, self.experiment), self.stage)

    def benchmark(self) -> Path:
        """Snakemake's benchmark of its job: where Snakemake's log names it, else the rules' (paths.py)."""
        if self.snakemake is not None and self.snakemake.log.benchmark:
            return self.place.resolve(self.snakemake.log.benchmark)
        return Path(benchmark_file(self.place.benchmarks_dir, self.stage, self.experiment))


def stage_log(path: Path) -> tuple[str, str] | None:
    """(stage, experiment) of a rule log `<logs_dir>/<stage>/<experiment>.log` (paths.py), else None."""
    named = rule_log_parts(path)
    return named if named is not None and named[0] in STAGES else None


def _rule_logs(logs_dir: Path) -> set[Path]:
    """The rule logs of every stage in a logs folder."""
    found = set()
    for stage in STAGES:
        pattern = Path(rule_log_file(logs_dir, stage, "*"))
        found.update(pattern.parent.glob(pattern.name))
    return found


def discover_local(place: RunDirectory, slurm_steps: set[tuple[str, str]]) -> dict[str, LocalJob]:
    """The local jobs of a run directory: the rule logs of its logs folder and those its Snakemake
    logs name, less those of Slurm jobs: the newest Snakemake run that wrote the log submitted it
    to Slurm, or (without such a run) a Slurm log of the same stage and experiment exists
    (`slurm_steps`: their (stage, experiment))."""
    logs = _rule_logs(place.logs_dir) | set(place.writers())
    found = {}
    for path in sorted(logs):
        named = stage_log(path)
        if named is None or not path.is_file():
            continue
        job = LocalJob(*named, path, place)
        job.run, job.snakemake = _writer_of(place, path)
        if job.snakemake is not None and job.snakemake.slurm_job:
            continue
        if job.snakemake is None and named in slurm_steps:
            continue
        found[job.key] = job
    return found


def local_job_of_path(path: Path, results_override: Path | None = None) -> LocalJob | None:
    """A rule log named on the command line: its job, in the run directory above it (the one
    holding .snakemake/ or config/config.yaml, else the folder above the logs folder)."""
    named = stage_log(path)
    if named is None:
        return None
    path = Path(os.path.abspath(path))
    above_logs = path.parents[min(2, len(path.parents) - 1)]
    root = next((p for p in path.parents if (p / SNAKEMAKE).is_dir() or (p / CONFIG).is_file()), above_logs)
    place = run_directory(root, results_override)
    job = LocalJob(*named, path, place)
    job.run, job.snakemake = _writer_of(place, path)
    return job


def _writer_of(place: RunDirectory, rule_log: Path) -> tuple[SnakemakeRun | None, SnakemakeJob | None]:
    """The newest Snakemake run, and its job, that wrote a rule log."""
    return place.writers().get(rule_log, (None, None))


def _commands() -> list[tuple[int, str]]:
    """(pid, command line) of the processes on this machine (Linux /proc; none elsewhere)."""
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if command:
            found.append((int(entry), command))
    return found
