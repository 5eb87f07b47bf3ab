"""Issue 16's GPU check: does the decoded-pixel cache keep a GPU fed? One short run.

    python -m bench.gpu_check                    # on a CUDA machine: bf16, channels_last
    python -m bench.gpu_check --accelerator cpu --precision 32-true --steps 3 --count 16 \
        --batch-size 4 --num-workers 0           # the CPU smoke run the test makes

The aiornot preset (configs/aiornot.yaml: resnet18, 256 px native-resolution crops, strong
augmentation) trains on synthetic 512x512 JPEGs from the pixel cache, through the
project's own LightningModule, DataModule and Trainer. Three rates, in images/s over the
same number of steps after a warm-up:

- loader: batches from the cache, moved to the device and made the network's input
  (`bench.loader.images_per_second`, after its one start-up batch);
- model: one such batch kept, training steps repeated (no loading at all);
- both: real training, the loader feeding the model;

and the GPU's utilisation in the "both" run: kernel time over wall time in a window of
steps (torch.profiler's CUDA activity). The lower of loader and model bounds "both".
Writes a JSON report (--out) and prints it.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
import yaml
from torch.utils.data import DataLoader, Dataset

from bench.common import ROOT, machine_info
from bench.loader import images_per_second
from bench.training import make_folder
from model_training.data.config import DataConfig
from model_training.data.datamodule import AiOrNotDataModule
from model_training.lit_module import AiOrNotModule


class StepClock(pl.Callback):
    """Wall time of each finished step after `warmup`, and a profiled window of steps."""

    def __init__(self, warmup: int, profile_steps: int) -> None:
        self.warmup = warmup
        self.profile_steps = profile_steps
        self.images = 0
        self.first: float | None = None
        self.last: float | None = None
        self.profiler: torch.profiler.profile | None = None
        self.window_start = 0.0
        self.window_s = 0.0
        self.kernel_s: float | None = None

    def on_train_batch_end(self, trainer: pl.Trainer, module: Any, outputs: Any, batch: Any,
                           batch_idx: int) -> None:  # fmt: skip
        on_gpu = module.device.type == "cuda"
        if on_gpu:
            torch.cuda.synchronize()  # the step is finished, not only queued
        now = time.perf_counter()
        step = trainer.global_step
        if step == self.warmup:
            self.first = now
            if on_gpu and self.profile_steps:
                self.profiler = torch.profiler.profile(
                    activities=[torch.profiler.ProfilerActivity.CUDA]
                )
                self.profiler.__enter__()
                self.window_start = now
        elif step > self.warmup:
            self.images += len(batch[1])
            self.last = now
        if self.profiler is not None and step == self.warmup + self.profile_steps:
            self.profiler.__exit__(None, None, None)
            self.window_s = now - self.window_start
            self.kernel_s = kernel_seconds(self.profiler)
            self.profiler = None

    def rate(self) -> float:
        if self.first is None or self.last is None or self.last <= self.first:
            return float("nan")
        return self.images / (self.last - self.first)


def kernel_seconds(profiler: torch.profiler.profile) -> float:
    """Device time of the kernels the profiler saw (summed; concurrent streams may overlap)."""
    from torch.autograd import DeviceType

    kernels = [e for e in profiler.key_averages() if e.device_type == DeviceType.CUDA]
    return sum(event.self_device_time_total for event in kernels) / 1e6  # us -> s


class RepeatedBatch(Dataset[Any]):
    """One collated batch, `length` times: the model's rate with loading taken away."""

    def __init__(self, batch: Any, length: int) -> None:
        self.batch, self.length = batch, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Any:
        return self.batch


class OneBatchDataModule(AiOrNotDataModule):
    """The same DataModule (so the same device-side reorientation and normalisation), with a
    training loader that hands out one batch again and again."""

    def __init__(self, batch: Any, length: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fixed = RepeatedBatch(batch, length)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.fixed, batch_size=None, shuffle=False, num_workers=0)


def preset() -> dict[str, Any]:
    """configs/aiornot.yaml, the preset this check is about."""
    return yaml.safe_load((ROOT / "configs" / "aiornot.yaml").read_text())


def datamodule_kwargs(config: dict[str, Any], folder: Path, args: argparse.Namespace) -> dict:
    data = config["data"]
    return {
        "dataset": DataConfig(
            source="folder", path=str(folder), val_fraction=0.0, test_fraction=0.0
        ),
        "crop_size": data["crop_size"],
        "max_grid": data["max_grid"],
        "batch_size": args.batch_size or data["batch_size"],
        "num_workers": data["num_workers"] if args.num_workers is None else args.num_workers,
        "augment": data["augment"],
        "pixel_cache": str(args.work / "pixels"),
    }


def fit(module: AiOrNotModule, datamodule: AiOrNotDataModule, args: argparse.Namespace,
        config: dict[str, Any], clock: StepClock) -> None:  # fmt: skip
    """Training steps as the preset's trainer takes them, timed by `clock`."""
    trainer = pl.Trainer(
        accelerator=args.accelerator,
        devices=1,
        precision=args.precision,
        benchmark=config["benchmark"] and args.accelerator != "cpu",
        gradient_clip_val=config["gradient_clip_val"],
        max_steps=args.warmup + args.steps + 1,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[clock],
        default_root_dir=str(args.work),
    )
    trainer.fit(module, datamodule=datamodule)


def to_device(datamodule: AiOrNotDataModule, device: torch.device) -> Callable[[Any], None]:
    """A batch moved to `device` and made the network's input there, as training does."""

    def move(batch: Any) -> None:
        moved = [part.to(device, non_blocking=True) for part in batch]
        datamodule.on_after_batch_transfer(moved, 0)
        if device.type == "cuda":
            torch.cuda.synchronize()

    return move


def run(args: argparse.Namespace) -> dict[str, Any]:
    config = preset()
    folder = make_folder(args.work / "jpegs", args.count)
    kwargs = datamodule_kwargs(config, folder, args)
    datamodule = AiOrNotDataModule(**kwargs)
    datamodule.prepare_data()
    started = time.perf_counter()
    datamodule.setup("fit")  # the one decoding pass into the cache
    cache_s = time.perf_counter() - started
    device = torch.device("cuda" if args.accelerator in ("gpu", "cuda") else "cpu")
    loader = images_per_second(datamodule, args.steps, each=to_device(datamodule, device))

    one_batch = next(iter(datamodule.train_dataloader()))
    model_clock = StepClock(args.warmup, profile_steps=0)
    fixed = OneBatchDataModule(one_batch, args.warmup + args.steps + 2, **kwargs)
    fit(AiOrNotModule(**config["model"]), fixed, args, config["trainer"], model_clock)

    both_clock = StepClock(args.warmup, profile_steps=min(args.steps, args.profile_steps))
    fit(AiOrNotModule(**config["model"]), datamodule, args, config["trainer"], both_clock)
    rates = {"loader": loader, "model": model_clock.rate(), "both": both_clock.rate()}
    utilisation = (
        min(1.0, both_clock.kernel_s / both_clock.window_s)
        if both_clock.kernel_s is not None and both_clock.window_s > 0
        else None
    )
    return {
        "info": machine_info(),
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
        "precision": args.precision,
        "channels_last": config["model"]["channels_last"] and device.type == "cuda",
        "images": args.count,
        "batch_size": kwargs["batch_size"],
        "num_workers": kwargs["num_workers"],
        "steps": args.steps,
        "cache_build_s": cache_s,
        "images_per_s": rates,
        "gpu_utilisation": utilisation,
        "bound_by": "loader" if rates["loader"] < rates["model"] else "model",
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accelerator", default="gpu", help="gpu (CUDA) or cpu")
    parser.add_argument("--precision", default=None, help="default: the preset's (bf16-mixed)")
    parser.add_argument("--steps", type=int, default=300, help="timed steps per rate")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps first")
    parser.add_argument("--profile-steps", type=int, default=50, help="profiled window")
    parser.add_argument("--count", type=int, default=2048, help="synthetic 512x512 JPEGs")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the preset's")
    parser.add_argument("--num-workers", type=int, default=None, help="default: the preset's")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "gpu-check.json")
    args = parser.parse_args(argv)
    args.precision = args.precision or preset()["trainer"]["precision"]
    with tempfile.TemporaryDirectory() as tmp:
        args.work = Path(tmp)
        result = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
