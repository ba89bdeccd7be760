"""Stopping on a signal: Slurm sends SIGUSR1 before the time limit (`--signal=USR1@120`) and
SIGTERM when it cancels or preempts a job. The handler only sets a flag; after the current step
every rank learns, through one small allreduce (callbacks.StepGuard), whether any rank was
signalled, so all ranks stop at the same step; rank 0 writes the checkpoint and all exit with
REQUEUE_EXIT_CODE (SIGUSR1: requeue me) or TERMINATED_EXIT_CODE (SIGTERM).
"""

from __future__ import annotations

import os
import signal

from hpcseq.errors import REQUEUE_EXIT_CODE, TERMINATED_EXIT_CODE, HpcseqError
from hpcseq.events import STOPPED_ON_SIGNAL, get_logger


class TrainingInterrupted(HpcseqError):
    """Training stopped on a signal after writing a checkpoint; a rerun continues from it."""

    def __init__(self, signal_number: int, checkpoint: str | None):
        self.exit_code = REQUEUE_EXIT_CODE if signal_number == signal.SIGUSR1 else TERMINATED_EXIT_CODE
        name = signal.Signals(signal_number).name
        super().__init__(STOPPED_ON_SIGNAL.text(signal=name, checkpoint=checkpoint, code=self.exit_code))


class Interruptions:
    """Records SIGUSR1/SIGTERM; the training loop acts on it between steps."""

    def __init__(self):
        self.signal_number = 0

    def install(self) -> None:
        for signal_number in (signal.SIGUSR1, signal.SIGTERM):
            signal.signal(signal_number, self._handle)
        if os.environ.get("HPCSEQ_TIME_LIMIT_WARNING") == "1" and not self.signal_number:
            # the job script got Slurm's warning before training started: checkpoint after the first steps
            get_logger().warning("the time-limit warning arrived before training started")
            self.signal_number = signal.SIGUSR1

    def _handle(self, signal_number, frame) -> None:
        if not self.signal_number:
            get_logger().warning(
                "received %s: will checkpoint after the current step and stop", signal.Signals(signal_number).name
            )
        self.signal_number = signal_number


# One per process: the command line installs it before TensorFlow is even imported, so a signal
# that arrives while the job is still starting is not lost (SIGUSR1 would otherwise kill it).
INTERRUPTIONS = Interruptions()
