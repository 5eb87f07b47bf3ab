"""Every row of the HTTP API's error table (413s: test_app_limits.py), through real uvicorn."""

from __future__ import annotations

import base64
import io

import httpx
import pytest
from PIL import Image

from tests.support.http_server import UvicornServer


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert len(body["error"]["message"]) > 10
    return body["error"]


def predict(server: UvicornServer, **kwargs: object) -> httpx.Response:
    return httpx.post(f"{server.url}/predict", timeout=30, **kwargs)  # type: ignore[arg-type]


# -- 400 invalid_image ------------------------------------------------------------------


def test_predict_rejects_truncated_jpeg(api_server: UvicornServer, images: dict[str, bytes]):
    data = images["jpeg"][: len(images["jpeg"]) // 2]
    response = predict(api_server, content=data, headers={"content-type": "image/jpeg"})
    assert_error(response, 400, "invalid_image")


def test_predict_rejects_an_empty_body(api_server: UvicornServer) -> None:
    response = predict(api_server, content=b"", headers={"content-type": "image/png"})
    assert_error(response, 400, "invalid_image")


def test_predict_rejects_corrupt_png_data(api_server: UvicornServer, images: dict[str, bytes]):
    data = bytearray(images["png"])
    data[60:200] = bytes(140)
    response = predict(api_server, content=bytes(data), headers={"content-type": "image/png"})
    assert_error(response, 400, "invalid_image")


def test_predict_rejects_an_empty_base64_image(api_server: UvicornServer) -> None:
    assert_error(predict(api_server, json={"image": ""}), 400, "invalid_image")


# -- 400 bad_request --------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2]", b'{"explain": true}', b'{"image": "***not base64***"}',
     b'{"image": "data:image/png,abc"}', b"[" * 100_000],
    ids=["malformed", "not-an-object", "missing-image", "bad-base64", "uri-not-base64", "deep"],
)  # fmt: skip
def test_predict_rejects_bad_json_bodies(api_server: UvicornServer, body: bytes) -> None:
    response = predict(api_server, content=body, headers={"content-type": "application/json"})
    assert_error(response, 400, "bad_request")


def test_predict_rejects_multipart_without_a_file_field(api_server: UvicornServer) -> None:
    response = predict(api_server, data={"file": "not a file"}, files={"other": ("a", b"x")})
    assert_error(response, 400, "bad_request")


def test_predict_rejects_multipart_without_a_boundary(api_server: UvicornServer) -> None:
    response = predict(
        api_server, content=b"--x\r\n", headers={"content-type": "multipart/form-data"}
    )
    assert_error(response, 400, "bad_request")


# -- 404 / 405 --------------------------------------------------------------------------


@pytest.mark.parametrize("method,path", [("GET", "/nope"), ("POST", "/predict/extra")])
def test_unknown_paths_are_not_found(api_server: UvicornServer, method: str, path: str) -> None:
    assert_error(httpx.request(method, f"{api_server.url}{path}"), 404, "not_found")


@pytest.mark.parametrize(
    "method,path", [("GET", "/predict"), ("PUT", "/health"), ("DELETE", "/model")]
)
def test_wrong_methods_are_not_allowed(api_server: UvicornServer, method: str, path: str) -> None:
    response = httpx.request(method, f"{api_server.url}{path}")
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"]


# -- 415 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "image/svg+xml", "application/octet-stream"]
)
def test_predict_rejects_content_types_outside_the_list(
    api_server: UvicornServer, images: dict[str, bytes], content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = predict(api_server, content=images["png"], headers=headers)
    assert_error(response, 415, "unsupported_media_type")


def test_predict_rejects_an_image_format_outside_the_list(api_server: UvicornServer) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), "red").save(buffer, format="ICO")
    response = predict(api_server, content=buffer.getvalue(), headers={"content-type": "image/png"})
    assert_error(response, 415, "unsupported_media_type")


def test_predict_rejects_bytes_that_are_no_image(api_server: UvicornServer) -> None:
    response = predict(api_server, content=b"hello " * 50, headers={"content-type": "image/jpeg"})
    assert_error(response, 415, "unsupported_media_type")


def test_predict_rejects_a_data_uri_of_another_type(api_server: UvicornServer) -> None:
    image = "data:text/plain;base64," + base64.b64encode(b"hello").decode()
    assert_error(predict(api_server, json={"image": image}), 415, "unsupported_media_type")


# -- 422 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [{"image": "aGk=", "explain": "yes"}, {"image": 12345}, {"image": "aGk=", "explian": True}],
    ids=["explain-not-bool", "image-not-string", "unknown-field"],
)
def test_predict_rejects_invalid_json_values(api_server: UvicornServer, body: object) -> None:
    assert_error(predict(api_server, json=body), 422, "validation_error")


def test_predict_rejects_a_non_boolean_explain_query(
    api_server: UvicornServer, images: dict[str, bytes]
) -> None:
    response = httpx.post(
        f"{api_server.url}/predict?explain=maybe",
        content=images["png"],
        headers={"content-type": "image/png"},
    )
    assert "explain" in assert_error(response, 422, "validation_error")["message"]


# -- 503 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,path", [("GET", "/health"), ("GET", "/model"), ("POST", "/predict")]
)
def test_a_bundle_that_fails_verification_answers_model_unavailable(
    broken_api_server: UvicornServer, images: dict[str, bytes], method: str, path: str
) -> None:
    response = httpx.request(
        method,
        f"{broken_api_server.url}{path}",
        content=images["jpeg"] if method == "POST" else None,
        headers={"content-type": "image/jpeg"},
    )
    message = assert_error(response, 503, "model_unavailable")["message"]
    assert "/tmp" not in message and "sha256" not in message  # the reason is logged, not leaked


def test_the_reason_a_model_is_unavailable_is_logged(broken_api_server: UvicornServer) -> None:
    reasons = [
        r for r in broken_api_server.log_records() if r.get("message") == "model unavailable"
    ]
    assert reasons and "sha256 mismatch" in reasons[0]["reason"]
    assert broken_api_server.alive
