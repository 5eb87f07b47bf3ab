"""Faults at start-up: each is logged clearly and turns into 503 `model_unavailable`.

Already covered in tests/lambda_fn: a bundle whose model.onnx fails its sha256 check
(broken_api_server), a missing MODEL_URI, missing/corrupted S3 objects and botocore
retrying a few 503s (tests/lambda_fn/test_s3_loading.py). Here: a store that is unreachable,
one that hangs past the read timeout, persistent throttling, a corrupt model whose
manifest agrees with it, a manifest missing fields, and a graph that disagrees with its
manifest - each through a real server, which must never answer a prediction while the
model is unavailable.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from hashlib import sha256
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

from lambda_fn.manifest import read_manifest
from lambda_fn.s3_download import s3_client
from model_training.registry import upload_bundle
from tests.hardening.corpus import image_bytes
from tests.support.background_http import BackgroundHTTPServer
from tests.support.bundles import make_tiny_bundle
from tests.support.http_server import UvicornServer
from tests.support.s3_server import FlakyProxy, aws_test_env, s3_bucket, s3_server  # noqa: F401

pytestmark = pytest.mark.slow  # a server start per fault (~2 s each)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


class HangingProxy(BackgroundHTTPServer):
    """Accepts connections and answers nothing for `delay` seconds: a store that hangs."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.requests = 0  # how many requests have started hanging
        super().__init__()

    @property
    def endpoint_url(self) -> str:
        return self.url

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy.requests += 1
                time.sleep(proxy.delay)

            do_HEAD = do_PUT = do_POST = do_GET

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def assert_unavailable_and_logged(server: UvicornServer, *reason_words: str) -> str:
    """/health, /model and /predict all 503 model_unavailable; the log line says why."""
    for method, path in (("GET", "/health"), ("GET", "/model"), ("POST", "/predict")):
        response = httpx.request(
            method,
            server.url + path,
            content=image_bytes("PNG") if method == "POST" else None,
            headers={"content-type": "image/png"},
            timeout=30,
        )
        assert response.status_code == 503, (path, response.text)
        assert response.json()["error"]["code"] == "model_unavailable"
        assert "label" not in response.text
    lines = [r for r in server.log_records() if r.get("message") == "model unavailable"]
    assert lines, server.output()[-3000:]
    reason = lines[0]["reason"]
    assert any(word.lower() in reason.lower() for word in reason_words), reason
    print(f"logged reason: {reason}")
    return reason


def s3_env(endpoint: str, uri: str, cache: Path, retries: int = 1) -> dict[str, str]:
    return {
        "MODEL_URI": uri,
        "MODEL_CACHE_DIR": str(cache),
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AIORNOT_S3_RETRIES": str(retries),
        "MODEL_RETRY_SECONDS": "3600",
    }


@pytest.fixture
def published(s3_bucket: str, tmp_path: Path) -> Iterator[str]:  # noqa: F811
    """A small real bundle published to a fresh moto bucket; yields its s3:// URI."""
    manifest = make_tiny_bundle(tmp_path / "bundle")
    prefix = f"models/{manifest.version}/"
    upload_bundle(s3_client(), tmp_path / "bundle", manifest, s3_bucket, prefix)
    yield f"s3://{s3_bucket}/{prefix}"


def test_an_unreachable_model_store_is_logged_and_answers_503(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws_test_env(monkeypatch, "http://unused")  # fake credentials; the endpoint is below
    env = s3_env(f"http://127.0.0.1:{closed_port()}", "s3://bucket/models/v1/", tmp_path)
    with UvicornServer(env=env) as server:
        assert_unavailable_and_logged(server, "connect")


def test_a_store_that_hangs_past_the_read_timeout_is_logged_and_answers_503(
    published: str, tmp_path: Path
) -> None:
    with HangingProxy(delay=5) as proxy:
        env = s3_env(proxy.endpoint_url, published, tmp_path / "cache")
        env["AIORNOT_S3_READ_TIMEOUT"] = "0.5"  # the documented setting (docs/bundles.md)
        with UvicornServer(env=env) as server:
            assert_unavailable_and_logged(server, "timeout", "timed out")


def test_a_model_reload_that_hangs_does_not_hold_up_other_requests(
    published: str, tmp_path: Path
) -> None:
    """Issue 14, D3: /predict retried a failed load on the event loop, so while the store
    hung every other request waited. Here /openapi.json must answer while a /predict is
    still stuck in the reload."""
    with HangingProxy(delay=30) as proxy:
        env = s3_env(proxy.endpoint_url, published, tmp_path / "cache", retries=0)
        env |= {"AIORNOT_S3_READ_TIMEOUT": "4", "MODEL_RETRY_SECONDS": "0"}
        with UvicornServer(env=env) as server:  # the start-up load times out: 503s
            before = proxy.requests
            answers: list[httpx.Response] = []
            stuck = threading.Thread(
                target=lambda: answers.append(
                    httpx.post(
                        f"{server.url}/predict",
                        content=image_bytes("PNG"),
                        headers={"content-type": "image/png"},
                        timeout=60,
                    )
                )
            )
            stuck.start()
            for _ in range(200):  # until the retry's request hangs in the store
                if proxy.requests > before:
                    break
                time.sleep(0.02)
            assert proxy.requests > before, "the /predict did not retry the load"
            schema = httpx.get(f"{server.url}/openapi.json", timeout=60)
            still_loading = stuck.is_alive()
            stuck.join(timeout=60)
    assert schema.status_code == 200
    assert still_loading, "/openapi.json waited for the hanging reload to finish"
    assert answers and answers[0].status_code == 503


def test_persistent_throttling_is_logged_and_recovers_once_it_stops(
    published: str,
    s3_server,  # noqa: F811
    tmp_path: Path,
) -> None:
    with FlakyProxy(s3_server.endpoint_url, failures=10**9) as proxy:
        env = s3_env(proxy.endpoint_url, published, tmp_path / "cache")
        env["MODEL_RETRY_SECONDS"] = "0"
        with UvicornServer(env=env) as server:
            assert_unavailable_and_logged(server, "SlowDown")
            proxy.failures = 0  # the throttling ends: the next request retries the load
            health = httpx.get(f"{server.url}/health", timeout=60)
            assert health.status_code == 200
            assert published.rstrip("/").endswith(health.json()["model"]["version"])


def resign(directory: Path, name: str) -> None:
    """Rewrite the manifest's checksum of `name` so the damage is not caught by sha256."""
    path = directory / "model.json"
    manifest = json.loads(path.read_text())
    data = (directory / name).read_bytes()
    manifest["files"][name] = {"sha256": sha256(data).hexdigest(), "bytes": len(data)}
    path.write_text(json.dumps(manifest))


def test_a_corrupt_model_with_a_matching_manifest_answers_503(
    resnet_bundle: Path, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(resnet_bundle, bundle)
    onnx = (bundle / "model.onnx").read_bytes()
    (bundle / "model.onnx").write_bytes(onnx[: len(onnx) // 3])  # truncated protobuf
    resign(bundle, "model.onnx")
    env = {"MODEL_URI": str(bundle), "MODEL_CACHE_DIR": str(tmp_path / "cache")}
    with UvicornServer(env=env) as server:
        assert_unavailable_and_logged(server, "onnx", "protobuf", "model")


@pytest.mark.parametrize("field", ["threshold", "input", "files", "version", "outputs"])
def test_a_manifest_missing_a_field_answers_503(
    resnet_bundle: Path, tmp_path: Path, field: str
) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(resnet_bundle, bundle)
    manifest = json.loads((bundle / "model.json").read_text())
    del manifest[field]
    (bundle / "model.json").write_text(json.dumps(manifest))
    env = {"MODEL_URI": str(bundle), "MODEL_CACHE_DIR": str(tmp_path / "cache")}
    with UvicornServer(env=env) as server:
        assert_unavailable_and_logged(server, field)


def test_a_graph_that_disagrees_with_its_manifest_answers_503(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    make_tiny_bundle(bundle, size=8)  # the graph takes 8 x 8 images
    manifest = json.loads((bundle / "model.json").read_text())
    manifest["input"]["crop_size"] = 16
    (bundle / "model.json").write_text(json.dumps(manifest))
    read_manifest(bundle)  # still a well-formed manifest
    env = {"MODEL_URI": str(bundle), "MODEL_CACHE_DIR": str(tmp_path / "cache")}
    with UvicornServer(env=env) as server:
        assert_unavailable_and_logged(server, "8", "16", "shape", "dimension")
