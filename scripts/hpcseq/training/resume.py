"""Where a training run starts: from scratch, or inside the epoch its latest checkpoint stopped in.

The checkpoint is the latest complete one of the same settings (the fingerprint). Rank 0 looks
for it and restores it; every rank learns by broadcast where the run continues (epoch, step, its
own dropout and metric state).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from hpcseq import job_ledger
from hpcseq.errors import CheckpointError, HpcseqError
from hpcseq.events import RESUMING, get_logger
from hpcseq.io import atomic_open, file_sha256
from hpcseq.paths import ExperimentPaths
from hpcseq.training.checkpoints import CheckpointStore, ForeignCheckpointError, fingerprint_differences
from hpcseq.training.run_state import restore_random_generator_states

# The settings a checkpoint must share with the run that continues it (with the model, its
# hyperparameters, the vocabulary and the number of training items).
FINGERPRINT_TRAINING_KEYS = (
    "batch_size",
    "global_batch_size",
    "optimizer",
    "learning_rate",
    "scale_learning_rate",
    "warmup_epochs",
    "seed",
    "max_steps_per_epoch",
)


@dataclass
class Resume:
    """Where this run starts: from scratch, or inside the epoch a checkpoint stopped in."""

    path: str | None = None
    state: dict | None = None
    initial_epoch: int = 0
    start_step: int = 0  # steps of `initial_epoch` already done
    history: list = field(default_factory=list)
    restore_metrics: list | None = None  # this rank's partial metric sums of that epoch


def fingerprint_of(settings: dict, vocab_path: Path, items_total: int) -> dict:
    return {
        "model": settings["model"],
        "architecture": settings["architecture"],
        "hyperparameters": settings["hyperparameters"],
        "training": {key: settings["training"].get(key) for key in FINGERPRINT_TRAINING_KEYS},
        "vocabulary_sha256": file_sha256(vocab_path),
        "training_items": items_total,
    }


def restore_checkpoint(
    ranks, store: CheckpointStore, model, optimizer, generators, data, settings, restart, foreign_checkpoints
) -> Resume:
    """Rank 0 restores the latest complete checkpoint of these settings, if any; every rank learns
    where the run continues (epoch, step, its own dropout and metric state)."""
    decision = _decide_resume(ranks, store, restart, foreign_checkpoints)
    state = decision["state"]
    if state is None:
        return Resume()
    if ranks.is_root:
        store.restore(Path(decision["path"]), model, optimizer)
    resume = Resume(
        path=decision["path"],
        state=state,
        initial_epoch=int(state["epochs_completed"]),
        start_step=int(state.get("step_in_epoch", 0)),
        history=list(state.get("history", [])),
    )
    same_ranks = int(state.get("ranks", 0)) == ranks.size and state.get("steps_per_epoch") == data.steps_per_epoch
    _restore_generators(generators, state, same_ranks, ranks)
    log = get_logger()
    if resume.start_step and not same_ranks:
        log.warning(
            "the checkpoint is %d steps into epoch %d with %s ranks; with %d ranks the epoch's "
            "steps differ: epoch %d starts over",
            resume.start_step,
            resume.initial_epoch + 1,
            state.get("ranks"),
            ranks.size,
            resume.initial_epoch + 1,
        )
        resume.start_step = 0
    if resume.start_step:
        resume.restore_metrics = state["metric_states"][ranks.rank]
    within = f", {resume.start_step} of {data.steps_per_epoch} steps into the next" if resume.start_step else ""
    log.info(
        RESUMING.text(path=resume.path, done=resume.initial_epoch, epochs=settings["training"]["epochs"], within=within)
    )
    return resume


def continue_records(paths: ExperimentPaths, resume: Resume, store: CheckpointStore) -> None:
    """Rank 0: the metrics file holds the epochs up to where the run continues, and the Slurm jobs
    of an abandoned start go aside with its checkpoints."""
    with atomic_open(paths.metrics) as handle:
        for line in resume.history:
            handle.write(json.dumps(line) + "\n")
    if store.started_over:  # the Slurm jobs of the old start go aside with its checkpoints
        job_ledger.start_over(paths, **store.started_over)


def _restore_generators(generators: list, state: dict, same_ranks: bool, ranks) -> None:
    """Each rank's dropout generators continue where they stopped, if the rank layout is the same."""
    saved = state.get("random_generators")
    if generators and saved and same_ranks:
        restore_random_generator_states(generators, saved[ranks.rank])
    elif generators:
        get_logger().info(
            "dropout generators seeded afresh: the checkpoint was written by %s rank(s), this run has %d",
            state.get("ranks"),
            ranks.size,
        )


def _latest_checkpoint(store: CheckpointStore, foreign_checkpoints: str):
    """The checkpoint to continue from; foreign ones are refused, or set aside when asked to."""
    try:
        return store.latest()
    except ForeignCheckpointError as foreign:
        if foreign_checkpoints != "set-aside":
            raise
        aside, own_back = store.set_aside_foreign(foreign)
        differences = fingerprint_differences(foreign.fingerprint, store.fingerprint)
        get_logger().warning(
            "checkpoints of other settings (%s) set aside in %s; %s",
            "; ".join(differences),
            aside,
            "the checkpoints of these settings, set aside earlier, are back" if own_back else "starting from scratch",
        )
        return store.latest()


def _decide_resume(ranks, store: CheckpointStore, restart: bool, foreign_checkpoints: str = "refuse") -> dict:
    """Rank 0 looks for a checkpoint; every rank gets its decision (or its error) by broadcast,
    so that a refused checkpoint stops all ranks instead of leaving them waiting."""
    decision = None
    if ranks.is_root:
        try:
            if restart:
                store.clear()
            info = _latest_checkpoint(store, foreign_checkpoints)
            decision = {"ok": True, "path": str(info.path) if info else None, "state": info.state if info else None}
        except HpcseqError as error:
            decision = {"ok": False, "error": str(error)}
    decision = ranks.collectives.broadcast_object(decision, root_rank=0)
    if not decision["ok"]:
        raise CheckpointError(decision["error"])
    return decision
