"""Torch -> ONNX, and the parity gate that proves the served graph is the trained model.

The gate runs the same held-out files two ways: through torch with the training
pipeline's evaluation batches (the DataModule's test loader: the stem's crops, averaged per
image), and through ONNX Runtime with the server's own code (`lambda_fn.predictor.infer`).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from scipy.special import expit
from torch import nn

from lambda_fn.image_contract import DEFAULT_MAX_PIXELS
from lambda_fn.predictor import infer
from lambda_fn.stem import InputSpec
from model_training.evaluate import torch_logits
from model_training.models.resnet import ResNet

OPSET = 18
PARITY_TOLERANCE = 1e-4
MAX_BATCH = 4096


class ParityError(RuntimeError):
    """Torch and ONNX Runtime disagree on some files: the export must not ship."""


class _WithCam(nn.Module):
    """The exported signature: image -> (logit (N,), cam (N, h, w))."""

    def __init__(self, net: ResNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net.forward_with_cam(image)


def export_onnx(net: ResNet, path: Path, size: int, *, dynamo: bool = True) -> list[dict[str, Any]]:
    """Write a checked, dynamic-batch ONNX graph; return its outputs' names and shapes.

    `dynamo=False` uses the TorchScript exporter: the same graph for this network, about
    5x faster to make, which tests and benchmarks of random-weight models rely on.
    """
    wrapper = _WithCam(net).eval()  # a fresh wrapper is in train mode; export would keep it
    example = torch.zeros(2, 3, size, size)
    with torch.no_grad():
        _, cam = wrapper(example)
    if dynamo:
        batch = torch.export.Dim("N", min=1, max=MAX_BATCH)
        shapes: dict[str, Any] = {"dynamic_shapes": {"image": {0: batch}}, "external_data": False}
    else:
        axes = {"image": {0: "N"}, "logit": {0: "N"}, "cam": {0: "N"}}
        shapes = {"dynamic_axes": axes}
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporters' deprecation and tracing chatter
        torch.onnx.export(
            wrapper,
            (example,),
            str(path),
            input_names=["image"],
            output_names=["logit", "cam"],
            opset_version=OPSET,
            dynamo=dynamo,
            verbose=False,
            **shapes,
        )
    onnx.checker.check_model(str(path), full_check=True)
    h, w = cam.shape[1:]
    return [{"name": "logit", "shape": ["N"]}, {"name": "cam", "shape": ["N", int(h), int(w)]}]


def open_session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def serving_logits(
    session: ort.InferenceSession, records: Sequence[Any], spec: InputSpec
) -> np.ndarray:
    """Each record's image logit as the server computes it (before calibration)."""
    logits = [
        infer(session, r.read_bytes(), spec, max_pixels=DEFAULT_MAX_PIXELS, explain=False).logit
        for r in records
    ]
    return np.asarray(logits, dtype=np.float64)


def parity_gate(
    net: ResNet,
    loader: Iterable[Any],
    records: Sequence[Any],
    session: ort.InferenceSession,
    spec: InputSpec,
    tolerance: float = PARITY_TOLERANCE,
) -> tuple[dict[str, Any], np.ndarray]:
    """Raise ParityError naming each file whose two probabilities differ by more than tolerance.

    Returns the report and the ONNX logits (reused for the test metrics).
    """
    t_logits, t_labels = torch_logits(net, loader, len(records))
    if len(t_logits) != len(records):
        raise ParityError(f"the test loader gave {len(t_logits)} items for {len(records)} files")
    if not np.array_equal(t_labels.astype(int), np.array([r.label for r in records])):
        raise ParityError("the test loader's order differs from split_records('test')")
    o_logits = serving_logits(session, records, spec)
    t_probs, o_probs = expit(t_logits.astype(np.float64)), expit(o_logits.astype(np.float64))
    diff = np.abs(t_probs - o_probs)
    bad = np.flatnonzero(diff > tolerance)
    if len(bad):
        shown = "; ".join(
            f"{_name(records[i])}: torch {t_probs[i]:.6f} vs onnx {o_probs[i]:.6f}"
            for i in bad[:20]
        )
        raise ParityError(
            f"parity gate failed: {len(bad)} of {len(records)} held-out files differ by more "
            f"than {tolerance} in AI probability (training vs serving path): {shown}"
        )
    report = {
        "split": "test",
        "n": len(records),
        "max_abs_diff": float(diff.max(initial=0.0)),
        "tolerance": tolerance,
    }
    return report, o_logits


def _name(record: Any) -> str:
    path = getattr(record, "path", None)
    return f"{record.id} ({path})" if path else str(record.id)
