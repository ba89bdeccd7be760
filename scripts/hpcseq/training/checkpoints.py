"""Checkpoints that are complete or absent, and that only the configuration that made them loads.

Layout: `<model_dir>/checkpoints/epoch-EEEE-step-SSSSSSS/` holding TensorFlow's checkpoint files
(model weights and optimizer state) and `state.json` (position in the data order, metrics
history, the fingerprint of the settings that made it, and the size of every file). A directory
is built under a temporary name and renamed when complete, so a killed writer leaves only a
`.tmp-*` directory, which is ignored and cleaned up. Before loading, the files are checked
against state.json and the fingerprint against the current settings: an incomplete checkpoint
is skipped with a warning (the previous one is used), a foreign one is refused.

The workflow reruns training on purpose when its settings change (another preset, say). For that
case `set_aside_foreign()` renames a foreign `checkpoints/` to `checkpoints.settings-<hash>/`
beside it, and brings back the one of the current settings if an earlier switch set it aside: no
checkpoint is loaded under other settings, none is deleted, and switching back resumes.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from hpcseq.errors import CheckpointError
from hpcseq.events import CHECKPOINT_WRITTEN, get_logger
from hpcseq.io import atomic_directory, stable_hash
from hpcseq.records import (
    CHECKPOINT_FORMAT_VERSION,
    checkpoint_directories,
    checkpoint_directory_name,
    verify_checkpoint,
)

PREFIX = "ckpt"


@dataclass
class CheckpointInfo:
    path: Path
    state: dict


def fingerprint_differences(saved: dict, current: dict, prefix: str = "") -> list[str]:
    differences = []
    for key in sorted(set(saved) | set(current)):
        a, b = saved.get(key, "<absent>"), current.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            differences += fingerprint_differences(a, b, f"{prefix}{key}.")
        elif a != b:
            differences.append(f"{prefix}{key}: checkpoint {a!r}, now {b!r}")
    return differences


class ForeignCheckpointError(CheckpointError):
    """A complete checkpoint written with other settings (`fingerprint`)."""

    def __init__(self, message: str, fingerprint: dict):
        super().__init__(message)
        self.fingerprint = fingerprint


def fingerprint_hash(fingerprint: dict) -> str:
    return stable_hash(fingerprint, 12)


class CheckpointStore:
    def __init__(self, directory: str | Path, fingerprint: dict, keep: int = 2):
        self.directory = Path(directory)
        self.fingerprint = fingerprint
        self.keep = keep
        self.log = get_logger()
        # set when this run starts over (checkpoints deleted or set aside): the arguments of
        # job_ledger.start_over(), which moves the Slurm jobs of the old start aside with them
        self.started_over: dict | None = None

    # -------------------------------------------------------------------------------- reading
    def latest(self) -> CheckpointInfo | None:
        """The newest complete checkpoint of these settings, or None.

        Incomplete checkpoints are skipped with a warning; a complete one made with other settings
        stops the run (CheckpointError) rather than being loaded or silently ignored.
        """
        for path in reversed(checkpoint_directories(self.directory)):
            try:
                state = verify_checkpoint(path)
            except CheckpointError as problem:
                self.log.warning("skipping checkpoint: %s", problem)
                continue
            differences = fingerprint_differences(state.get("fingerprint", {}), self.fingerprint)
            if differences:
                raise ForeignCheckpointError(
                    f"{path} was written with other settings, so it cannot be continued:\n    "
                    + "\n    ".join(differences)
                    + f"\nTo start over, delete {self.directory} (or run `hpcseq train --restart`, or keep it with "
                    "`--foreign-checkpoints set-aside`); to continue it, restore the settings above.",
                    state.get("fingerprint", {}),
                )
            return CheckpointInfo(path, state)
        return None

    def aside_directory(self, fingerprint: dict) -> Path:
        return self.directory.with_name(f"{self.directory.name}.settings-{fingerprint_hash(fingerprint)}")

    def set_aside_foreign(self, foreign: ForeignCheckpointError) -> tuple[Path, bool]:
        """Move the foreign checkpoints out of the way and bring back this settings' own, if kept.

        Returns (where the foreign ones went, whether this settings' checkpoints came back).
        """
        first_choice = aside = self.aside_directory(foreign.fingerprint)
        number = 1
        while aside.exists():  # an older set-aside of the same settings stays as it is
            number += 1
            aside = first_choice.with_name(f"{first_choice.name}.{number}")
        self.directory.rename(aside)
        own = self.aside_directory(self.fingerprint)
        own_back = own.is_dir()
        if own_back:
            own.rename(self.directory)
        self.started_over = {
            "set_aside_as": fingerprint_hash(foreign.fingerprint),
            "brought_back": fingerprint_hash(self.fingerprint) if own_back else None,
        }
        return aside, own_back

    def restore(self, path: Path, model, optimizer) -> None:
        import tensorflow as tf

        checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
        status = checkpoint.read(str(Path(path) / PREFIX))
        # every variable of the model and optimizer must come from the file: a partial load would
        # silently continue from a different state
        status.assert_existing_objects_matched()

    # -------------------------------------------------------------------------------- writing
    def save(self, model, optimizer, state: dict) -> Path:
        import tensorflow as tf

        name = checkpoint_directory_name(state["epochs_completed"], state["step_in_epoch"])
        target = self.directory / name
        started = time.perf_counter()
        with atomic_directory(target) as tmp:
            tf.train.Checkpoint(model=model, optimizer=optimizer).write(str(tmp / PREFIX))
            files = {p.name: p.stat().st_size for p in tmp.iterdir() if p.is_file()}
            full_state = {
                "format": CHECKPOINT_FORMAT_VERSION,
                "fingerprint": self.fingerprint,
                "files": files,
                "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                **state,
            }
            (tmp / "state.json").write_text(json.dumps(full_state, indent=1) + "\n", encoding="utf-8")
        self.log.info(CHECKPOINT_WRITTEN.text(path=target, seconds=time.perf_counter() - started))
        self._prune()
        return target

    def _prune(self) -> None:
        complete = []
        for path in checkpoint_directories(self.directory):
            try:
                verify_checkpoint(path)
                complete.append(path)
            except CheckpointError:
                continue
        for path in complete[: max(0, len(complete) - self.keep)]:
            shutil.rmtree(path, ignore_errors=True)
        for leftover in self.directory.glob(".tmp-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        for leftover in self.directory.glob(".old-*"):
            shutil.rmtree(leftover, ignore_errors=True)

    def clear(self) -> None:
        if self.directory.exists():
            shutil.rmtree(self.directory)
        self.started_over = {"set_aside_as": "restart", "brought_back": None}
