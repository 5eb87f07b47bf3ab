"""Measure the training loader alone, in images per second (no model, no GPU).

    python -m bench.loader --preset demo
    python -m bench.loader --preset synthetic --crop-size 256 --num-workers 2

`synthetic` writes 512x512 JPEGs (a stand-in for full-size photos) to a temporary
folder. Every image is decoded at full size and cropped at native resolution (issue 12's
contract); `--pixel-cache` decodes once into a cache and then only crops, to see what that
saves.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from model_training.data.config import DataConfig
from model_training.data.datamodule import AiOrNotDataModule


def write_synthetic_jpegs(root: Path, count: int, side: int = 512, seed: int = 0) -> Path:
    """Photo-like JPEGs (smooth structure plus grain) under root/real and root/ai."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        coarse = rng.integers(0, 256, size=(side // 32, side // 32, 3), dtype=np.uint8)
        base = np.asarray(Image.fromarray(coarse).resize((side, side), Image.Resampling.BICUBIC))
        grain = rng.normal(0.0, 8.0, size=base.shape)
        pixels = np.clip(base + grain, 0, 255).astype(np.uint8)
        folder = root / ("ai" if i % 2 else "real")
        folder.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
        (folder / f"{i:05d}.jpg").write_bytes(buffer.getvalue())
    return root


def images_per_second(
    datamodule: AiOrNotDataModule, batches: int, each: Callable[[Any], None] | None = None
) -> float:
    """Time `batches` training batches after the first (which pays for worker start-up);
    `each`, if given, is done to every batch inside the timing (e.g. the move to a GPU)."""
    datamodule.prepare_data()
    datamodule.setup("fit")
    loader = datamodule.train_dataloader()
    seen, started, epoch = 0, 0.0, 0
    while True:
        loader.sampler.set_epoch(epoch)  # type: ignore[attr-defined]
        for batch in loader:
            if each is not None:
                each(batch)
            if not started:
                started = time.perf_counter()
                continue
            seen += len(batch[0])
            batches -= 1
            if batches == 0:
                return seen / (time.perf_counter() - started)
        epoch += 1


def machine() -> str:
    """The CPU model and count, as lscpu reports them."""
    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        info = dict(line.split(":", 1) for line in lines.splitlines() if ":" in line)
        return f"{info['Model name'].strip()}, {info['CPU(s)'].strip()} CPUs"
    except (OSError, KeyError, subprocess.CalledProcessError):
        return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=("demo", "synthetic"), default="demo")
    parser.add_argument("--crop-size", type=int, default=None, help="default: 64 demo, 256 synth")
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--augment", choices=("none", "light", "strong"), default="light")
    parser.add_argument("--count", type=int, default=512, help="synthetic images to write")
    parser.add_argument("--pixel-cache", action="store_true", help="decode once, then crop")
    args = parser.parse_args(argv)
    size = args.crop_size or (64 if args.preset == "demo" else 256)
    common = {"crop_size": size, "batch_size": args.batch_size, "augment": args.augment}
    common["num_workers"] = args.num_workers
    splits = {"val_fraction": 0.0, "test_fraction": 0.0}
    with tempfile.TemporaryDirectory() as tmp:
        if args.pixel_cache:
            common["pixel_cache"] = str(Path(tmp) / "pixels")
        if args.preset == "demo":
            datamodule = AiOrNotDataModule(DataConfig(source="demo", **splits), **common)
        else:
            folder = write_synthetic_jpegs(Path(tmp), args.count)
            folder_config = DataConfig(source="folder", path=str(folder), **splits)
            datamodule = AiOrNotDataModule(folder_config, **common)
        rate = images_per_second(datamodule, args.batches)
    result = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": machine(),
        "preset": args.preset,
        "crop_size": size,
        "num_workers": args.num_workers,
        "batch_size": args.batch_size,
        "augment": args.augment,
        "pixel_cache": args.pixel_cache,
        "images_per_second": round(rate, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
