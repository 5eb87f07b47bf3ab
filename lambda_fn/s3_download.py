"""Reading bundles from S3: one configured client and the verified-download primitives.

Credentials and region come from boto3's standard chain; `AWS_ENDPOINT_URL_S3` (read by
botocore itself) or an explicit `endpoint_url` points at any S3-compatible store.
Retries are botocore's "standard" mode, never a hand-written loop; timeouts and retries are
`S3Settings`. Only reads live here: publishing is `model_training.registry`'s job.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from lambda_fn.manifest import MANIFEST_NAME, BundleError, Manifest
from lambda_fn.settings import S3Settings

NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


def s3_client(
    endpoint_url: str | None = None,
    settings: S3Settings | None = None,
    *,
    presigning: bool = False,
) -> Any:
    """An S3 client with bounded timeouts and botocore's standard retry mode.

    `settings` defaults to `AIORNOT_S3_RETRIES`, `AIORNOT_S3_CONNECT_TIMEOUT` and
    `AIORNOT_S3_READ_TIMEOUT` (seconds), so a deployment can keep a hanging store from
    outlasting Lambda's init phase. A `presigning` client signs with SigV4 (botocore's
    default for presigned POSTs is still SigV2) for the bucket's regional endpoint, which
    answers a new bucket's POSTs at once where the global one redirects for up to a day.
    """
    # boto3 is imported here, not at module import: a bundle already on disk never needs it.
    import boto3
    from botocore.config import Config

    settings = settings or S3Settings()
    session = boto3.session.Session()
    # botocore reads this itself too; reading it here also selects path-style addressing.
    endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or None
    # Path-style works on every S3-compatible store (MinIO, moto, LocalStack) and on AWS.
    s3_options = {"addressing_style": "path"} if endpoint_url else None
    if presigning and not endpoint_url and session.region_name:
        endpoint_url = f"https://s3.{session.region_name}.amazonaws.com"
        s3_options = {"addressing_style": "virtual"}
    config = Config(
        retries={"mode": "standard", "max_attempts": settings.retries},
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        s3=s3_options,
        signature_version="s3v4" if presigning else None,
    )
    return session.client("s3", endpoint_url=endpoint_url, config=config)


def _describe(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', '?')}: {error.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"


def fetch_manifest(client: Any, bucket: str, prefix: str) -> Manifest:
    """Read and validate `model.json` at a version prefix."""
    uri = f"s3://{bucket}/{prefix}{MANIFEST_NAME}"
    try:
        body = client.get_object(Bucket=bucket, Key=prefix + MANIFEST_NAME)["Body"].read()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in NOT_FOUND:
            raise BundleError(
                f"{uri}: not found: no published version at s3://{bucket}/{prefix}",
                file=MANIFEST_NAME,
            ) from exc
        raise BundleError(
            f"{uri}: could not be read ({_describe(exc)})", file=MANIFEST_NAME
        ) from exc
    except BotoCoreError as exc:
        raise BundleError(
            f"{uri}: could not be read ({_describe(exc)})", file=MANIFEST_NAME
        ) from exc
    try:
        return Manifest.model_validate_json(body)
    except ValidationError as exc:
        raise BundleError(f"{uri}: invalid manifest: {exc}", file=MANIFEST_NAME) from exc


def download_bundle(bucket: str, prefix: str, dest: Path, *, client: Any | None = None) -> Manifest:
    """Download `model.json` and every file it lists into `dest` (the caller verifies)."""
    client = client or s3_client()
    manifest = fetch_manifest(client, bucket, prefix)
    dest.mkdir(parents=True, exist_ok=True)
    for name in manifest.files:
        try:
            client.download_file(bucket, prefix + name, str(dest / name))
        except (ClientError, BotoCoreError) as exc:
            raise BundleError(
                f"s3://{bucket}/{prefix}{name}: download failed ({_describe(exc)})", file=name
            ) from exc
    (dest / MANIFEST_NAME).write_text(manifest.dump_json())
    return manifest
