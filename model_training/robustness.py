"""How the model does on what users upload: by size, JPEG quality, resizing, and web/hard tiers.

One report, computed the same way by `evaluate` (torch, the checkpoint) and `export` (ONNX
Runtime through the serving path, which gates the bundle on it). Conditions are read from
the files themselves (size, JPEG quality), so any source can be broken down; "resized after
generation" is known only where the source says so (the demo does).
The tiers follow deployed detectors' practice: clean (the file as it is), web (longer side
at most 768 px, JPEG quality 60) and hard (at most 512 px, JPEG quality 40), as images
look after a trip through social media.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import numpy as np
from PIL import Image

from lambda_fn.image_contract import decode_image
from model_training.calibration import binary_metrics
from model_training.data.records import ImageRecord

SIZE_BUCKETS: tuple[tuple[str, int, int], ...] = (
    ("<=96", 0, 96),
    ("97-256", 97, 256),
    ("257-512", 257, 512),
    (">512", 513, 10**9),
)
QUALITY_BUCKETS = ("none_or_>=90", "70-89", "<70")  # none: not a JPEG (lossless or other)
TIERS: dict[str, tuple[int, int] | None] = {"clean": None, "web": (768, 60), "hard": (512, 40)}
GATE_QUALITY = ("none_or_>=90", "70-89")  # "at JPEG >= 70": the size buckets' gate subset

Scorer = Callable[[bytes], float]  # encoded image -> calibrated AI probability


def size_bucket(width: int, height: int) -> str:
    """The bucket of an image's longer side."""
    side = max(width, height)
    return next(name for name, lo, hi in SIZE_BUCKETS if lo <= side <= hi)


def quality_bucket(data: bytes) -> str:
    """JPEG quality estimated from the file's quantization tables; other formats count as none."""
    quality = jpeg_quality(data)
    if quality is None or quality >= 90:
        return QUALITY_BUCKETS[0]
    return QUALITY_BUCKETS[1] if quality >= 70 else QUALITY_BUCKETS[2]


def jpeg_quality(data: bytes) -> int | None:
    """The libjpeg quality whose luminance table is closest to the file's (None if not JPEG)."""
    with Image.open(io.BytesIO(data)) as image:
        tables = getattr(image, "quantization", None) if image.format == "JPEG" else None
    if not tables:
        return None
    luminance = np.asarray(tables[0], dtype=np.float64)
    errors = [np.abs(luminance - reference).sum() for reference in _reference_tables()]
    return int(np.argmin(errors)) + 1


@cache
def _reference_tables() -> tuple[np.ndarray, ...]:
    """Pillow's own luminance table at every quality 1-100, in the order it stores them."""
    tables = []
    for quality in range(1, 101):
        buffer = io.BytesIO()
        Image.new("RGB", (8, 8)).save(buffer, format="JPEG", quality=quality)
        with Image.open(buffer) as image:
            tables.append(np.asarray(image.quantization[0], dtype=np.float64))  # type: ignore[attr-defined]
    return tuple(tables)


def degrade(data: bytes, max_side: int, quality: int) -> bytes:
    """A tier's treatment: downscale to fit `max_side` (only if larger), re-encode as JPEG."""
    image = decode_image(data)
    scale = max_side / max(image.size)
    if scale < 1:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def robustness_report(
    score: Scorer,
    records: Sequence[ImageRecord],
    threshold: float,
    clean_probs: np.ndarray | None = None,
) -> dict[str, Any]:
    """Metrics per tier, and on clean files per size bucket, JPEG quality and resizing.

    `clean_probs`: the records' calibrated probabilities as they are, when the caller has
    already scored them (the test split's metrics), so the clean tier is not inferred twice.
    """
    labels = np.array([record.label for record in records])
    originals = [record.read_bytes() for record in records]
    tiers: dict[str, dict[str, Any]] = {}
    for tier, treatment in TIERS.items():
        if treatment is None:
            probs = np.array([score(d) for d in originals]) if clean_probs is None else clean_probs
            clean_probs = probs
        else:
            probs = np.array([score(degrade(data, *treatment)) for data in originals])
        tiers[tier] = _metrics(probs, labels, threshold)
    assert clean_probs is not None
    sizes = [size_bucket(*Image.open(io.BytesIO(data)).size) for data in originals]
    qualities = [quality_bucket(data) for data in originals]
    resized = [_resized_name(record) for record in records]
    gate = np.array([q in GATE_QUALITY for q in qualities])
    return {
        "n": len(records),
        "threshold": threshold,
        "tiers": tiers,
        "size": _by(sizes, [b[0] for b in SIZE_BUCKETS], clean_probs, labels, threshold),
        "jpeg_quality": _by(qualities, QUALITY_BUCKETS, clean_probs, labels, threshold),
        "resized_after_generation": _by(resized, ("no", "yes"), clean_probs, labels, threshold),
        "size_at_jpeg_70_or_better": _by(
            [s for s, keep in zip(sizes, gate, strict=True) if keep],
            [b[0] for b in SIZE_BUCKETS],
            clean_probs[gate],
            labels[gate],
            threshold,
        ),
    }


def _resized_name(record: ImageRecord) -> str:
    return {True: "yes", False: "no", None: "unknown"}[record.resized_after]


def _by(
    keys: Sequence[str],
    order: Sequence[str],
    probs: np.ndarray,
    labels: np.ndarray,
    threshold: float,
) -> dict[str, dict[str, Any]]:
    """Metrics of each group that has members, in the given order."""
    keys_array = np.array(keys, dtype=object)
    return {
        name: _metrics(probs[keys_array == name], labels[keys_array == name], threshold)
        for name in order
        if (keys_array == name).any()
    }


def _metrics(probs: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, Any]:
    full = binary_metrics(probs, labels, threshold)
    return {key: full[key] for key in ("accuracy", "auroc", "log_loss", "n")}


def clean_accuracy(report: dict[str, Any]) -> float:
    return float(report["tiers"]["clean"]["accuracy"])


def render(report: dict[str, Any]) -> str:
    """The report as a plain-text table, for terminals and logs."""
    lines = [f"robustness on {report['n']} held-out images (threshold {report['threshold']:.3f})"]
    sections = (
        ("tier", report["tiers"]),
        ("size (longer side)", report["size"]),
        ("size, JPEG >= 70", report["size_at_jpeg_70_or_better"]),
        ("JPEG quality", report["jpeg_quality"]),
        ("resized after generation", report["resized_after_generation"]),
    )
    for title, groups in sections:
        for name, values in groups.items():
            auroc = "  n/a" if values["auroc"] is None else f"{values['auroc']:.3f}"
            lines.append(
                f"  {title:26s} {name:14s} n={values['n']:5d}  accuracy {values['accuracy']:.3f}"
                f"  auroc {auroc}  log loss {values['log_loss']:.3f}"
            )
    return "\n".join(lines)
