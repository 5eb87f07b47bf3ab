"""A Lightning callback the training-fault tests inject through the real CLI's config."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import lightning.pytorch as pl


class CorruptFilesAtStep(pl.Callback):
    """At global step `step`, overwrite every image in `victims` (a file listing paths) with
    garbage and delete every second one: files going bad in the middle of an epoch."""

    def __init__(self, victims: str, step: int = 2) -> None:
        self.victims = Path(victims)
        self.step = step
        self.done = False

    def on_train_batch_end(self, trainer: pl.Trainer, *args: object) -> None:
        if self.done or trainer.global_step < self.step:
            return
        for i, line in enumerate(self.victims.read_text().split()):
            path = Path(line)
            if i % 2:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG any more")
        self.done = True


class KillAtStep(pl.Callback):
    """SIGKILL its own process once training reaches global step `step`: a hard kill that
    lands mid-epoch every time, however fast the machine (a kill from outside can race)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: pl.Trainer, *args: object) -> None:
        if trainer.global_step >= self.step:
            os.kill(os.getpid(), signal.SIGKILL)
