"""POST /predict {"image_url": ...} through a real uvicorn server, fetching from 127.0.0.1.

The servers here allow http and loopback (`URL_FETCH_ALLOW_HTTP`, the test-only
`URL_FETCH_ALLOW_LOOPBACK`) so the image host can be a stdlib server on this machine. Every
other address is refused before a connection: the refusals of private and metadata
addresses are tested at the address check (`test_url_fetch.py`) and here with address
literals, which are checked without any lookup or connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.lambda_fn.conftest import make_image
from tests.support.http_server import UvicornServer
from tests.support.image_host import ImageHost

JPEG = make_image("JPEG", size=(160, 120), seed=5)


@pytest.fixture(scope="module")
def image_host() -> Iterator[ImageHost]:
    with ImageHost(JPEG) as host:
        yield host


@pytest.fixture(scope="module")
def url_server(
    resnet_bundle: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[UvicornServer]:
    env = {
        "MODEL_URI": str(resnet_bundle),
        "MODEL_CACHE_DIR": str(tmp_path_factory.mktemp("url-cache")),
        "ORT_INTRA_OP_THREADS": "1",
        "URL_FETCH_ALLOW_HTTP": "true",
        "URL_FETCH_ALLOW_LOOPBACK": "true",
        "URL_FETCH_TIMEOUT": "1",
        "MAX_BODY_BYTES": str(len(JPEG) * 3),
    }
    with UvicornServer(env=env) as server:
        yield server


def predict_url(server: UvicornServer, url: str, **extra: object) -> httpx.Response:
    return httpx.post(f"{server.url}/predict", json={"image_url": url, **extra}, timeout=30)


def test_an_image_url_is_answered_as_the_same_image_uploaded(
    url_server: UvicornServer, image_host: ImageHost
) -> None:
    by_url = predict_url(url_server, f"{image_host.url}/cat.jpg", explain=True)
    uploaded = httpx.post(
        f"{url_server.url}/predict?explain=true",
        content=JPEG,
        headers={"content-type": "image/jpeg"},
    )
    assert by_url.status_code == 200, by_url.text
    assert by_url.json()["ai_probability"] == uploaded.json()["ai_probability"]
    assert by_url.json()["heatmap"] == uploaded.json()["heatmap"]
    logged = [r for r in url_server.log_records() if r.get("input_style") == "url"]
    assert logged and logged[-1]["status"] == 200


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/hop/2", 200, None),
        ("/hop/3", 422, "url_fetch_failed"),
        ("/to-metadata", 400, "url_not_allowed"),
        ("/missing", 422, "url_fetch_failed"),
        ("/page.html", 415, "unsupported_media_type"),
        ("/huge.jpg", 413, "payload_too_large"),
        ("/undeclared-huge.jpg", 413, "payload_too_large"),
        ("/stall.jpg", 422, "url_fetch_failed"),
    ],
)
def test_image_url_answers_and_refusals(
    url_server: UvicornServer, image_host: ImageHost, path: str, status: int, code: str | None
) -> None:
    response = predict_url(url_server, f"{image_host.url}{path}")
    assert response.status_code == status, response.text
    if code:
        assert response.json()["error"]["code"] == code
        assert response.json()["error"]["message"]


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[::ffff:169.254.169.254]/",
        "http://10.0.0.1/a.jpg",
        "http://0.0.0.0:80/",
        "file:///etc/passwd",
        "not a url",
    ],
)
def test_refused_urls_get_a_400_before_any_connection(url_server: UvicornServer, url: str) -> None:
    response = predict_url(url_server, url)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "url_not_allowed"


@pytest.mark.parametrize(
    "body",
    [
        {"image": "aGVsbG8=", "image_url": "https://images.example/a.jpg"},
        {"image_url": 7},
        {"image_url": "https://images.example/" + "a" * 3000},
    ],
)
def test_image_url_bodies_with_invalid_values_are_422(
    url_server: UvicornServer, body: dict[str, object]
) -> None:
    response = httpx.post(f"{url_server.url}/predict", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"


def test_by_default_http_and_hosts_off_the_allow_list_are_refused(
    api_server: UvicornServer, image_host: ImageHost
) -> None:
    """The shared server runs with the defaults, except the suite's host allow-list."""
    for url in (f"{image_host.url}/cat.jpg", "https://images.example/a.jpg"):
        response = predict_url(api_server, url)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "url_not_allowed"


def test_openapi_documents_image_url_and_its_error_codes(api_server: UvicornServer) -> None:
    spec = httpx.get(f"{api_server.url}/openapi.json").json()
    predict = spec["paths"]["/predict"]["post"]
    schema = predict["requestBody"]["content"]["application/json"]["schema"]
    assert "image_url" in schema["properties"]
    described = " ".join(r["description"] for r in predict["responses"].values())
    assert "url_not_allowed" in described and "url_fetch_failed" in described
