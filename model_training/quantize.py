"""An int8 variant by static QDQ quantization, kept only if it barely costs accuracy, and
served only if it is faster."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from lambda_fn.ort_session import cpu_model
from lambda_fn.stem import InputSpec, prepare
from model_training.calibration import calibrated_probs
from model_training.onnx_export import open_session, serving_logits

INT8_NAME = "model.int8.onnx"
MAX_ACCURACY_DROP_POINTS = 0.5
MIN_SPEEDUP = 1.1  # int8 serves only if at least this much faster than fp32 on this CPU
CALIBRATION_BATCH = 16


class ArrayReader(CalibrationDataReader):
    """Feeds the stem's crops of training images to the calibrator in small batches."""

    def __init__(self, images: np.ndarray, batch_size: int = CALIBRATION_BATCH) -> None:
        self._batches: Iterator[np.ndarray] = iter(
            [images[i : i + batch_size] for i in range(0, len(images), batch_size)]
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        return None if batch is None else {"image": np.ascontiguousarray(batch, np.float32)}


def quantize_int8(fp32_path: Path, out_path: Path, calibration_images: np.ndarray) -> None:
    """Static QDQ: uint8 activations, per-channel int8 weights, min/max calibration.

    U8S8 QDQ is the format ONNX Runtime's CPU kernels run fastest on x86-64.
    """
    with tempfile.TemporaryDirectory() as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(out_path),
            ArrayReader(calibration_images),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )


def keep_int8(fp32_accuracy: float, int8_accuracy: float) -> tuple[bool, float]:
    """(keep?, drop in percentage points): kept only if the drop is at most 0.5 points."""
    drop = round((fp32_accuracy - int8_accuracy) * 100, 6)
    return drop <= MAX_ACCURACY_DROP_POINTS, drop


def _accuracy(path: Path, records: Sequence[Any], spec: InputSpec, t: float, cut: float) -> float:
    """Validation accuracy of one graph through the serving path, at the bundle's T and cut."""
    labels = np.array([r.label for r in records])
    probs = calibrated_probs(serving_logits(open_session(path), records, spec), t)
    return float(((probs >= cut).astype(int) == labels).mean()) if len(labels) else 0.0


def build_int8_variant(
    directory: Path,
    train_records: Sequence[Any],
    spec: InputSpec,
    val_records: Sequence[Any],
    temperature: float,
    threshold: float,
    n_calibration: int = 128,
    seed: int = 0,
) -> dict[str, Any]:
    """Quantize `model.onnx` beside itself; delete the result unless it passes the accuracy bar.

    Calibrated on the serving grid's crops of training images, judged on validation accuracy
    through the serving path at the bundle's own temperature and threshold.
    """
    rng = np.random.default_rng(seed)
    picked = sorted(rng.choice(len(train_records), min(n_calibration, len(train_records)), False))
    calibration = np.concatenate(
        [prepare(train_records[i].read_bytes(), spec).crops for i in picked]
    )
    fp32_path, int8_path = directory / "model.onnx", directory / INT8_NAME
    quantize_int8(fp32_path, int8_path, calibration)
    fp32 = _accuracy(fp32_path, val_records, spec, temperature, threshold)
    int8 = _accuracy(int8_path, val_records, spec, temperature, threshold)
    keep, drop = keep_int8(fp32, int8)
    report = {
        "split": "val",
        "n": len(val_records),
        "fp32_accuracy": fp32,
        "int8_accuracy": int8,
        "drop_points": drop,
        "max_drop_points": MAX_ACCURACY_DROP_POINTS,
        "kept": keep,
        "calibration_images": len(picked),
        "method": "static QDQ, uint8 activations, per-channel int8 weights, MinMax",
        "fp32_bytes": fp32_path.stat().st_size,
        "int8_bytes": int8_path.stat().st_size,
    }
    if not keep:
        int8_path.unlink()
    return report


def speed_check(
    fp32: ort.InferenceSession,
    int8_path: Path,
    spec: InputSpec,
    *,
    min_speedup: float,
    rounds: int = 9,
) -> dict[str, Any]:
    """Both graphs timed, interleaved, on the full serving grid (what a 512 px upload sends).

    int8 is faster only where the CPU's int8 kernels beat its fp32 ones by more than the
    quantize/dequantize reorders cost: resnet18 ran 1.9-3.4x faster on the two CPUs measured
    (docs/BENCHMARKS.md), the tiny preset 0.7-1.4x, often slower, as served. This machine's
    CPU stands in for the server's; `MODEL_VARIANT` overrides the choice there.
    """
    crops = np.random.default_rng(0).standard_normal(
        (spec.max_grid**2, 3, spec.crop_size, spec.crop_size), dtype=np.float32
    )
    sessions = {"fp32": fp32, "int8": open_session(int8_path)}  # both from open_session
    times: dict[str, list[float]] = {name: [] for name in sessions}
    for round_ in range(rounds + 2):  # two untimed rounds first
        for name, session in sessions.items():
            started = time.perf_counter()
            session.run(["logit"], {"image": crops})
            if round_ >= 2:
                times[name].append((time.perf_counter() - started) * 1000)
    fp32_ms, int8_ms = (statistics.median(times[name]) for name in ("fp32", "int8"))
    speedup = fp32_ms / int8_ms
    return {
        "crops": len(crops),
        "fp32_ms": round(fp32_ms, 3),
        "int8_ms": round(int8_ms, 3),
        "speedup": round(speedup, 3),
        "min_speedup": min_speedup,
        "faster": speedup >= min_speedup,
        "cpu": cpu_model(),
    }
