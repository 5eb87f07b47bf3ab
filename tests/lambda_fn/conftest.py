"""Serving fixtures: a real ResNet bundle (tiny, random, exported to ONNX), images, live servers.

The bundle is built once per session. It is the one place to swap in a demo-trained bundle.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.support.bundles import export_tiny_resnet, tampered_copy
from tests.support.http_server import UvicornServer

FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF", "bmp": "BMP", "tiff": "TIFF"}


def make_image(fmt: str = "JPEG", size: tuple[int, int] = (96, 80), seed: int = 0) -> bytes:
    """A small textured RGB image encoded in `fmt`."""
    rng = np.random.default_rng(seed)
    width, height = size
    ramp = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
    pixels = np.clip(ramp + rng.normal(0, 40, (height, width, 3)), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def resnet_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("resnet-bundle")
    export_tiny_resnet(directory)
    return directory


@pytest.fixture(scope="session")
def images() -> dict[str, bytes]:
    """One small image per accepted format, keyed by the content-type subtype."""
    return {subtype: make_image(fmt, seed=i) for i, (subtype, fmt) in enumerate(FORMATS.items())}


@pytest.fixture(scope="session")
def api_server(
    resnet_bundle: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[UvicornServer]:
    """The app under uvicorn with the real bundle; shared by every test that only reads."""
    env = {
        "MODEL_URI": str(resnet_bundle),
        "MODEL_CACHE_DIR": str(tmp_path_factory.mktemp("model-cache")),
        "ORT_INTRA_OP_THREADS": "1",
        "CORS_ORIGINS": "https://app.example, https://other.example",
    }
    with UvicornServer(env=env) as server:
        yield server


@pytest.fixture(scope="session")
def broken_api_server(
    resnet_bundle: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[UvicornServer]:
    """The app with a bundle whose model.onnx was altered after the manifest was written."""
    broken = tampered_copy(resnet_bundle, tmp_path_factory.mktemp("broken") / "bundle")
    env = {"MODEL_URI": str(broken), "MODEL_CACHE_DIR": str(tmp_path_factory.mktemp("cache"))}
    with UvicornServer(env=env) as server:
        yield server
