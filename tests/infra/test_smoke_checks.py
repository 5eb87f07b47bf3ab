"""`make smoke`: passes against a healthy server, fails (non-zero) against a 500 on bad input."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from PIL import Image, UnidentifiedImageError

from ops.smoke import main, run_smoke
from tests.support.background_http import BackgroundHTTPServer
from tests.support.bundles import make_tiny_bundle
from tests.support.http_server import UvicornServer

MODEL = {"name": "aiornot-standin", "version": "20260101T000000Z-0000000"}


def stand_in_handler(*, bad_image_status: int, key: str | None) -> type[BaseHTTPRequestHandler]:
    """A tiny imitation of the API contract; `bad_image_status` decides how it fails."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def reply(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def authorized(self) -> bool:
            if key is None or self.headers.get("x-api-key") == key:
                return True
            self.reply(403, {"error": {"code": "forbidden", "message": "send x-api-key"}})
            return False

        def do_GET(self) -> None:
            if not self.authorized():
                return
            if self.path == "/health":
                self.reply(200, {"status": "ok", "model": MODEL})
            else:
                self.reply(404, {"error": {"code": "not_found", "message": self.path}})

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if not self.authorized():
                return
            try:
                Image.open(io.BytesIO(body)).load()
            except (UnidentifiedImageError, OSError):
                error = {"code": "invalid_image", "message": "not a decodable image"}
                self.reply(bad_image_status, {"error": error})
                return
            self.reply(200, {"label": "real", "ai_probability": 0.25, "model": MODEL})

    return Handler


class StandIn(BackgroundHTTPServer):
    """The deployed API's answers, as far as the smoke checks look at them."""

    def __init__(self, *, bad_image_status: int = 400, key: str | None = None) -> None:
        self.handler = stand_in_handler(bad_image_status=bad_image_status, key=key)
        super().__init__()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return self.handler


@contextmanager
def stand_in(*, bad_image_status: int = 400, key: str | None = None) -> Iterator[str]:
    with StandIn(bad_image_status=bad_image_status, key=key) as server:
        yield f"{server.url}/"


def test_smoke_passes_against_a_healthy_server(capsys: pytest.CaptureFixture[str]) -> None:
    with stand_in() as url:
        checks = run_smoke(url)
        assert [c.name for c in checks] == ["health", "predict", "bad-image-is-4xx"]
        assert all(c.passed for c in checks), checks
        assert main([url]) == 0
    assert "3/3 ok, all checks passed" in capsys.readouterr().out


def test_smoke_fails_when_a_bad_image_gets_a_500(capsys: pytest.CaptureFixture[str]) -> None:
    with stand_in(bad_image_status=500) as url:
        failed = [c for c in run_smoke(url) if not c.passed]
        assert [c.name for c in failed] == ["bad-image-is-4xx"]
        assert failed[0].detail.startswith("500")
        assert main([url]) == 1
    assert "FAILED: bad-image-is-4xx" in capsys.readouterr().out


def test_smoke_sends_the_key_and_checks_it_is_required() -> None:
    with stand_in(key="s3cret") as url:
        checks = run_smoke(url, "s3cret")
        assert [c.name for c in checks][-1] == "key-required"
        assert all(c.passed for c in checks), checks
        assert not all(c.passed for c in run_smoke(url, "wrong-key"))


def test_smoke_fails_cleanly_when_nothing_listens() -> None:
    with stand_in() as url:
        pass  # the server is gone: its port now refuses connections
    checks = run_smoke(url, timeout=2)
    assert checks and not any(c.passed for c in checks)
    assert "ConnectError" in checks[0].detail
    assert main([url, "--timeout", "2"]) == 1


def test_smoke_passes_against_the_real_api_under_uvicorn(tmp_path: Path) -> None:
    """What `make smoke URL=http://127.0.0.1:8000` does against `make serve`."""
    make_tiny_bundle(tmp_path / "bundle")
    env = {
        "MODEL_URI": str(tmp_path / "bundle"),
        "MODEL_CACHE_DIR": str(tmp_path / "cache"),
        "ORT_INTRA_OP_THREADS": "1",
    }
    with UvicornServer(env=env) as server:
        checks = run_smoke(server.url)
    assert all(c.passed for c in checks), checks
