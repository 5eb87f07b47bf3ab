"""Export's parts on their own: the ONNX graph, the parity gate, calibration, int8, the card."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from PIL import Image

from lambda_fn.stem import InputSpec, prepare
from model_training.calibration import (
    calibrate,
    calibrated_probs,
    choose_threshold,
    fit_temperature,
)
from model_training.data.dataset import DropFailed
from model_training.data.records import ImageRecord
from model_training.models.resnet import build_resnet
from model_training.onnx_export import ParityError, export_onnx, open_session, parity_gate
from model_training.quantize import keep_int8, quantize_int8

SIZE = 16


@pytest.fixture(scope="module")
def net() -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_resnet("tiny")
    for module in model.modules():  # leave the identity-at-init regime: outputs vary per image
        if isinstance(module, torch.nn.BatchNorm2d):
            torch.nn.init.uniform_(module.weight, 0.5, 1.5)
    return model.eval()


@pytest.fixture(scope="module")
def graph(net: torch.nn.Module, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("onnx") / "model.onnx"
    export_onnx(net, path, SIZE)
    return path


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> list[ImageRecord]:
    """Six small image files of different sizes and formats, with alternating labels."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    out = []
    for i in range(6):
        pixels = rng.integers(0, 256, (20 + 3 * i, 24, 3), dtype=np.uint8)
        path = root / f"img{i}.{'png' if i % 2 else 'jpg'}"
        Image.fromarray(pixels).save(path)
        out.append(ImageRecord(id=f"img{i}", label=i % 2, path=path))
    return out


def _eval_loader(records: list[ImageRecord], spec: InputSpec) -> list[tuple[torch.Tensor, ...]]:
    """What the DataModule's test loader yields: the stem's crops, batched with their owners."""
    samples = [(prepare(r.read_bytes(), spec).crops, r.label) for r in records]
    collate = DropFailed(spec.crop_size)
    return [collate(samples[:4]), collate(samples[4:])]  # type: ignore[arg-type]


def test_onnx_graph_has_dynamic_batch_and_both_outputs(net: torch.nn.Module, graph: Path) -> None:
    model = onnx.load(str(graph))
    assert model.opset_import[0].version == 18
    session = open_session(graph)
    assert [i.name for i in session.get_inputs()] == ["image"]
    assert [o.name for o in session.get_outputs()] == ["logit", "cam"]
    for batch in (1, 3):
        x = torch.randn(batch, 3, SIZE, SIZE)
        logit, cam = session.run(None, {"image": x.numpy()})
        with torch.no_grad():
            t_logit, t_cam = net.forward_with_cam(x)
        assert logit.shape == (batch,) and cam.shape == tuple(t_cam.shape)
        np.testing.assert_allclose(logit, t_logit.numpy(), atol=1e-4)
        np.testing.assert_allclose(cam, t_cam.numpy(), atol=1e-4)
        np.testing.assert_allclose(cam.mean(axis=(1, 2)), logit, atol=1e-5)  # exact CAM


def test_parity_gate_passes_when_training_and_serving_agree(
    net: torch.nn.Module, graph: Path, records: list[ImageRecord]
) -> None:
    spec = InputSpec(crop_size=SIZE)
    loader = _eval_loader(records, spec)
    report, logits = parity_gate(net, loader, records, open_session(graph), spec)
    assert report["n"] == 6 and report["max_abs_diff"] <= 1e-4
    assert logits.shape == (6,)


def test_parity_gate_rejects_a_mismatched_serving_spec_naming_files(
    net: torch.nn.Module, graph: Path, records: list[ImageRecord]
) -> None:
    training = InputSpec(crop_size=SIZE)
    serving = InputSpec(crop_size=SIZE, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    loader = _eval_loader(records, training)
    with pytest.raises(ParityError, match="parity gate failed") as info:
        parity_gate(net, loader, records, open_session(graph), serving)
    assert "img0 (" in str(info.value) and "img0.jpg" in str(info.value)


def test_temperature_fit_recovers_an_overconfident_scale() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 4000)
    true_logits = (2 * labels - 1) * 1.0 + rng.normal(0, 1.0, 4000)  # log-odds = 2 * x
    temperature = fit_temperature(true_logits * 3.0, labels)  # a model 3x too confident
    assert temperature == pytest.approx(1.5, rel=0.1)


def test_calibration_lowers_validation_ece_and_reports_both() -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 2000)
    logits = ((2 * labels - 1) + rng.normal(0, 1.0, 2000)) * 4.0
    result = calibrate(logits, labels)
    assert result["ece_after"] < result["ece_before"]
    assert result["log_loss_after"] < result["log_loss_before"]
    assert 0.0 <= result["threshold"] <= 1.0


def test_threshold_maximises_youden_j() -> None:
    probs = np.array([0.1, 0.2, 0.3, 0.35, 0.6, 0.7])
    labels = np.array([0, 0, 0, 1, 1, 1])
    assert choose_threshold(probs, labels) == pytest.approx(0.325)
    assert choose_threshold(probs, np.ones(6)) == 0.5  # one class: no information


def test_calibrated_probs_divide_the_logit_by_temperature() -> None:
    assert calibrated_probs(np.array([2.0]), 2.0)[0] == pytest.approx(1 / (1 + np.exp(-1.0)))


@pytest.mark.parametrize(
    ("fp32", "int8", "kept"), [(0.90, 0.90, True), (0.90, 0.895, True), (0.90, 0.894, False)]
)
def test_int8_is_kept_only_within_half_a_point(fp32: float, int8: float, kept: bool) -> None:
    assert keep_int8(fp32, int8)[0] is kept


def test_int8_quantization_writes_a_qdq_graph_with_the_same_signature(
    graph: Path, tmp_path: Path
) -> None:
    rng = np.random.default_rng(0)
    calibration = rng.normal(0, 1, (8, 3, SIZE, SIZE)).astype(np.float32)
    quantize_int8(graph, tmp_path / "model.int8.onnx", calibration)
    ops = {n.op_type for n in onnx.load(str(tmp_path / "model.int8.onnx")).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    session = open_session(tmp_path / "model.int8.onnx")
    logit, cam = session.run(None, {"image": calibration[:2]})
    assert logit.shape == (2,) and cam.shape[0] == 2
