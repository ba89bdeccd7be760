"""The written event contract (hpcseq.events): every line `hpcseq logs` reads, made by its real
producer and read back by the very function `hpcseq logs` uses.

Where the producer needs TensorFlow (the training's console messages), the line is made with the
same `Message.text(...)` call and realistic values, and logged through the real `setup_logging`;
tests/training/test_real_training_log.py reads the console of a real training. The job script's
lines come from a script rendered for the shipped config and run by bash, with `srun` and
`scontrol` as the only stand-ins. No other module may write these messages' wording.
"""

from __future__ import annotations

import ast
import logging
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hpcseq import cli, events
from hpcseq.errors import REQUEUE_EXIT_CODE
from hpcseq.events import (
    CHECKPOINT_WRITTEN,
    CONSOLE,
    EPOCH_DONE,
    EXPERIMENT_STARTED,
    RANKS_ON_HOSTS,
    RESUMING,
    STAGE_ERROR,
    STOPPED_ON_SIGNAL,
    TIMESTAMP,
    TRAINING_DONE,
    metrics_text,
    rank_hosts_text,
    setup_logging,
)
from hpcseq.logs import collect
from hpcseq.logs.diagnose import Facts, diagnose
from hpcseq.logs.parse import (
    console_epochs,
    console_progress,
    lines_from_text,
    parse_script_output,
    results_dir_from_lines,
)
from hpcseq.logs.sources import Slurm
from tests.conftest import REPO_ROOT
from tests.unit.conftest import job_script_with_stand_ins

PACKAGE = REPO_ROOT / "scripts" / "hpcseq"
NO_SLURM = Slurm(sacct="/nonexistent/sacct", squeue="/nonexistent/squeue")
CHECKPOINTS = Path("/r/results/tiny_char/model/checkpoints")


@pytest.fixture
def console(capsys):
    """setup_logging's logger, writing to the captured stdout; read() returns its lines."""
    yield lambda stage, rank=None, size=None: setup_logging(stage, rank, size, level="INFO")
    logger = logging.getLogger(events.LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)


@pytest.fixture
def keep_signals():
    """cli.main sets the handling of SIGUSR1 for its stage: give this process its own back."""
    handlers = {number: signal.getsignal(number) for number in (signal.SIGUSR1, signal.SIGTERM)}
    yield
    for number, handler in handlers.items():
        signal.signal(number, handler)


@pytest.fixture
def outside_slurm(monkeypatch):
    """`hpcseq launch` outside a Slurm allocation (inside one it would start srun)."""
    for name in [name for name in os.environ if name.startswith("SLURM_")]:
        monkeypatch.delenv(name)


# ----------------------------------------------------------------------- the training's console


def test_the_console_of_a_training_is_read_back_by_console_progress(console, capsys):
    log = console("train", 0, 2)
    epochs = [
        {
            "loss": 2.91493,
            "sparse_categorical_accuracy": 0.189649,
            "val_loss": 2.881549,
            "val_sparse_categorical_accuracy": 0.19304,
        },
        {
            "loss": 2.71977,
            "sparse_categorical_accuracy": 0.250331,
            "val_loss": 2.690023,
            "val_sparse_categorical_accuracy": 0.26951,
        },
    ]
    speeds, seconds = [9034.6, 8715.2], [0.412, 0.396]
    log.info(
        EXPERIMENT_STARTED.text(
            name="tiny_char", model="char_rnn", ranks=2, launcher="srun", host="jwb0001", device="GPU 0"
        )
    )
    log.info(RANKS_ON_HOSTS.text(ranks=rank_hosts_text(["jwb0001.juwels", "jwb0002.juwels"])))
    log.info(RESUMING.text(path=CHECKPOINTS / "epoch-0002-step-0000000", done=2, epochs=5, within=""))
    for number, values in enumerate(epochs, start=3):
        log.info(
            EPOCH_DONE.text(
                epoch=number,
                epochs=5,
                metrics=metrics_text(values),
                samples_per_second=speeds[number - 3],
                seconds=seconds[number - 3],
            )
        )
        log.info(CHECKPOINT_WRITTEN.text(path=CHECKPOINTS / f"epoch-{number:04d}-step-0000000", seconds=0.2345))
    log.info(TRAINING_DONE.text(model=Path("/r/results/tiny_char/model/final.keras"), metrics=Path("/r/m.jsonl")))
    lines = lines_from_text(capsys.readouterr().out)

    assert len(lines) == 8
    for line in lines:
        match = CONSOLE.match(line.text)
        assert match is not None, line.text
        assert (match.group("stage"), match.group("rank"), match.group("size"), match.group("level")) == (
            "train",
            "0",
            "2",
            "INFO",
        )
        assert re.fullmatch(TIMESTAMP, match.group("time"))
    progress = console_progress(lines)
    assert (progress.ranks, progress.launcher, progress.host, progress.device) == (2, "srun", "jwb0001", "GPU 0")
    assert progress.rank_hosts == ["jwb0001.juwels", "jwb0002.juwels"]
    assert (progress.resumed_from_epoch, progress.epochs_planned, progress.epochs_done) == (2, 5, 4)
    assert (progress.epochs_this_job, progress.source, progress.finished) == (2, "console", True)
    last = epochs[-1]
    assert (progress.loss, progress.val_loss) == (round(last["loss"], 4), round(last["val_loss"], 4))
    assert progress.val_accuracy == round(last["val_sparse_categorical_accuracy"], 4)
    assert progress.samples_per_second == pytest.approx((9035 + 8715) / 2)
    assert progress.last_checkpoint.path == str(CHECKPOINTS / "epoch-0004-step-0000000")
    assert progress.last_checkpoint.describe() == "epoch 4"
    read = console_epochs(lines)
    assert [record["epoch"] for record in read] == [3, 4]
    for record, values, speed, time in zip(read, epochs, speeds, seconds, strict=True):
        assert {key: record[key] for key in values} == {key: round(value, 4) for key, value in values.items()}
        assert (record["samples_per_second"], record["epoch_seconds"]) == (round(speed), round(time, 1))
    assert results_dir_from_lines(lines, "tiny_char") == Path("/r/results")
    done = TRAINING_DONE.match(CONSOLE.match(lines[-1].text).group("message"))
    assert (done.group("model"), done.group("metrics")) == ("/r/results/tiny_char/model/final.keras", "/r/m.jsonl")


def test_a_single_rank_names_no_rank_and_a_resume_inside_an_epoch_says_so(console, capsys):
    console("train").info(
        RESUMING.text(
            path=CHECKPOINTS / "epoch-0002-step-0000005", done=2, epochs=5, within=", 5 of 30 steps into the next"
        )
    )
    [line] = lines_from_text(capsys.readouterr().out)
    match = CONSOLE.match(line.text)
    assert match.group("rank") is None and match.group("size") is None
    assert console_progress([line]).resumed_from_epoch == 2
    assert RESUMING.match(match.group("message")).group("path") == str(CHECKPOINTS / "epoch-0002-step-0000005")


# --------------------------------------------------------------------- errors of a stage (stderr)


def test_a_config_error_of_a_stage_is_diagnosed_with_its_message(tmp_path, capsys, keep_signals):
    config = tmp_path / "config.yaml"
    config.write_text(
        "preset: null\ndatasets:\n  d: {format: text, path: /nonexistent.txt}\n"
        "experiments:\n  x: {model: char_rnn, dataset: d, ranks: 0}\n"
    )
    assert cli.main(["preprocess", "--configfile", str(config), "--experiment", "x"]) == 2
    lines = lines_from_text(capsys.readouterr().err, "x.err")
    error = STAGE_ERROR.match(lines[0].text)
    assert (error.group("stage"), error.group("message")) == ("preprocess", "invalid configuration:")
    found = diagnose(Facts(lines=lines, state="FAILED", exit_code=2))
    assert found.kind == "hpcseq_error" and found.evidence.line == 1
    assert "config key experiments.x.ranks" in found.summary and "hpcseq config" in found.next_step


# The real `hpcseq train` error path, in its own process: the training (TensorFlow) stands in by
# raising what it raises when a signal stopped it after writing a checkpoint.
STOPPED_TRAINING = """\
import signal, sys, types
from hpcseq.training.signals import TrainingInterrupted

def train(*args, **kwargs):
    raise TrainingInterrupted(signal.SIGUSR1, sys.argv[1])

sys.modules["hpcseq.training.train"] = types.SimpleNamespace(train=train)
from hpcseq import cli
sys.exit(cli.main(["train", "--settings", '{"name": "tiny_char"}']))
"""


def test_a_training_stopped_on_a_signal_is_a_time_limit_stop_and_not_an_error():
    checkpoint = str(CHECKPOINTS / "epoch-0002-step-0000005")
    result = subprocess.run(
        [sys.executable, "-c", STOPPED_TRAINING, checkpoint], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == REQUEUE_EXIT_CODE, result.stderr
    lines = lines_from_text(result.stderr, "x.err")
    [line] = [line for line in lines if line.text.strip()]
    stopped = STOPPED_ON_SIGNAL.search(line.text)
    assert (stopped.group("signal"), stopped.group("checkpoint"), stopped.group("code")) == (
        "SIGUSR1",
        checkpoint,
        str(REQUEUE_EXIT_CODE),
    )
    assert console_progress(lines).stopped_on == "SIGUSR1"
    found = diagnose(Facts(lines=lines, state="FAILED", exit_code=REQUEUE_EXIT_CODE, rule="train"))
    assert found.kind == "time_limit" and found.evidence.line == line.number


def test_a_missing_training_interpreter_is_an_environment_problem(tmp_path, capsys, outside_slurm, keep_signals):
    python = tmp_path / "no" / "such" / "python"
    assert cli.main(["launch", "--ranks", "1", "--", str(python), "-m", "hpcseq", "train"]) == 2
    lines = lines_from_text(capsys.readouterr().err, "x.err")
    assert events.INTERPRETER_MISSING.search(lines[0].text).group("what") == str(python)
    found = diagnose(Facts(lines=lines, state="FAILED", exit_code=2))
    assert found.kind == "environment" and str(python) in found.summary


def test_a_missing_horovodrun_is_an_environment_problem(tmp_path, capsys, monkeypatch, outside_slurm, keep_signals):
    python = tmp_path / "venv" / "bin" / "python"  # exists, but no horovodrun beside it nor on PATH
    python.parent.mkdir(parents=True)
    python.touch()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert cli.main(["launch", "--ranks", "2", "--local-launcher", "horovodrun", "--", str(python)]) == 2
    lines = lines_from_text(capsys.readouterr().err, "x.err")
    assert events.HOROVODRUN_MISSING.search(lines[0].text).group("what") == str(python)
    found = diagnose(Facts(lines=lines, state="FAILED", exit_code=2))
    assert found.kind == "environment" and found.summary.startswith("horovodrun was not found")


# ---------------------------------------------------------------------- the job script's own lines

STAND_INS = {
    # srun runs nothing; the training step ends with the exit code the test asks for
    "srun": '#!/bin/sh\ncase "$*" in *" hpcseq train "*) exit "$TRAINING_EXIT";; esac\nexit 0\n',
    "scontrol": "#!/bin/sh\nexit 0\n",
}


@pytest.fixture
def run_job_script(tmp_path):
    """run(training_exit) -> the folder holding the job's <name>_out.<id> and <name>_err.<id>, as
    Slurm would write them, of the script rendered for the shipped config (cluster `local`)."""
    script, stand_in_path = job_script_with_stand_ins(tmp_path, STAND_INS)

    def run(training_exit: int) -> Path:
        submit = tmp_path / f"submit-{training_exit}"
        submit.mkdir()
        environment = {
            **stand_in_path,
            "SLURM_JOB_ID": "4711",
            "SLURM_JOB_NODELIST": "jwb[0001-0002]",
            "SLURM_RESTART_COUNT": "1",
            "TRAINING_EXIT": str(training_exit),
        }
        with (
            open(submit / "shakespeare_char_rnn_out.4711", "w") as out,
            open(submit / "shakespeare_char_rnn_err.4711", "w") as err,
        ):
            subprocess.run(["bash", str(script)], stdout=out, stderr=err, env=environment, timeout=60, check=False)
        return submit

    return run


def test_the_job_scripts_start_and_end_lines(run_job_script):
    submit = run_job_script(0)
    lines = lines_from_text((submit / "shakespeare_char_rnn_out.4711").read_text())
    output = parse_script_output(lines)
    assert (output.job_id, output.nodes, output.restarts, output.done) == ("4711", "jwb[0001-0002]", 1, True)
    assert re.fullmatch(TIMESTAMP, output.started)
    [record], _ = collect([str(submit)], slurm=NO_SLURM)
    assert (record.rule, record.experiment, record.state, record.node_list) == (
        "sbatch",
        "shakespeare_char_rnn",
        "completed",
        "jwb[0001-0002]",
    )
    assert record.diagnosis is None


def test_the_job_script_requeues_a_training_that_checkpointed_before_the_time_limit(run_job_script):
    submit = run_job_script(REQUEUE_EXIT_CODE)
    lines = lines_from_text((submit / "shakespeare_char_rnn_out.4711").read_text())
    output = parse_script_output(lines)
    assert output.requeue_line is lines[1] and not output.done and output.training_exit_code is None
    [record], _ = collect([str(submit)], slurm=NO_SLURM)
    assert record.state == "requeued" and record.diagnosis.kind == "time_limit"
    assert "the job script requeued the job" in record.diagnosis.summary


def test_the_job_script_reports_a_failed_training_on_stderr(run_job_script):
    submit = run_job_script(137)
    assert (submit / "shakespeare_char_rnn_err.4711").read_text() == "training failed with exit code 137\n"
    [record], _ = collect([str(submit)], slurm=NO_SLURM)
    assert (record.state, record.exit_code) == ("failed", 137)


# ------------------------------------------------------------------------ one wording, one place

# Words of each message that no other module of hpcseq may write (fields as `{}`).
WORDING = {
    "EXPERIMENT_STARTED": ["rank(s), launcher"],
    "RANKS_ON_HOSTS": ["ranks on hosts:"],
    "RESUMING": ["resuming from", "epochs done"],
    "EPOCH_DONE": ["samples/s |"],
    "CHECKPOINT_WRITTEN": [" written in "],
    "TRAINING_DONE": ["done: final model"],
    "RANK_HUNG": ["sent no heartbeat for", "longer than training.hang_timeout_seconds"],
    "RANK_SILENT": ["had sent no heartbeat for", "when this rank failed"],
    "STAGE_ERROR": ["hpcseq {}: error"],
    "STOPPED_ON_SIGNAL": ["after writing checkpoint", "run again to continue"],
    "INTERPRETER_MISSING": ["does not exist:"],
    "HOROVODRUN_MISSING": ["neither next to"],
    "SCRIPT_START": ["(restart "],
    "SCRIPT_REQUEUE": ["requeueing job"],
    "SCRIPT_TRAINING_FAILED": ["training failed with exit code"],
    "SCRIPT_DONE": [],  # "done": too short a word to be anyone's
    "SCRIPT_SETUP_FAILED": ["hpcseq: setup failed (exit {}):"],
    "SMOKE_CHECK": ["hpcseq smoke-test {} {}:"],
}


def _with_fields_as_braces(template: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", template)


def test_every_message_has_its_wording_here():
    messages = {name: value for name, value in vars(events).items() if isinstance(value, events.Message)}
    assert set(messages) == set(WORDING)
    for name, fragments in WORDING.items():
        for fragment in fragments:
            assert fragment in _with_fields_as_braces(messages[name].template), (name, fragment)


def _string_literals(path: Path) -> list[tuple[int, str]]:
    """The strings of a module as written (f-string fields as `{}`), not its docstrings or comments."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    documented = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, documented) and node.body and isinstance(node.body[0], ast.Expr)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = [part.value if isinstance(part, ast.Constant) else "{}" for part in node.values]
            found.append((node.lineno, "".join(parts)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            found.append((node.lineno, node.value))
    return found


def test_no_other_module_writes_the_messages_wording():
    modules = [path for path in sorted(PACKAGE.rglob("*.py")) if path != PACKAGE / "events.py"]
    assert len(modules) > 20
    copies = {
        f"{path.relative_to(REPO_ROOT)}:{line}: {fragment!r} of {name}"
        for path in modules
        for line, text in _string_literals(path)
        for name, fragments in WORDING.items()
        for fragment in fragments
        if fragment in text
    }
    assert sorted(copies) == []
