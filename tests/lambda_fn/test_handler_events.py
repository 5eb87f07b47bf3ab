"""lambda_fn.handler in-process: API Gateway event shapes, stage prefixes, binary bodies."""

from __future__ import annotations

import base64
import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from awslambdaric.lambda_context import LambdaContext

from tests.support.apigw_events import FUNCTION_ARN, http_api_event, rest_event


@pytest.fixture
def handler_module(
    resnet_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ModuleType]:
    """A fresh import with a Lambda-like environment (settings are read at import)."""
    monkeypatch.setenv("MODEL_URI", str(resnet_bundle))
    monkeypatch.setenv("MODEL_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("API_ROOT_PATH", "/prod")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "aiornot")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "3008")
    for name in ("lambda_fn.handler", "lambda_fn.app"):
        sys.modules.pop(name, None)
    yield importlib.import_module("lambda_fn.handler")
    for name in ("lambda_fn.handler", "lambda_fn.app"):
        sys.modules.pop(name, None)


def call(module: ModuleType, event: dict) -> dict:
    context = LambdaContext("req-1", None, None, 2_000_000_000_000, FUNCTION_ARN)
    return module.handler(event, context)


def test_handler_derives_ort_threads_from_lambda_memory(handler_module: ModuleType) -> None:
    assert handler_module.app.state.settings.intra_op_threads == 2  # 3008 MB = 1.7 vCPU


def test_rest_event_with_binary_jpeg_is_predicted(
    handler_module: ModuleType, images: dict[str, bytes]
) -> None:
    event = rest_event(
        "POST", "/predict", body=images["jpeg"], headers={"Content-Type": "image/jpeg"},
        query={"explain": "true"}, binary=True,
    )  # fmt: skip
    response = call(handler_module, event)
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["heatmap"]


def test_rest_event_with_multipart_body_is_predicted(
    handler_module: ModuleType, images: dict[str, bytes]
) -> None:
    request = httpx.Request("POST", "http://x/predict", files={"file": ("a.png", images["png"])})
    body = request.read()
    headers = {"Content-Type": request.headers["content-type"]}
    event = rest_event("POST", "/predict", body=body, headers=headers, binary=True)
    assert call(handler_module, event)["statusCode"] == 200


@pytest.mark.parametrize("stage", ["prod", "$default"])
def test_http_api_routes_with_and_without_a_stage_prefix(
    handler_module: ModuleType, stage: str
) -> None:
    response = call(handler_module, http_api_event("GET", "/health", stage=stage))
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["status"] == "ok"


def test_docs_behind_a_stage_link_to_the_staged_openapi(handler_module: ModuleType) -> None:
    response = call(handler_module, rest_event("GET", "/docs"))
    assert response["statusCode"] == 200
    assert "/prod/openapi.json" in response["body"]


def test_errors_keep_the_contract_shape_through_mangum(handler_module: ModuleType) -> None:
    for event, status, code in [
        (rest_event("GET", "/predict"), 405, "method_not_allowed"),
        (http_api_event("GET", "/missing", stage="prod"), 404, "not_found"),
        (rest_event("POST", "/predict", body="x", headers={"Content-Type": "text/plain"}), 415,
         "unsupported_media_type"),
    ]:  # fmt: skip
        response = call(handler_module, event)
        assert response["statusCode"] == status
        assert json.loads(response["body"])["error"]["code"] == code


def test_handler_emits_emf_metrics_per_invocation(
    handler_module: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    call(handler_module, rest_event("GET", "/health"))
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    metrics = {m["Name"] for r in emf for d in r["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert {"Requests", "Latency"} <= metrics


def test_json_body_in_a_text_event_is_predicted(
    handler_module: ModuleType, images: dict[str, bytes]
) -> None:
    body = json.dumps({"image": base64.b64encode(images["gif"]).decode()})
    event = http_api_event(
        "POST", "/predict", body=body, headers={"content-type": "application/json"}
    )
    assert call(handler_module, event)["statusCode"] == 200
