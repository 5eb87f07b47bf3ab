"""Shared pieces: timing statistics, the machine's description, random-weight bundles, images."""

from __future__ import annotations

import io
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["onnxruntime", "torch", "numpy", "pillow", "fastapi", "uvicorn", "lightning"]


@dataclass(frozen=True)
class Preset:
    """A model to measure: the training preset, its crop side and its serving grid cap."""

    name: str
    preset: str
    size: int  # crop side (configs' data.crop_size)
    max_grid: int  # configs' data.max_grid
    resize_size: int  # the input side of the old resize-then-centre-crop contract


DEMO = Preset("demo", "tiny", 64, 4, 64)  # configs/demo.yaml
AIORNOT = Preset("aiornot", "resnet18", 256, 2, 224)  # configs/aiornot.yaml


def time_calls(fn: Callable[[], Any], repeats: int, warmup: int = 2) -> list[float]:
    """Wall seconds of each of `repeats` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def median_ms(seconds: list[float]) -> float:
    return statistics.median(seconds) * 1000


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def machine_info() -> dict[str, Any]:
    """What a reader needs to judge the numbers: CPU, cores, load, versions."""
    from lambda_fn.ort_session import cpu_model

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "-"
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": cpu_model(),
        "arch": platform.machine(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "versions": versions,
        "load_start": os.getloadavg(),
        "blas_env": {k: v for k, v in os.environ.items() if "BLAS" in k or k.startswith("OMP_")},
    }


def export_bundle(directory: Path, preset: Preset, seed: int = 0, *, int8: bool = False) -> Path:
    """A random-weight model of `preset` as a real bundle (latency does not depend on weights);
    with `int8`, its static int8 graph too, named the serving variant as an export that kept
    it would name it."""
    import torch

    from lambda_fn.stem import InputSpec
    from model_training.bundle_writer import write_manifest
    from model_training.models.resnet import build_resnet
    from model_training.onnx_export import export_onnx

    if (directory / "model.json").is_file():
        return directory
    torch.manual_seed(seed)
    net = build_resnet(preset.preset).eval()
    directory.mkdir(parents=True, exist_ok=True)
    outputs = export_onnx(net, directory / "model.onnx", preset.size, dynamo=False)
    torch.save(net.state_dict(), directory / "weights.pt")
    variants = {"int8": {"file": quantize(directory, preset.size, 16).name}} if int8 else {}
    write_manifest(
        directory,
        name=f"bench-{preset.preset}",
        input_spec=InputSpec(crop_size=preset.size, max_grid=preset.max_grid),
        outputs=outputs,
        calibration={"temperature": 1.0},
        threshold=0.5,
        metrics={"test": {"accuracy": 0.5}},
        lineage={"git_commit": None, "wandb_run": None, "dataset": "none", "split": None},
        variants=variants,
        serving_variant="int8" if int8 else "fp32",
    )
    return directory


def quantize(bundle: Path, size: int, n_calibration: int) -> Path:
    """The project's static QDQ int8 (model_training.quantize), calibrated on photo crops."""
    from lambda_fn.stem import InputSpec, prepare
    from model_training.quantize import quantize_int8

    out = bundle / "model.int8.onnx"
    if not out.is_file():
        spec = InputSpec(crop_size=size, max_grid=1)
        images = np.concatenate(
            [
                prepare(jpeg((size + 32, size + 32), seed=i), spec).crops
                for i in range(n_calibration)
            ]
        )
        quantize_int8(bundle / "model.onnx", out, images)
    return out


def jpeg(size: tuple[int, int], quality: int = 90, seed: int = 0) -> bytes:
    """A photo-like JPEG: a real skimage photo resized to `size` plus a little noise."""
    from skimage import data

    photo = Image.fromarray(data.astronaut()).resize(size, Image.Resampling.BICUBIC)
    pixels = np.asarray(photo, dtype=np.int16)
    noise = np.random.default_rng(seed).integers(-6, 7, pixels.shape, dtype=np.int16)
    image = Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def big_photo(max_bytes: int = 4 * 1024 * 1024 - 64 * 1024) -> bytes:
    """The largest photo-like JPEG (quality 95) that fits under the 4 MiB limit: ~4 MB."""
    side, data = 4000, b""
    while side > 512:
        data = jpeg((side, side * 3 // 4), quality=95)
        if len(data) <= max_bytes:
            return data
        side = int(side * 0.92)
    return data


def run_python(code: str, env: dict[str, str], timeout: float = 300) -> str:
    """Run `code` in a fresh interpreter with exactly `env`; return its stdout."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"subprocess failed:\n{result.stderr[-3000:]}")
    return result.stdout
