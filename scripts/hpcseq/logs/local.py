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
names none). Whether a job still runs is known for sure only on the machine that runs it (a
process there writes its log); elsewhere, Snakemake's lock and a log written within the last
minute say so, and the report says which it was.
"""

from __future__ import annotations

import base64
import binascii
import os
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

from hpcseq.config import load_yaml
from hpcseq.errors import HpcseqError
from hpcseq.events import STAGE_ERROR, STOPPED_ON_SIGNAL
from hpcseq.logs import parse
from hpcseq.logs.diagnose import HOROVODRUN_EXIT, TRACEBACK
from hpcseq.paths import ExperimentPaths

LOCAL = "local"  # the JOB column of a local run's jobs, and the target that shows only them
STAGES = ("preprocess", "vocabulary", "train", "evaluate")  # the folders of the rule logs
CONFIG = Path("config") / "config.yaml"
SNAKEMAKE = Path(".snakemake")
FOLDER_DEFAULTS = {"logs_dir": "logs", "results_dir": "results", "benchmarks_dir": "benchmarks"}
RECENT_SECONDS = 60  # a log written this recently, under Snakemake's lock: the job runs
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
    runs: list[parse.SnakemakeRun] = field(default_factory=list)  # newest first
    locked: set[Path] = field(default_factory=set)  # outputs of a running (or killed) Snakemake
    incomplete: dict[Path, float] = field(default_factory=dict)  # output -> when its job started
    notes: list[str] = field(default_factory=list)
    _commands: list[tuple[int, str]] | None = None  # [] where this system shows no processes (no /proc)
    _writers: dict[Path, tuple[parse.SnakemakeRun, parse.SnakemakeJob]] | None = None

    def resolve(self, path: str | Path) -> Path:
        path = Path(os.path.expandvars(os.path.expanduser(str(path))))
        return Path(os.path.normpath(path if path.is_absolute() else self.root / path))

    def writers(self) -> dict[Path, tuple[parse.SnakemakeRun, parse.SnakemakeJob]]:
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


def _snakemake_runs(directory: Path) -> list[parse.SnakemakeRun]:
    """Snakemake's logs of its runs here, newest first (dry runs write none)."""
    if not directory.is_dir():
        return []
    paths = sorted(directory.glob("*.snakemake.log"), reverse=True)[:MAX_RUN_LOGS]
    return [parse.parse_snakemake_run(parse.read_lines(path)) for path in paths]


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
    snakemake: parse.SnakemakeJob | None = None
    run: parse.SnakemakeRun | None = None

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
        if self.snakemake is not None and self.snakemake.log.benchmark:
            return self.place.resolve(self.snakemake.log.benchmark)
        return self.place.benchmarks_dir / self.stage / f"{self.experiment}.tsv"


def stage_log(path: Path) -> tuple[str, str] | None:
    """(stage, experiment) of a rule log `<logs_dir>/<stage>/<experiment>.log`, else None."""
    if path.suffix == ".log" and path.parent.name in STAGES and path.stem:
        return path.parent.name, path.stem
    return None


def discover_local(place: RunDirectory, slurm_steps: set[tuple[str, str]]) -> dict[str, LocalJob]:
    """The local jobs of a run directory: the rule logs of its logs folder and those its Snakemake
    logs name, less those of Slurm jobs: the newest Snakemake run that wrote the log submitted it
    to Slurm, or (without such a run) a Slurm log of the same stage and experiment exists
    (`slurm_steps`: their (stage, experiment))."""
    logs = {path for stage in STAGES for path in (place.logs_dir / stage).glob("*.log")} | set(place.writers())
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


def _writer_of(place: RunDirectory, rule_log: Path) -> tuple[parse.SnakemakeRun | None, parse.SnakemakeJob | None]:
    """The newest Snakemake run, and its job, that wrote a rule log."""
    return place.writers().get(rule_log, (None, None))


# ----------------------------------------------------------------------------------- its state


@dataclass
class LocalState:
    """A local job's state (in Slurm's words, INTERRUPTED for a run stopped before the job ended),
    its exit status, times, and how its state is known."""

    state: str | None
    exit_code: int | None = None
    started: float | None = None
    ended: float | None = None
    elapsed: float | None = None
    notes: list[str] = field(default_factory=list)


def local_state(job: LocalJob, lines: list[parse.LogLine], now: float | None = None) -> LocalState:
    """How a local job stands: running (a process here writes its log; or Snakemake's lock is
    held and the log was written within the last minute), failed or completed as Snakemake's
    log says (without it: an error in the rule's log; its outputs), interrupted (Snakemake
    stopped before the job ended), else unknown."""
    now = time.time() if now is None else now
    found = _ended(job, lines)
    if found is None and _writer_pid(job) is not None:
        found = LocalState("RUNNING", started=_started(job))
    if found is None and (_marked_incomplete(job) or (job.snakemake is not None and not job.snakemake.done)):
        found = _unfinished(job, now)
    if found is None and all(path.is_file() for path in job.outputs()):
        found = LocalState("COMPLETED", 0)
    if found is None:
        found = LocalState(
            None, notes=["no end in its log, and neither Snakemake's log of the run nor its outputs say how it ended"]
        )
    _add_times(found, job, now)
    return found


def _ended(job: LocalJob, lines: list[parse.LogLine]) -> LocalState | None:
    """Its end as Snakemake's log tells it, else as the program's own error lines do."""
    snakemake = job.snakemake
    if snakemake is not None and snakemake.log.error:
        return LocalState("FAILED", snakemake.log.exit_status)
    if snakemake is not None and snakemake.log.finished:
        return LocalState("COMPLETED", 0)
    if snakemake is None and any(_program_failed(line.text) for line in lines):
        return LocalState("FAILED")
    return None


def _program_failed(text: str) -> bool:
    error = STAGE_ERROR.match(text)
    if error and not STOPPED_ON_SIGNAL.search(error.group("message")):
        return True
    return TRACEBACK.match(text) is not None or HOROVODRUN_EXIT.search(text) is not None


def _unfinished(job: LocalJob, now: float) -> LocalState:
    """A job that started and did not end: running while Snakemake's lock is held and its log
    was written lately; interrupted when no Snakemake holds the lock any more."""
    if not any(path in job.place.locked for path in job.outputs()):
        return LocalState("INTERRUPTED")
    quiet = now - _last_write(job)
    here = (
        "no process on this machine writes its log"
        if job.place.commands()
        else "this system does not show which processes write its log"
    )
    if quiet <= RECENT_SECONDS:
        return LocalState(
            "RUNNING",
            started=_started(job),
            notes=[f"running: Snakemake holds its lock and the log was written {quiet:.0f} s ago ({here})"],
        )
    return LocalState(
        None,
        notes=[
            f"Snakemake holds the lock of its outputs, but nothing was written for {quiet / 60:.0f} min and "
            f"{here}: a quiet step on another machine, or Snakemake was killed (then `snakemake --unlock` "
            "and run again)"
        ],
    )


def _add_times(found: LocalState, job: LocalJob, now: float) -> None:
    snakemake = job.snakemake
    if snakemake is not None and found.state != "RUNNING":
        found.started, found.ended = found.started or snakemake.started, snakemake.ended
    benchmark = _benchmark_seconds(job) if found.state == "COMPLETED" else None
    if benchmark is not None:
        found.elapsed = benchmark
    elif found.state == "RUNNING" and found.started is not None:
        found.elapsed = now - found.started
    elif found.started is not None and found.ended is not None:
        found.elapsed = found.ended - found.started


def _started(job: LocalJob) -> float | None:
    """When its job started: Snakemake's incomplete marker of an output, else its log's header."""
    marked = [job.place.incomplete[path] for path in job.outputs() if path in job.place.incomplete]
    if marked:
        return min(marked)
    return job.snakemake.started if job.snakemake is not None else None


def _marked_incomplete(job: LocalJob) -> bool:
    return any(path in job.place.incomplete for path in job.outputs())


def _last_write(job: LocalJob) -> float:
    """When its log, or Snakemake's log of its run, was last written."""
    times = [0.0]
    for path in (job.rule_log, Path(job.run.path) if job.run is not None else None):
        try:
            times.append(path.stat().st_mtime if path is not None else 0.0)
        except OSError:
            continue
    return max(times)


def _benchmark_seconds(job: LocalJob) -> float | None:
    """The run time Snakemake measured (`s`, the first column of the benchmark's last row), if
    the benchmark file was written when this log was (a job that succeeded writes both)."""
    path = job.benchmark()
    try:
        if path.stat().st_mtime < job.rule_log.stat().st_mtime - 5:
            return None  # of an earlier run
        rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError:
        return None
    if len(rows) < 2 or rows[0][0] != "s":
        return None
    try:
        return float(rows[-1][0])
    except ValueError:
        return None


def _writer_pid(job: LocalJob) -> int | None:
    """A process on this machine whose command writes the rule log (the rule's shell command,
    `... > <log> 2>&1`; its working directory the run directory): the job runs."""
    written = {str(job.rule_log)}
    if job.snakemake is not None and job.snakemake.log.log_files:
        written.add(job.snakemake.log.log_files[0])
    for pid, command in job.place.commands():
        names = [path for path in written if _redirects_to(command, path)]
        if not names:
            continue
        try:
            cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
        except OSError:
            continue  # another user's process (or gone)
        if any(job.place.resolve(cwd / name) == job.rule_log for name in names):
            return pid
    return None


def _redirects_to(command: str, path: str) -> bool:
    return any(f"{arrow}{name}" in command for name in {path, shlex.quote(path)} for arrow in ("> ", ">"))


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
