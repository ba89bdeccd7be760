"""The model commands: `hpcseq train` and `hpcseq evaluate` (the workflow's model stages, one
experiment each) and `hpcseq generate` (text from a trained language model).

They alone load TensorFlow, when they run: hpcseq.training and hpcseq.evaluation.evaluate are
imported inside their command functions (after TensorFlow's C++ log is quieted), so that every
other command runs in the workflow environment, which has no TensorFlow.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from hpcseq.cli.arguments import add_command, add_config_arguments, add_stage_command, read_config, settings_and_paths
from hpcseq.config import experiment_settings
from hpcseq.errors import EnvironmentSetupError
from hpcseq.evaluation.generation import check_generate_request, generate_text
from hpcseq.job_ledger import record_stage
from hpcseq.paths import ExperimentPaths

TRAINING_ENVIRONMENT_ONLY = ("tensorflow", "tf_keras", "horovod")  # what the workflow environment lacks


def training_environment_needed(command: str, missing: ModuleNotFoundError) -> EnvironmentSetupError:
    """train, evaluate and generate run in the training environment: in one without TensorFlow (the
    workflow environment) say so and how to run them, not a ModuleNotFoundError from deep inside.
    Another missing module is not this case: its own error is raised again."""
    if (missing.name or "").split(".")[0] not in TRAINING_ENVIRONMENT_ONLY:
        raise missing
    return EnvironmentSetupError(
        f"`hpcseq {command}` needs TensorFlow, which this Python ({sys.executable}) does not have "
        f"(no module {missing.name}: the workflow environment?): run it with the training environment's "
        f"Python, `.venv/train/bin/python -m hpcseq {command} ...` (`make setup-training` makes it)"
    )


@contextlib.contextmanager
def _loading_tensorflow(command: str, log_level: str = "1") -> Iterator[None]:
    """Around what loads TensorFlow: its C++ log quieted to `log_level` (unless set already), and a
    missing TensorFlow said as training_environment_needed."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", log_level)
    try:
        yield
    except ModuleNotFoundError as missing:
        raise training_environment_needed(command, missing) from None


def _model_settings_and_paths(args) -> tuple[dict, ExperimentPaths]:
    """settings_and_paths, with the trained model's folder from --model-dir where it is given."""
    settings, paths = settings_and_paths(args)
    if args.model_dir:
        paths = dataclasses.replace(paths, model_root=args.model_dir)
    return settings, paths


def cmd_train(args) -> int:
    with _loading_tensorflow("train"):
        from hpcseq.training.train import train  # imports TensorFlow: only `hpcseq train` loads it

    settings, paths = _model_settings_and_paths(args)
    if args.horovod_timeline:
        # Horovod reads HOROVOD_TIMELINE in hvd.init() on every rank (rank 0 writes the file): set
        # here, it reaches each rank whatever environment srun or mpirun pass on
        args.horovod_timeline.parent.mkdir(parents=True, exist_ok=True)  # else Horovod writes none, silently
        os.environ["HOROVOD_TIMELINE"] = str(args.horovod_timeline.resolve())
    record_stage(paths, "train")  # rank 0, before anything can fail: a failed attempt is paid too
    train(settings, paths, restart=args.restart, foreign_checkpoints=args.foreign_checkpoints)
    return 0


def cmd_evaluate(args) -> int:
    with _loading_tensorflow("evaluate"):
        from hpcseq.evaluation.evaluate import evaluate  # imports TensorFlow: only `hpcseq evaluate` loads it

    settings, paths = _model_settings_and_paths(args)
    if args.eval_dir:
        paths = dataclasses.replace(paths, eval_root=args.eval_dir)
    record_stage(paths, "evaluate")  # inside a Slurm job: the ledger hpcseq summary sums (job_ledger.py)
    evaluate(settings, paths)
    return 0


def cmd_generate(args) -> int:
    """Text from a trained language model: `hpcseq generate results/<experiment> --seed TEXT`."""
    folder = Path(args.experiment_dir)
    config = read_config(args)
    settings = experiment_settings(config, folder.name)
    paths = ExperimentPaths.of(folder.parent, folder.name)
    check_generate_request(settings, paths, args.length, args.temperature)  # before TensorFlow loads
    with _loading_tensorflow("generate", log_level="2"):  # generate_text loads the model, and with it TensorFlow
        result = generate_text(settings, paths, args.seed, args.length, args.temperature, args.random_seed)
    separator = " " if settings["task"] == "next_word" else ""  # words are shown apart, characters as they are
    print(f"{result['window']}{separator}|{separator}{result['text']}" if args.show_window else result["text"])
    return 0


def add_model_stage_commands(sub) -> None:
    """train and evaluate: the workflow's model stages, one experiment each."""
    train = add_stage_command(
        sub, "train", cmd_train, "train with Horovod (run under horovodrun, mpirun or srun for several ranks)"
    )
    _add_train_arguments(train)
    evaluate = add_stage_command(
        sub, "evaluate", cmd_evaluate, "test metrics, baselines and samples of a trained model"
    )
    evaluate.add_argument(
        "--model-dir", type=Path, help="the trained model's folder (default: <results>/<experiment>/model)"
    )
    evaluate.add_argument(
        "--eval-dir", type=Path, help="where the evaluation goes (default: <results>/<experiment>/eval)"
    )


def _add_train_arguments(command) -> None:
    command.add_argument(
        "--restart", action="store_true", help="delete this experiment's checkpoints and start from scratch"
    )
    command.add_argument(
        "--foreign-checkpoints",
        choices=["refuse", "set-aside"],
        default="refuse",
        help="checkpoints written with other settings: refuse them (stop with the "
        "differences; the default) or set them aside in "
        "checkpoints.settings-<hash>/ and start afresh (what the workflow does: "
        "it reruns training because the settings changed); switching back to "
        "settings set aside earlier resumes their checkpoints",
    )
    command.add_argument(
        "--model-dir",
        type=Path,
        help="where the model, metrics, checkpoints and rank reports go (default: <results>/<experiment>/model; "
        "the scaling study's runs have their own)",
    )
    command.add_argument(
        "--horovod-timeline",
        type=lambda text: Path(text) if text else None,
        metavar="FILE",
        help="record Horovod's timeline (HOROVOD_TIMELINE) into FILE; empty: none",
    )


def add_generate_command(sub) -> None:
    text = (
        "text from a trained language model (next_character, next_character_sequence, next_word): LENGTH "
        "characters or words after a seed text, greedy (--temperature 0) or sampled; a window model rereads its "
        "sliding window at every step, a per-step model (next_character_sequence) reads the seed once and then "
        "each new character, its state carried as in TensorFlow's text-generation tutorial"
    )
    generate = add_command(sub, "generate", cmd_generate, help=text, description=text)
    generate.add_argument("experiment_dir", help="the experiment's results folder, e.g. results/sonnets_word_lstm")
    generate.add_argument("--seed", required=True, help="the text to continue (cleaned like the corpus)")
    generate.add_argument("--length", type=int, default=100, help="characters or words to generate (default 100)")
    generate.add_argument(
        "--temperature", type=float, default=1.0, help="0: greedy; below 1 safer, above 1 wilder (default 1)"
    )
    generate.add_argument("--random-seed", type=int, default=1, help="of the sampler (default 1)")
    generate.add_argument(
        "--show-window",
        action="store_true",
        help="print what the model read first before the text, then |: its input window (the cleaned seed cut or "
        "padded), or a per-step model's cleaned seed as fed",
    )
    add_config_arguments(generate)
