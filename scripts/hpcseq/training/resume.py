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
from hpcseq.training.run_state import pooled_metric_states, restore_random_generator_states

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
    resumes: list = field(default_factory=list)  # every resume of this training (_resume_record)


def fingerprint_of(settings: dict, vocab_path: Path, items_total: int) -> dict:
    return {
        **_weights_layout(settings["architecture"]),
        "model": settings["model"],
        "architecture": settings["architecture"],
        "hyperparameters": settings["hyperparameters"],
        "training": {key: settings["training"].get(key) for key in FINGERPRINT_TRAINING_KEYS},
        "vocabulary_sha256": file_sha256(vocab_path),
        "training_items": items_total,
    }


def _weights_layout(architecture: dict) -> dict:
    """Where the same settings now build a model with other weights than an earlier hpcseq did,
    the fingerprint says so: a checkpoint written before is then set aside (or refused) as another
    settings' is, rather than failing to load. One-hot inputs were a frozen identity Embedding
    (a weight) until issue 27, the OneHot layer (none) since."""
    return {"weights_layout": "one_hot_layer"} if architecture.get("embedding") == "one_hot" else {}


def geometry_of(size: int, data, rate) -> dict:
    """How a run splits its work: what a resume on another number of ranks keeps or changes."""
    return {
        "ranks": size,
        "batch_size_per_rank": data.batch_size,
        "global_batch_size": data.batch_size * size,
        "learning_rate": rate.scaled,  # after warmup (train.learning_rate)
        "steps_per_epoch": data.steps_per_epoch,
    }


def restore_checkpoint(
    ranks, store: CheckpointStore, model, optimizer, generators, data, settings, restart, foreign_checkpoints, now
) -> Resume:
    """Rank 0 restores the latest complete checkpoint of these settings, if any; every rank learns
    where the run continues (epoch, step, its own dropout and metric state). `now`: this run's
    geometry_of(); the checkpoint's may differ (another number of ranks), see _continue_epoch."""
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
    before = _checkpoint_geometry(state, now)
    _restore_generators(generators, state, before["ranks"] == now["ranks"], ranks)
    started_over = _continue_epoch(resume, state, before, now, ranks.rank)
    resume.resumes = [*state.get("resumes", []), _resume_record(resume, state, before, now, started_over)]
    _log_geometry(before, now)
    within = f", {resume.start_step} of {data.steps_per_epoch} steps into the next" if resume.start_step else ""
    get_logger().info(
        RESUMING.text(path=resume.path, done=resume.initial_epoch, epochs=settings["training"]["epochs"], within=within)
    )
    return resume


def _checkpoint_geometry(state: dict, now: dict) -> dict:
    """The geometry of the run that wrote the checkpoint. Checkpoints written before it was saved
    hold only the ranks and steps: with the same ranks the rest is this run's (the fingerprint
    holds the batch and rate settings), with others it is unknown."""
    if state.get("geometry"):
        return state["geometry"]
    old_ranks = int(state.get("ranks", 0))
    if old_ranks == now["ranks"]:
        return {**now, "steps_per_epoch": state.get("steps_per_epoch")}
    unknown = {"batch_size_per_rank": None, "global_batch_size": None, "learning_rate": None}
    return {**unknown, "ranks": old_ranks, "steps_per_epoch": state.get("steps_per_epoch")}


def _continue_epoch(resume: Resume, state: dict, before: dict, now: dict, rank: int) -> bool:
    """Continue the interrupted epoch at its step when the steps are the same ones: the same steps
    per epoch of the same global batch (on another number of ranks each step draws other items,
    as a batch is a function of the step, the rank and the number of ranks: inputs.py). Else the
    epoch starts over (True). The partial metric sums go to the ranks that continue."""
    if not resume.start_step:
        return False
    same_steps = before["steps_per_epoch"] == now["steps_per_epoch"]
    if not (same_steps and before["global_batch_size"] == now["global_batch_size"]):
        get_logger().warning(
            "the checkpoint is %d steps into epoch %d with %s ranks; with %d ranks the epoch's "
            "steps differ: epoch %d starts over",
            resume.start_step,
            resume.initial_epoch + 1,
            before["ranks"],
            now["ranks"],
            resume.initial_epoch + 1,
        )
        resume.start_step = 0
        return True
    saved = state["metric_states"]
    same_ranks = before["ranks"] == now["ranks"]
    resume.restore_metrics = saved[rank] if same_ranks else pooled_metric_states(saved, now["ranks"])
    return False


def _resume_record(resume: Resume, state: dict, before: dict, now: dict, started_over: bool) -> dict:
    """One entry of the training summary's `resumes`: where, from which geometry to which."""
    return {
        "epochs_completed": resume.initial_epoch,
        "step_in_epoch": int(state.get("step_in_epoch", 0)),
        "epoch_started_over": started_over,
        "from": before,
        "to": now,
        "changed": [key for key in now if before.get(key) != now[key]],
    }


def _log_geometry(before: dict, now: dict) -> None:
    """On another number of ranks: what is kept (global_batch_size set), or a warning with what
    changes (batch_size per rank: the global batch, and with scale_learning_rate the rate)."""
    if before["ranks"] == now["ranks"]:
        return
    kept = all(before[key] == now[key] for key in ("global_batch_size", "learning_rate"))
    if kept:
        get_logger().info(
            "resuming on %d ranks, the checkpoint's run had %d: global batch %d (%d per rank) and "
            "learning rate %g kept",
            now["ranks"],
            before["ranks"],
            now["global_batch_size"],
            now["batch_size_per_rank"],
            now["learning_rate"],
        )
        return
    get_logger().warning(
        "resuming on %d ranks, the checkpoint's run had %d: the global batch changes from %s to %d "
        "and the learning rate from %s to %g (training.batch_size is per rank; set "
        "training.global_batch_size to keep both)",
        now["ranks"],
        before["ranks"],
        before["global_batch_size"],
        now["global_batch_size"],
        before["learning_rate"],
        now["learning_rate"],
    )


def continue_records(paths: ExperimentPaths, resume: Resume, store: CheckpointStore) -> None:
    """Rank 0: the metrics file holds the epochs up to where the run continues, and the Slurm jobs
    of an abandoned start go aside with its checkpoints."""
    with atomic_open(paths.metrics) as handle:
        for line in resume.history:
            handle.write(json.dumps(line) + "\n")
    if store.started_over:  # the Slurm jobs of the old start go aside with its checkpoints
        job_ledger.start_over(paths, **store.started_over)


def _restore_generators(generators: list, state: dict, same_ranks: bool, ranks) -> None:
    """Each rank's dropout generators continue where they stopped, if the ranks are the same."""
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
