"""The client retries cold starts inside its time budget; every failure becomes an ApiError."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from frontend.api_client import ApiClient, ApiError, UploadTooLarge
from frontend.settings import Settings
from tests.frontend.scripted_server import ScriptedServer

OK = {"label": "ai", "ai_probability": 0.9, "threshold": 0.5, "model": {"version": "v1"}}
COLD = {"error": {"code": "model_unavailable", "message": "loading"}}


def fast(url: str, **overrides: object) -> Settings:
    """Settings with tiny backoffs, so retries cost milliseconds."""
    base = Settings(api_url=url, total_timeout_s=5.0, backoff_initial_s=0.01, backoff_max_s=0.05)
    return base.model_copy(update=overrides)


def predict(client: ApiClient) -> object:
    return client.predict(b"x", "image/jpeg")


def failing(
    script: list[tuple[int, object]], call: Callable[[ApiClient], object], **overrides: object
) -> tuple[ApiError, ScriptedServer]:
    """Run `call` against a scripted API that makes it fail; return the error and the server."""
    with ScriptedServer(script) as server, pytest.raises(ApiError) as caught:
        call(ApiClient(fast(server.url, **overrides)))
    return caught.value, server


def test_cold_start_503s_are_retried_until_the_api_answers() -> None:
    with ScriptedServer([(503, COLD), (503, COLD), (200, OK)]) as server:
        answer = ApiClient(fast(server.url, api_key="k-123")).predict(b"img", "image/png")
    assert answer.body == OK and answer.attempts == 3
    assert [s.path for s in server.seen] == ["/predict?explain=true"] * 3
    assert all(s.body == b"img" for s in server.seen)
    assert all(s.headers["Content-Type"] == "image/png" for s in server.seen)
    assert all(s.headers["x-api-key"] == "k-123" for s in server.seen)


@pytest.mark.parametrize("status", [502, 504])
def test_gateway_errors_are_retried_too(status: int) -> None:
    with ScriptedServer([(status, {"message": "Gateway"}), (200, OK)]) as server:
        assert ApiClient(fast(server.url)).predict(b"x", "image/jpeg").attempts == 2


def test_retries_stop_inside_the_total_timeout_with_the_last_error() -> None:
    error, server = failing([(503, COLD)], predict, total_timeout_s=0.3)
    assert (error.status, error.code, error.message) == (503, "model_unavailable", "loading")
    assert error.attempts == len(server.seen) and error.attempts >= 2


def test_client_errors_are_final_and_keep_the_api_code() -> None:
    bad = {"error": {"code": "invalid_image", "message": "truncated JPEG"}}
    error, server = failing([(400, bad), (200, OK)], predict)
    assert (error.status, error.code, error.message) == (400, "invalid_image", "truncated JPEG")
    assert len(server.seen) == 1 and not error.transient


def test_api_gateway_style_bodies_become_api_errors() -> None:
    error, _ = failing([(403, {"message": "Forbidden"})], ApiClient.model)
    assert (error.status, error.code, error.message) == (403, "http_403", "Forbidden")


def test_a_non_json_success_is_an_error_not_a_crash() -> None:
    error, _ = failing([(200, b"<html>hello</html>")], ApiClient.model)
    assert (error.status, error.code) == (200, "bad_response")


def test_an_unreachable_api_is_retried_then_reported_without_a_status() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ApiError) as caught:
        ApiClient(fast(f"http://127.0.0.1:{port}", total_timeout_s=0.3)).model()
    assert caught.value.status is None and caught.value.code == "unreachable"
    assert caught.value.attempts >= 2 and caught.value.transient


def ticket(storage_url: str, max_bytes: int = 1000) -> dict[str, object]:
    fields = {"key": "uploads/" + "a" * 32, "policy": "p", "x-amz-signature": "s"}
    return {"key": fields["key"], "url": storage_url, "fields": fields, "max_bytes": max_bytes}


def test_an_upload_posts_the_form_to_storage_without_the_api_key_then_predicts_on_the_key() -> None:
    with (
        ScriptedServer([(204, b"")]) as storage,
        ScriptedServer([(200, ticket(storage.url + "/bucket")), (200, OK)]) as api,
    ):
        answer = ApiClient(fast(api.url, api_key="k-123")).predict_uploaded(
            b"img-bytes", "image/png"
        )
    assert answer.body == OK and answer.attempts == 2
    posted = storage.seen[0]
    assert (posted.method, posted.path) == ("POST", "/bucket")
    assert "x-api-key" not in {name.lower() for name in posted.headers}
    body = posted.body.decode()
    assert body.index('name="key"') < body.index('name="policy"') < body.index('name="file"')
    assert "Content-Type: image/png\r\n\r\nimg-bytes" in body
    assert [(s.method, s.path) for s in api.seen] == [("POST", "/uploads"), ("POST", "/predict")]
    assert api.seen[0].headers["x-api-key"] == "k-123"
    assert api.seen[1].body == b'{"s3_key": "uploads/' + b"a" * 32 + b'", "explain": true}'


def test_a_file_over_the_tickets_limit_is_not_posted() -> None:
    with (
        ScriptedServer([(204, b"")]) as storage,
        ScriptedServer([(200, ticket(storage.url, max_bytes=4))]) as api,
        pytest.raises(UploadTooLarge) as caught,
    ):
        ApiClient(fast(api.url)).predict_uploaded(b"12345", "image/png")
    assert caught.value.max_bytes == 4 and storage.seen == []


def test_storage_refusing_the_upload_is_an_api_error_with_s3s_reason() -> None:
    refusal = b"<Error><Code>AccessDenied</Code><Message>Policy expired</Message></Error>"
    with (
        ScriptedServer([(403, refusal)]) as storage,
        ScriptedServer([(200, ticket(storage.url))]) as api,
        pytest.raises(ApiError) as caught,
    ):
        ApiClient(fast(api.url)).predict_uploaded(b"img", "image/png")
    error = caught.value
    assert (error.status, error.code) == (403, "upload_failed")
    assert "AccessDenied: Policy expired" in error.message
    assert len(api.seen) == 1  # no predict on a key that holds nothing


def test_a_ticket_without_a_usable_url_is_refused_before_sending_anything() -> None:
    with (
        ScriptedServer([(200, ticket("file:///etc/passwd"))]) as api,
        pytest.raises(ApiError) as caught,
    ):
        ApiClient(fast(api.url)).predict_uploaded(b"img", "image/png")
    assert caught.value.code == "upload_failed" and len(api.seen) == 1
