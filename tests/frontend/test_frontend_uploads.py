"""Large files reach the model at full size: the app uploads them to S3, then predicts on the key.

End to end: the launched app, driven by gradio_client, against the real API under uvicorn,
whose uploads bucket is on moto's S3 server. moto stores presigned POSTs without enforcing
their policy (see tests/lambda_fn/test_app_uploads.py), so the app checks the ticket's
`max_bytes` itself, and this module tests that path against a smaller server limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from frontend.settings import Settings
from tests.frontend.conftest import RunningFrontend, _launch
from tests.lambda_fn.test_app_uploads import noise_png
from tests.support.http_server import UvicornServer
from tests.support.s3_server import S3Server, uploads_bucket

__all__ = ["uploads_bucket"]  # the fixture used below

MIB = 1024 * 1024
UPLOAD_LIMIT = 12 * MIB
BIG_PNG = noise_png(1850)  # about 10 MB: over the 4 MiB request limit, under the upload limit
HUGE_PNG = noise_png(2100, seed=1)  # about 13 MB: over the upload limit too


@pytest.fixture(scope="module")
def upload_frontend(
    uploads_bucket: str, demo_bundle: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningFrontend]:
    env = {
        "MODEL_URI": str(demo_bundle),
        "MODEL_CACHE_DIR": str(tmp_path_factory.mktemp("cache")),
        "ORT_INTRA_OP_THREADS": "1",
        "UPLOADS_BUCKET": uploads_bucket,
        "UPLOADS_MAX_BYTES": str(UPLOAD_LIMIT),
    }
    with UvicornServer(env=env) as api:
        settings = Settings(
            api_url=api.url, api_key="k-secret", flag_dir=tmp_path_factory.mktemp("flags")
        )
        yield from _launch(settings)


@pytest.fixture(scope="module")
def client(upload_frontend: RunningFrontend) -> Client:
    return Client(upload_frontend.url, verbose=False)


def uploaded_objects(s3_server: S3Server, bucket: str) -> dict[str, bytes]:
    s3 = s3_server.client()
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def test_a_file_over_the_request_limit_is_sent_unchanged_through_an_upload(
    client: Client, s3_server: S3Server, uploads_bucket: str, tmp_path: Path
) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(BIG_PNG)
    before = uploaded_objects(s3_server, uploads_bucket)

    headline, label, heatmap, details = client.predict(handle_file(str(big)), api_name="/predict")

    assert headline.startswith("## Verdict:") and label["confidences"] and heatmap is not None
    assert "Sent at full size (9.8 MiB) through an upload." in details
    assert "converted" not in details
    new = {k: v for k, v in uploaded_objects(s3_server, uploads_bucket).items() if k not in before}
    assert list(new.values()) == [BIG_PNG]  # the original bytes, not a re-encoded copy
    assert next(iter(new)).startswith("uploads/")


def test_a_file_over_the_upload_limit_too_is_shrunk_and_says_why(
    client: Client, s3_server: S3Server, uploads_bucket: str, tmp_path: Path
) -> None:
    huge = tmp_path / "huge.png"
    huge.write_bytes(HUGE_PNG)
    assert len(HUGE_PNG) > UPLOAD_LIMIT
    before = uploaded_objects(s3_server, uploads_bucket)

    headline, _, _, details = client.predict(handle_file(str(huge)), api_name="/predict")

    assert headline.startswith("## Verdict:")
    assert "It is over the API's upload limit (12 MiB)." in details
    assert "was converted to a 2048x2048 JPEG" in details
    assert uploaded_objects(s3_server, uploads_bucket) == before  # nothing was posted to S3


def test_a_small_file_still_goes_in_the_request(
    client: Client, s3_server: S3Server, uploads_bucket: str
) -> None:
    before = uploaded_objects(s3_server, uploads_bucket)
    example = Path(__file__).parents[2] / "frontend" / "examples" / "real-motorcycle.jpg"

    _, _, _, details = client.predict(handle_file(str(example)), api_name="/predict")

    assert "upload" not in details and "converted" not in details
    assert uploaded_objects(s3_server, uploads_bucket) == before
