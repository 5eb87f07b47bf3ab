"""Every API failure reads as a sentence a person can act on."""

from __future__ import annotations

import pytest

from frontend.api_client import ApiError
from frontend.messages import readable_message
from frontend.settings import Settings

SETTINGS = Settings(api_url="http://api.test", total_timeout_s=20.0)


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (413, "payload_too_large", "Image too large: max 4.0 MiB per image"),
        (413, "image_too_large", "Image too large: max 40 megapixels"),
        (415, "unsupported_media_type", "upload one of JPEG, PNG, WebP, GIF, BMP, TIFF"),
        (400, "invalid_image", "The image could not be read"),
        (503, "model_unavailable", "The model is unavailable right now"),
        (403, "upload_failed", "could not be uploaded to the API's storage"),
        (503, "uploads_unavailable", "storage for large images did not work"),
        (404, "upload_not_found", "storage for large images did not work"),
        (None, "unreachable", "The API at http://api.test did not answer"),
        (504, "http_504", "did not answer (tried 3 time(s) over 20 s)"),
        (403, "http_403", "check the AIORNOT_API_KEY secret"),
        (429, "http_429", "Too many requests"),
        (404, "not_found", "is AIORNOT_API_URL (http://api.test) right?"),
        (422, "validation_error", "The API refused the request (422 validation_error)"),
    ],
)
def test_api_errors_become_readable_messages(status: int | None, code: str, expected: str) -> None:
    message = readable_message(ApiError(status, code, "raw detail", attempts=3), SETTINGS)
    assert expected in message
    assert "(the API said: raw detail)" in message


def test_byte_limit_in_the_message_follows_the_configured_limit() -> None:
    small = Settings(api_url="http://api.test", max_upload_bytes=1024 * 1024)
    message = readable_message(ApiError(413, "payload_too_large", ""), small)
    assert message.startswith("Image too large: max 1.0 MiB per image.")
    assert "the API said" not in message
