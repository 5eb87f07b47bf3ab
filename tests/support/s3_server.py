"""A real S3 API for tests: moto's server over HTTP on a free 127.0.0.1 port.

Import the fixtures into a test module (`from tests.support.s3_server import s3_bucket, s3_server`)
or a conftest. `s3_bucket` (per test) and `uploads_bucket` (per module, for servers started
once) point boto3's standard chain at the server through environment variables only (fake
credentials, region, `AWS_ENDPOINT_URL_S3`), so the code under test needs no test-only
arguments. `FlakyProxy` sits in front of it and fails the
first N requests with 503, to prove retries happen. `make_tiny_bundle` writes a small,
real, torch-free bundle to publish or serve.
"""

from __future__ import annotations

import http.client
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.support.background_http import BackgroundHTTPServer

REGION = "us-east-1"


@dataclass
class S3Server:
    """A running moto server and how to reach it."""

    endpoint_url: str
    server: ThreadedMotoServer

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


def aws_test_env(monkeypatch: pytest.MonkeyPatch, endpoint_url: str) -> None:
    """Fake credentials and an endpoint, and nothing from the developer's ~/.aws."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint_url)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """One moto server for the whole session; tests isolate themselves by bucket."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield S3Server(endpoint_url=f"http://{host}:{port}", server=server)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def uploads_bucket(s3_server: S3Server) -> Iterator[str]:
    """A fresh bucket for a module's servers (which read the environment when they start),
    with the environment pointing boto3 at moto for the whole module."""
    with pytest.MonkeyPatch.context() as patch:
        aws_test_env(patch, s3_server.endpoint_url)
        bucket = f"uploads-{uuid.uuid4().hex[:12]}"
        s3_server.client().create_bucket(Bucket=bucket)
        yield bucket


@pytest.fixture
def s3_bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh, empty bucket, with the environment pointing boto3 at the server."""
    aws_test_env(monkeypatch, s3_server.endpoint_url)
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3_server.client().create_bucket(Bucket=name)
    return name


class FlakyProxy(BackgroundHTTPServer):
    """An HTTP proxy that answers 503 SlowDown to the first `failures` requests, then forwards."""

    def __init__(self, upstream: str, failures: int) -> None:
        host, _, port = upstream.removeprefix("http://").partition(":")
        self.upstream = (host, int(port))
        self.failures = failures
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status answered)
        super().__init__()

    @property
    def endpoint_url(self) -> str:
        return self.url

    def _should_fail(self, method: str, path: str) -> bool:
        with self._lock:
            fail = sum(1 for r in self.requests if r[2] == 503) < self.failures
            self.requests.append((method, path, 503 if fail else 0))
            return fail

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if proxy._should_fail(self.command, self.path):
                    payload = b"<Error><Code>SlowDown</Code><Message>test</Message></Error>"
                    self.send_response(503)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                self.send_response(response.status)
                head = self.command == "HEAD"  # keeps the object's real Content-Length
                dropped = ("transfer-encoding", "connection") + (
                    () if head else ("content-length",)
                )
                for key, value in response.getheaders():
                    if key.lower() not in dropped:
                        self.send_header(key, value)
                if not head:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if not head:
                    self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _relay

        return Handler
