"""Troubleshooting switches: memorise one fixed batch, and profile a few training steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_info
from torch.utils.data import DataLoader, Dataset

from model_training.data.dataset import Batch


class _RepeatedBatch(Dataset[Batch]):
    def __init__(self, batch: Batch, times: int) -> None:
        self.batch = batch
        self.times = times

    def __len__(self) -> int:
        return self.times

    def __getitem__(self, index: int) -> Batch:
        return self.batch


class FixedBatchDataModule(pl.LightningDataModule):
    """Serves the same batch `steps` times: a model that cannot memorise it has a bug."""

    def __init__(self, batch: Batch, steps: int) -> None:
        super().__init__()
        self.batch = (batch[0].clone(), batch[1].clone(), batch[2].clone())
        self.steps = steps

    @classmethod
    def from_datamodule(
        cls, datamodule: pl.LightningDataModule, steps: int
    ) -> FixedBatchDataModule:
        """Take the first training batch of any datamodule, augmentation included, once, as
        the network receives it (after the datamodule's own on-device step)."""
        datamodule.prepare_data()
        datamodule.setup("fit")
        batch = next(iter(datamodule.train_dataloader()))
        return cls(datamodule.on_after_batch_transfer(batch, 0), steps)

    def train_dataloader(self) -> DataLoader[Batch]:
        return DataLoader(_RepeatedBatch(self.batch, self.steps), batch_size=None)


class MemorizationCheck(Callback):
    """Stop as soon as the training loss drops below `threshold`; remember the step."""

    def __init__(self, threshold: float = 0.05) -> None:
        self.threshold = threshold
        self.reached_at: int | None = None
        self.last_loss: float = float("nan")

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, idx: int
    ) -> None:
        self.last_loss = float(outputs["loss"])
        if self.reached_at is None and self.last_loss < self.threshold:
            self.reached_at = trainer.global_step
            trainer.should_stop = True

    def report(self) -> str:
        if self.reached_at is None:
            return (
                f"memorization FAILED: loss {self.last_loss:.4f} >= {self.threshold} at the bound"
            )
        return f"memorized one batch in {self.reached_at} steps (loss {self.last_loss:.4f})"


def trace_files(directory: Path, since: float = 0.0) -> list[Path]:
    """Chrome traces the PyTorch profiler wrote into `directory` after `since` (epoch seconds)."""
    found = [p for p in directory.glob("*.pt.trace.json") if p.stat().st_mtime >= since]
    return sorted(found, key=lambda p: p.stat().st_mtime)


def report_profile(directory: Path, since: float, run: Any | None, events: Any | None) -> Path:
    """Print the profiler's own operator table ranked by self CPU time (time not spent in
    nested operators) and log the trace and Lightning's saved tables to W&B when a run is live.

    `events`: the profiled `torch.autograd.profiler_util.EventList` (Lightning's
    `PyTorchProfiler.function_events`), whose `key_averages().table()` makes the table.
    """
    traces = trace_files(directory, since)
    if not traces:
        raise FileNotFoundError(f"no Chrome trace in {directory}: were there enough steps?")
    trace = traces[-1]
    rank_zero_info(f"Chrome trace: {trace} (open in chrome://tracing or ui.perfetto.dev)")
    if events:
        print(events.key_averages().table(sort_by="self_cpu_time_total", row_limit=15), flush=True)
    if run is not None:
        from model_training.tracking import log_files_artifact

        tables = [p for p in directory.glob("*profile*.txt") if p.stat().st_mtime >= since]
        files = {trace.name: trace, **{p.name: p for p in tables}}
        log_files_artifact(run, f"profile-{run.id}", "profile", files)
    return trace
