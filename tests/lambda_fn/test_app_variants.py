"""The served graph: the manifest's `serving_variant` (int8 when export kept it), else fp32.

A bundle here gets a real static-QDQ int8 graph of the tiny ResNet (`with_int8`). What is
checked is which graph answers: each answer is compared with that graph run directly.
"""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import numpy as np
import onnxruntime as ort
import pytest

from lambda_fn.manifest import BundleError, read_manifest
from lambda_fn.predictor import Predictor, sigmoid
from lambda_fn.settings import Settings
from lambda_fn.stem import aggregate, prepare
from tests.lambda_fn.conftest import make_image
from tests.support.bundles import TEMPERATURE, with_int8
from tests.support.http_server import UvicornServer

IMAGE = make_image("PNG", size=(150, 100), seed=11)


@pytest.fixture(scope="module")
def int8_bundle(resnet_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    destination = tmp_path_factory.mktemp("int8") / "bundle"
    with_int8(resnet_bundle, destination)
    return destination


def graph_probability(bundle: Path, graph: str) -> float:
    spec = read_manifest(bundle).input_spec()
    session = ort.InferenceSession(str(bundle / graph), providers=["CPUExecutionProvider"])
    logits = session.run(["logit"], {"image": prepare(IMAGE, spec).crops})[0]
    return float(sigmoid(aggregate(np.asarray(logits)) / TEMPERATURE))


def load(bundle: Path, tmp_path: Path, **settings: object) -> Predictor:
    return Predictor.load(
        Settings(
            model_uri=str(bundle), model_cache_dir=tmp_path, ort_intra_op_threads=1, **settings
        )
    )


def answer(predictor: Predictor) -> float:
    return predictor.predict(IMAGE, explain=False, max_pixels=10**8).ai_probability


def test_the_server_serves_int8_when_the_manifest_says_so_and_says_which(
    int8_bundle: Path, tmp_path: Path
) -> None:
    env = {"MODEL_URI": str(int8_bundle), "MODEL_CACHE_DIR": str(tmp_path)}
    with UvicornServer(env={**env, "ORT_INTRA_OP_THREADS": "1"}) as server:
        assert httpx.get(f"{server.url}/model").json()["serving_variant"] == "int8"
        response = httpx.post(
            f"{server.url}/predict", content=IMAGE, headers={"content-type": "image/png"}
        )
        loaded = [r for r in server.log_records() if r.get("message") == "model loaded"]
    assert response.status_code == 200, response.text
    expected = graph_probability(int8_bundle, "model.int8.onnx")
    assert response.json()["ai_probability"] == pytest.approx(expected, abs=1e-6)
    assert loaded and loaded[-1]["variant"] == "int8"


def test_model_variant_fp32_serves_model_onnx_from_an_int8_bundle(
    int8_bundle: Path, tmp_path: Path
) -> None:
    predictor = load(int8_bundle, tmp_path, model_variant="fp32")
    assert predictor.variant == "fp32"
    assert answer(predictor) == pytest.approx(
        graph_probability(int8_bundle, "model.onnx"), abs=1e-6
    )


def test_a_bundle_without_int8_is_served_in_fp32(resnet_bundle: Path, tmp_path: Path) -> None:
    assert read_manifest(resnet_bundle).serving_variant == "fp32"
    assert load(resnet_bundle, tmp_path).variant == "fp32"


def test_asking_for_a_variant_the_bundle_lacks_falls_back_to_fp32(
    resnet_bundle: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="aiornot.model"):
        predictor = load(resnet_bundle, tmp_path, model_variant="int8")
    assert predictor.variant == "fp32"
    assert "variant not in the bundle, serving fp32" in caplog.text


def test_an_int8_graph_the_runtime_refuses_falls_back_to_fp32(
    resnet_bundle: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Listed and hashed, so the bundle verifies, but not a graph ONNX Runtime can open."""
    broken = with_int8(resnet_bundle, tmp_path / "broken", graph=b"not an onnx graph")
    assert broken.serving_variant == "int8"
    with caplog.at_level(logging.WARNING, logger="aiornot.model"):
        predictor = load(tmp_path / "broken", tmp_path / "cache")
    assert predictor.variant == "fp32"
    assert "variant refused, serving fp32" in caplog.text
    assert answer(predictor) == pytest.approx(
        graph_probability(tmp_path / "broken", "model.onnx"), abs=1e-6
    )


def test_a_manifest_naming_a_variant_it_does_not_list_is_refused(
    resnet_bundle: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "bundle"
    with_int8(resnet_bundle, copy)
    text = (
        (copy / "model.json")
        .read_text()
        .replace('"serving_variant": "int8"', '"serving_variant": "int4"')
    )
    (copy / "model.json").write_text(text)
    with pytest.raises(BundleError, match="serving_variant 'int4' is not one of the variants"):
        read_manifest(copy)
