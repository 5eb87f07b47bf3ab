"""Troubleshooting switches: memorise one fixed batch, and profile a few training steps."""

from __future__ import annotations

import json
from collections import defaultdict
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
        """Take the first training batch of any datamodule, augmentation included, once."""
        datamodule.prepare_data()
        datamodule.setup("fit")
        return cls(next(iter(datamodule.train_dataloader())), steps)

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


def top_operators(trace: Path, limit: int = 15) -> list[dict[str, Any]]:
    """Operators of a Chrome trace ranked by self time (time not spent in nested operators)."""
    events = json.loads(trace.read_text())
    events = events.get("traceEvents", []) if isinstance(events, dict) else events
    ops = [e for e in events if e.get("ph") == "X" and e.get("cat") in ("cpu_op", "kernel")]
    ops.sort(key=lambda e: (e.get("pid"), e.get("tid"), e["ts"], -e.get("dur", 0)))
    self_us: defaultdict[str, float] = defaultdict(float)
    total_us: defaultdict[str, float] = defaultdict(float)
    calls: defaultdict[str, int] = defaultdict(int)
    stack: list[tuple[Any, float, str]] = []  # (thread, end time, name) of open operators
    for event in ops:
        thread, start, dur = (event.get("pid"), event.get("tid")), event["ts"], event.get("dur", 0)
        while stack and (stack[-1][0] != thread or stack[-1][1] <= start):
            stack.pop()
        if stack:
            self_us[stack[-1][2]] -= dur  # the parent did not spend this time itself
        name = event["name"]
        self_us[name] += dur
        total_us[name] += dur
        calls[name] += 1
        stack.append((thread, start + dur, name))
    ranked = sorted(self_us, key=self_us.__getitem__, reverse=True)[:limit]
    return [
        {"name": n, "self_ms": self_us[n] / 1e3, "total_ms": total_us[n] / 1e3, "calls": calls[n]}
        for n in ranked
    ]


def format_operators(rows: list[dict[str, Any]]) -> str:
    """A plain table of top operators, for the terminal."""
    lines = [f"{'operator (by self time)':<44} {'self ms':>9} {'total ms':>9} {'calls':>6}"]
    lines += [
        f"{r['name'][:44]:<44} {r['self_ms']:>9.2f} {r['total_ms']:>9.2f} {r['calls']:>6}"
        for r in rows
    ]
    return "\n".join(lines)


def report_profile(directory: Path, since: float, run: Any | None, limit: int = 15) -> Path:
    """Print the top operators of the newest trace and log the trace to W&B when a run is live."""
    traces = trace_files(directory, since)
    if not traces:
        raise FileNotFoundError(f"no Chrome trace in {directory}: were there enough steps?")
    trace = traces[-1]
    rank_zero_info(f"Chrome trace: {trace} (open in chrome://tracing or ui.perfetto.dev)")
    print(format_operators(top_operators(trace, limit)), flush=True)
    if run is not None:
        from model_training.tracking import log_files_artifact

        files = {trace.name: trace, **{p.name: p for p in directory.glob("*profile*.txt")}}
        log_files_artifact(run, f"profile-{run.id}", "profile", files)
    return trace
