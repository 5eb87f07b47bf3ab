"""Training throughput on CPU: the data loader alone, the model step alone, and both together."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from bench.common import AIORNOT, Preset, jpeg


def make_folder(root: Path, n: int) -> Path:
    """`n` synthetic 512x512 photo-like JPEGs, half in real/ and half in ai/."""
    for label in ("real", "ai"):
        (root / label).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        path = root / ("real" if i % 2 else "ai") / f"{i:04d}.jpg"
        if not path.is_file():
            path.write_bytes(jpeg((512, 512), seed=i))
    return root


def _rate(images: int, seconds: float) -> float:
    return images / seconds if seconds > 0 else float("nan")


def measure(preset: Preset, work: Path, *, n_images: int, batch: int, steps: int) -> dict[str, Any]:
    """Images/s for each of: loader (decode+augment+collate), model (fwd+bwd+AdamW), both."""
    import torch

    from model_training.data import AiOrNotDataModule
    from model_training.data.config import DataConfig
    from model_training.models.resnet import build_resnet

    # One thread: on this shared 2-core machine two torch threads ran a step ~3x slower
    # (other engineers' work competes for the second core; intra-op threads wait on it).
    torch.set_num_threads(1)
    folder = make_folder(work / "train-jpegs", n_images)
    dm = AiOrNotDataModule(
        DataConfig(source="folder", path=str(folder), val_fraction=0.1, test_fraction=0.1),
        crop_size=preset.size,
        max_grid=preset.max_grid,
        batch_size=batch,
        num_workers=0,
        augment="light",
    )
    dm.prepare_data()
    dm.setup("fit")
    net = build_resnet(preset.preset).train()
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss_fn(net(x), y).backward()
        optimizer.step()

    def batches(limit: int) -> Any:
        seen = 0
        while seen < limit:
            for batch in dm.train_dataloader():  # one native-resolution crop per image
                x, y, _ = dm.on_after_batch_transfer(batch, 0)  # as the network receives it
                yield x, y
                seen += 1
                if seen >= limit:
                    return

    for _ in range(2):  # warm-up: first steps allocate optimizer state and autograd buffers
        step(torch.randn(batch, 3, preset.size, preset.size), torch.ones(batch))
    start, count = time.perf_counter(), 0
    for x, _ in batches(steps):
        count += len(x)
    loader = _rate(count, time.perf_counter() - start)
    x, y = torch.randn(batch, 3, preset.size, preset.size), (torch.rand(batch) > 0.5).float()
    start = time.perf_counter()
    for _ in range(steps):
        step(x, y)
    model = _rate(batch * steps, time.perf_counter() - start)
    start, count = time.perf_counter(), 0
    for x, y in batches(steps):
        step(x, y.float())
        count += len(x)
    both = _rate(count, time.perf_counter() - start)
    return {
        "preset": preset.name,
        "model": f"{preset.preset} {preset.size}px",
        "batch": batch,
        "steps": steps,
        "threads": torch.get_num_threads(),
        "loader": loader,
        "model_step": model,
        "both": both,
        "bound": "loader" if loader < model else "model",
    }


def measure_pixel_cache(
    work: Path, *, n_images: int, batches: int, batch: int, workers: int = 2, repeats: int = 3
) -> dict[str, Any]:
    """Issue 16's loader figure: the aiornot preset's input pipeline (256 px native crops,
    strong augmentation, `workers` processes) on synthetic 512x512 JPEGs, images/s with every
    epoch decoding vs after the first epoch has filled the decoded-pixel cache; the median
    of `repeats` timings of each, interleaved, since one timing lasts about a second and
    the neighbours' load moves it by half."""
    from bench.loader import images_per_second
    from model_training.data import AiOrNotDataModule
    from model_training.data.config import DataConfig

    folder = make_folder(work / "loader-jpegs", n_images)
    config = DataConfig(source="folder", path=str(folder), val_fraction=0.0, test_fraction=0.0)
    common = {"crop_size": AIORNOT.size, "batch_size": batch, "num_workers": workers}
    datamodules, setup_s = {}, {}
    for name, cache in (("decode", None), ("cache", str(work / "pixel-cache"))):
        dm = AiOrNotDataModule(config, augment="strong", pixel_cache=cache, **common)
        started = time.perf_counter()
        dm.prepare_data()
        dm.setup("fit")  # with a cache: the one decoding pass, what the first epoch pays
        setup_s[name] = time.perf_counter() - started
        datamodules[name] = dm
    rates: dict[str, list[float]] = {name: [] for name in datamodules}
    for _ in range(repeats):
        for name, dm in datamodules.items():
            rates[name].append(images_per_second(dm, batches))
    decode, cache = (statistics.median(rates[name]) for name in ("decode", "cache"))
    return {
        "cache_build_s": setup_s["cache"],
        "images": n_images,
        "batch": batch,
        "batches": batches,
        "workers": workers,
        "repeats": repeats,
        "decode": decode,
        "cache": cache,
        "decode_range": [min(rates["decode"]), max(rates["decode"])],
        "cache_range": [min(rates["cache"]), max(rates["cache"])],
        "ratio": cache / decode,
    }
