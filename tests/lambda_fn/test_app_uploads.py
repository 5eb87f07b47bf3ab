"""Images over the request limit, end to end: POST /uploads, the file to S3, /predict s3_key.

S3 is moto's server over HTTP. moto stores what a presigned POST sends but does not check
the POST policy's conditions (size range, key, expiry), so the policy S3 would enforce is
read back and asserted here, and the server's own limits are tested by putting objects
past them directly.
"""

from __future__ import annotations

import base64
import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from lambda_fn.errors import STATUS_BY_CODE
from lambda_fn.uploads import UploadError, UploadStore
from tests.lambda_fn.conftest import make_image
from tests.lambda_fn.test_app_predict import reference_probability
from tests.support.http_server import UvicornServer
from tests.support.s3_server import S3Server, aws_test_env, s3_server, uploads_bucket

__all__ = ["s3_server", "uploads_bucket"]  # the fixtures used below

MIB = 1024 * 1024
MAX_PIXELS = 4_000_000
UPLOAD_LIMIT = 12 * MIB


def noise_png(side: int, seed: int = 0) -> bytes:
    """Random pixels do not compress: a PNG of about 3 * side**2 bytes."""
    pixels = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


BIG_PNG = noise_png(1850)  # about 10 MB, 3.4 Mpx: over the 4 MiB request limit, under the rest


@pytest.fixture(scope="module")
def upload_server(
    uploads_bucket: str, resnet_bundle: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[UvicornServer]:
    env = {
        "MODEL_URI": str(resnet_bundle),
        "MODEL_CACHE_DIR": str(tmp_path_factory.mktemp("upload-cache")),
        "ORT_INTRA_OP_THREADS": "1",
        "UPLOADS_BUCKET": uploads_bucket,
        "UPLOADS_MAX_BYTES": str(UPLOAD_LIMIT),
        "MAX_PIXELS": str(MAX_PIXELS),
    }
    with UvicornServer(env=env) as server:
        yield server


def upload(server: UvicornServer, data: bytes) -> str:
    """What a client does: ask for a ticket, POST the form to S3, return the key."""
    ticket = httpx.post(f"{server.url}/uploads", timeout=30)
    assert ticket.status_code == 200, ticket.text
    body = ticket.json()
    sent = httpx.post(
        body["url"],
        data=body["fields"],
        files={"file": ("photo.png", data, "image/png")},
        timeout=60,
    )
    assert sent.status_code in (200, 201, 204), sent.text
    return str(body["key"])


def predict_key(server: UvicornServer, key: str, **extra: object) -> httpx.Response:
    return httpx.post(f"{server.url}/predict", json={"s3_key": key, **extra}, timeout=60)


def test_an_image_over_the_request_limit_goes_through_s3_and_is_classified(
    upload_server: UvicornServer, resnet_bundle: Path
) -> None:
    assert len(BIG_PNG) > 9_500_000
    direct = httpx.post(
        f"{upload_server.url}/predict",
        content=BIG_PNG,
        headers={"content-type": "image/png"},
        timeout=60,
    )
    assert direct.status_code == 413 and direct.json()["error"]["code"] == "payload_too_large"

    answer = predict_key(upload_server, upload(upload_server, BIG_PNG), explain=True)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["ai_probability"] == pytest.approx(
        reference_probability(resnet_bundle, BIG_PNG), abs=1e-5
    )
    assert body["heatmap"]


def test_the_ticket_signs_one_fresh_key_under_uploads_with_a_size_range_and_an_expiry(
    upload_server: UvicornServer,
) -> None:
    first = httpx.post(f"{upload_server.url}/uploads").json()
    second = httpx.post(f"{upload_server.url}/uploads").json()

    assert first["key"] != second["key"]
    assert first["key"].startswith("uploads/") and first["fields"]["key"] == first["key"]
    assert first["max_bytes"] == UPLOAD_LIMIT and 60 <= first["expires_in"] <= 3600
    policy = json.loads(base64.b64decode(first["fields"]["policy"]))
    assert ["content-length-range", 1, UPLOAD_LIMIT] in policy["conditions"]
    assert {"key": first["key"]} in policy["conditions"]
    expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert timedelta(0) < expires - datetime.now(UTC) <= timedelta(seconds=first["expires_in"])
    assert first["fields"]["x-amz-algorithm"] == "AWS4-HMAC-SHA256"


@pytest.mark.parametrize(
    "key",
    ["models/v1/model.onnx", "uploads/../models/v1/model.onnx", "uploads/", "uploads/ABC", ""],
)
def test_keys_outside_the_upload_namespace_are_refused_without_reading_s3(
    upload_server: UvicornServer, key: str
) -> None:
    answer = predict_key(upload_server, key)

    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "validation_error"
    assert "s3_key" in answer.json()["error"]["message"]


def test_a_key_that_was_never_uploaded_is_a_404_that_says_what_to_do(
    upload_server: UvicornServer,
) -> None:
    answer = predict_key(upload_server, f"uploads/{uuid.uuid4().hex}")

    assert answer.status_code == 404
    error = answer.json()["error"]
    assert error["code"] == "upload_not_found" and "Upload it again" in error["message"]


def test_an_object_over_the_upload_limit_is_refused(
    upload_server: UvicornServer, uploads_bucket: str, s3_server: S3Server
) -> None:
    key = f"uploads/{uuid.uuid4().hex}"  # put directly: moto would not enforce the policy
    s3_server.client().put_object(Bucket=uploads_bucket, Key=key, Body=b"\0" * (UPLOAD_LIMIT + 1))

    answer = predict_key(upload_server, key)

    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "payload_too_large"


def test_the_pixel_limit_and_the_image_checks_hold_for_uploads(
    upload_server: UvicornServer,
) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (2100, 2100), (90, 120, 200)).save(buffer, format="PNG")  # 4.4 Mpx

    too_many = predict_key(upload_server, upload(upload_server, buffer.getvalue()))
    not_an_image = predict_key(upload_server, upload(upload_server, b"%PDF-1.7 not an image"))

    assert too_many.status_code == 413 and too_many.json()["error"]["code"] == "image_too_large"
    assert not_an_image.status_code in (400, 415)
    assert not_an_image.json()["error"]["code"] in ("invalid_image", "unsupported_media_type")


def test_exactly_one_image_field_is_accepted(upload_server: UvicornServer) -> None:
    key = upload(upload_server, make_image("JPEG"))
    inline = base64.b64encode(make_image("JPEG")).decode()

    both = httpx.post(f"{upload_server.url}/predict", json={"s3_key": key, "image": inline})

    assert both.status_code == 422 and "exactly one" in both.json()["error"]["message"]


def test_a_server_without_an_upload_bucket_says_so_on_both_routes(
    api_server: UvicornServer,
) -> None:
    ticket = httpx.post(f"{api_server.url}/uploads")
    by_key = predict_key(api_server, f"uploads/{uuid.uuid4().hex}")

    for answer in (ticket, by_key):
        assert answer.status_code == 404
        error = answer.json()["error"]
        assert error["code"] == "uploads_disabled" and "UPLOADS_BUCKET" in error["message"]


def test_an_unreadable_store_is_uploads_unavailable_not_a_500(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws_test_env(monkeypatch, s3_server.endpoint_url)
    store = UploadStore("no-such-bucket-here", max_bytes=MIB, expires_in=300)

    with pytest.raises(UploadError) as caught:
        store.read(f"uploads/{uuid.uuid4().hex}")

    assert caught.value.code == "uploads_unavailable"
    assert STATUS_BY_CODE[caught.value.code] == 503
    assert "NoSuchBucket" in caught.value.message
