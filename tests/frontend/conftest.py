"""Frontend fixtures: the real API under uvicorn with a real (demo-labelled) bundle, and the app."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from frontend.app import build_app, launch
from frontend.settings import Settings
from lambda_fn.manifest import read_manifest
from tests.support.bundles import export_tiny_resnet, tampered_copy
from tests.support.http_server import UvicornServer
from tests.support.s3_server import s3_bucket, s3_server  # noqa: F401 (fixtures for the flag tests)


@pytest.fixture(scope="session", autouse=True)
def _frontend_settings_only_from_the_tests() -> Iterator[None]:
    """`Settings(...)` also reads AIORNOT_* variables (pydantic-settings): a developer's own
    AIORNOT_API_KEY or AIORNOT_FLAG_S3_URI must not leak into these tests."""
    names = {f"AIORNOT_{name.upper()}" for name in Settings.model_fields} | {"AIORNOT_TIMEOUT_S"}
    with pytest.MonkeyPatch.context() as patch:
        for name in names & set(os.environ):
            patch.delenv(name)
        yield


DEMO_DATASET = "demo:v1:seed=0:size=64"


@dataclass
class RunningFrontend:
    url: str
    settings: Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def demo_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real tiny ResNet bundle whose lineage says it was trained on the demo data."""
    directory = tmp_path_factory.mktemp("frontend-bundle")
    export_tiny_resnet(directory)
    manifest = read_manifest(directory)
    lineage = manifest.lineage.model_copy(update={"dataset": DEMO_DATASET})
    (directory / "model.json").write_text(
        manifest.model_copy(update={"lineage": lineage}).dump_json()
    )
    return directory


def _serve(bundle: Path, cache: Path) -> UvicornServer:
    env = {"MODEL_URI": str(bundle), "MODEL_CACHE_DIR": str(cache), "ORT_INTRA_OP_THREADS": "1"}
    return UvicornServer(env=env)


@pytest.fixture(scope="session")
def api(demo_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UvicornServer]:
    with _serve(demo_bundle, tmp_path_factory.mktemp("cache")) as server:
        yield server


@pytest.fixture(scope="session")
def modelless_api(
    demo_bundle: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[UvicornServer]:
    """The API with a bundle altered after export: it refuses to serve it (503)."""
    broken = tampered_copy(demo_bundle, tmp_path_factory.mktemp("broken") / "bundle")
    with _serve(broken, tmp_path_factory.mktemp("cache")) as server:
        yield server


def _launch(settings: Settings) -> Iterator[RunningFrontend]:
    demo = build_app(settings)
    port = free_port()
    launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield RunningFrontend(url=f"http://127.0.0.1:{port}/", settings=settings)
    finally:
        demo.close()


@pytest.fixture(scope="session")
def frontend(
    api: UvicornServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningFrontend]:
    """The Gradio app, launched in this process, pointed at the real API."""
    settings = Settings(api_url=api.url, flag_dir=tmp_path_factory.mktemp("flags"))
    yield from _launch(settings)


@pytest.fixture(scope="session")
def frontend_without_model(
    modelless_api: UvicornServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningFrontend]:
    """The app against an API with no usable model, with a short retry budget."""
    settings = Settings(
        api_url=modelless_api.url,
        total_timeout_s=1.0,
        backoff_initial_s=0.05,
        flag_dir=tmp_path_factory.mktemp("flags"),
    )
    yield from _launch(settings)
