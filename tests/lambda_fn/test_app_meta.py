"""/health, /model, /docs, /openapi.json, CORS and the per-request log, through uvicorn."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import httpx

from lambda_fn.manifest import read_manifest
from tests.support.http_server import UvicornServer


def test_health_names_the_loaded_model(api_server: UvicornServer, resnet_bundle: Path) -> None:
    response = httpx.get(f"{api_server.url}/health")
    assert response.status_code == 200
    manifest = read_manifest(resnet_bundle)
    assert response.json() == {
        "status": "ok",
        "model": {"name": manifest.name, "version": manifest.version},
    }


def test_model_returns_the_manifest_without_internal_paths(
    api_server: UvicornServer, resnet_bundle: Path
) -> None:
    response = httpx.get(f"{api_server.url}/model")
    assert response.status_code == 200
    body = response.json()
    manifest = read_manifest(resnet_bundle)
    assert body["version"] == manifest.version
    assert body["calibration"]["temperature"] == manifest.calibration.temperature
    assert set(body["files"]) == {"model.onnx", "MODEL_CARD.md"}
    assert str(resnet_bundle) not in response.text and "/tmp" not in response.text


def test_docs_page_is_served(api_server: UvicornServer) -> None:
    response = httpx.get(f"{api_server.url}/docs")
    assert response.status_code == 200
    assert "swagger" in response.text.lower() and "/openapi.json" in response.text


def test_openapi_documents_three_input_styles_and_the_error_table(api_server: UvicornServer):
    response = httpx.get(f"{api_server.url}/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    predict = spec["paths"]["/predict"]["post"]
    content = predict["requestBody"]["content"]
    assert {"image/jpeg", "image/png", "application/json", "multipart/form-data"} <= set(content)
    assert content["multipart/form-data"]["schema"]["required"] == ["file"]
    assert "image" in content["application/json"]["schema"]["properties"]
    error_ref = "#/components/schemas/ErrorBody"
    for status in ("400", "404", "405", "413", "415", "422", "503"):
        assert predict["responses"][status]["content"]["application/json"]["schema"] == {
            "$ref": error_ref
        }
    assert "503" in spec["paths"]["/health"]["get"]["responses"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_cors_preflight_allows_the_configured_origin(api_server: UvicornServer) -> None:
    headers = {"origin": "https://app.example", "access-control-request-method": "POST"}
    response = httpx.options(f"{api_server.url}/predict", headers=headers)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://app.example"
    other = httpx.options(
        f"{api_server.url}/predict", headers={**headers, "origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in other.headers


def _log_for(server: UvicornServer, request_id: str) -> dict:
    for _ in range(100):  # the line is written just after the response is sent
        found = [r for r in server.log_records() if r.get("request_id") == request_id]
        if found:
            return found[0]
        time.sleep(0.02)
    raise AssertionError(f"no log line for {request_id}")


def test_each_request_logs_one_json_line_without_image_or_secrets(
    api_server: UvicornServer, images: dict[str, bytes]
) -> None:
    encoded = base64.b64encode(images["png"]).decode()
    response = httpx.post(
        f"{api_server.url}/predict",
        json={"image": encoded},
        headers={"x-api-key": "secret-key-123", "authorization": "Bearer tok-456"},
    )
    assert response.status_code == 200
    request_id = response.headers["x-request-id"]
    record = _log_for(api_server, request_id)
    assert record["status"] == 200 and record["outcome"] == "ok"
    assert record["model_version"] == response.json()["model"]["version"]
    assert record["input_style"] == "json" and record["cold_start"] is False
    assert set(record["timings_ms"]) == {"decode", "preprocess", "inference", "total"}
    lines = [line for line in api_server.lines if request_id in line]
    assert len(lines) == 1
    assert encoded[:40] not in lines[0] and "secret-key-123" not in api_server.output()
    assert "tok-456" not in api_server.output()


def test_error_requests_log_their_code(api_server: UvicornServer) -> None:
    response = httpx.post(
        f"{api_server.url}/predict", content=b"{", headers={"content-type": "application/json"}
    )
    record = _log_for(api_server, response.headers["x-request-id"])
    assert (record["status"], record["code"], record["outcome"]) == (
        400,
        "bad_request",
        "client_error",
    )


def test_the_model_is_loaded_once_per_process(api_server: UvicornServer) -> None:
    for _ in range(3):
        assert httpx.get(f"{api_server.url}/health").status_code == 200
    loads = [r for r in api_server.log_records() if r.get("message") == "model loaded"]
    assert len(loads) == 1


def test_model_hides_absolute_paths_recorded_at_training_time() -> None:
    from lambda_fn.app import without_local_paths

    lineage = {
        "checkpoint": "/home/me/runs/last.ckpt",
        "config": {"data": {"path": "~/datasets/aiornot", "seed": 0}, "dirs": ["C:\\runs\\x"]},
        "dataset": "demo:v1:seed=0",
        "split": "models/V/",
    }
    assert without_local_paths(lineage) == {
        "checkpoint": "last.ckpt",
        "config": {"data": {"path": "aiornot", "seed": 0}, "dirs": ["x"]},
        "dataset": "demo:v1:seed=0",
        "split": "models/V/",
    }
