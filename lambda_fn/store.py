"""S3 access for model bundles: one configured client, uploads and verified downloads.

Credentials and region come from boto3's standard chain; `AWS_ENDPOINT_URL_S3` (read by
botocore itself) or an explicit `endpoint_url` points at any S3-compatible store.
Retries are botocore's "standard" mode, never a hand-written loop.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from lambda_fn.bundle import MANIFEST_NAME, BundleError, Manifest

DEFAULT_RETRIES = 4  # botocore's "max_attempts" counts retries after the first try
NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


def s3_client(
    endpoint_url: str | None = None,
    *,
    retries: int | None = None,
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
) -> Any:
    """An S3 client with bounded timeouts and botocore's standard retry mode.

    Unset arguments come from `AIORNOT_S3_RETRIES`, `AIORNOT_S3_CONNECT_TIMEOUT` and
    `AIORNOT_S3_READ_TIMEOUT` (seconds), so a deployment can keep a hanging store from
    outlasting Lambda's init phase.
    """
    # botocore reads these itself too; reading them here also selects path-style addressing.
    endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or None
    if retries is None:
        retries = int(os.environ.get("AIORNOT_S3_RETRIES", DEFAULT_RETRIES))
    if connect_timeout is None:
        connect_timeout = float(os.environ.get("AIORNOT_S3_CONNECT_TIMEOUT", 5.0))
    if read_timeout is None:
        read_timeout = float(os.environ.get("AIORNOT_S3_READ_TIMEOUT", 30.0))
    config = Config(
        retries={"mode": "standard", "max_attempts": retries},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        # Path-style works on every S3-compatible store (MinIO, moto, LocalStack) and on AWS.
        s3={"addressing_style": "path"} if endpoint_url else None,
    )
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/models/V/` -> ("bucket", "models/V/")."""
    if not uri.startswith("s3://"):
        raise BundleError(f"{uri}: not an s3:// URI")
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    prefix = prefix.strip("/")
    if not bucket or not prefix:
        raise BundleError(f"{uri}: expected s3://BUCKET/models/VERSION/")
    return bucket, prefix + "/"


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


def prefix_exists(client: Any, bucket: str, prefix: str) -> bool:
    """True when any object sits under `prefix` (even a partial upload)."""
    response = client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
    return response.get("KeyCount", 0) > 0


def list_prefixes(client: Any, bucket: str, prefix: str) -> list[str]:
    """The immediate "subfolders" of `prefix`, e.g. every version under models/."""
    paginator = client.get_paginator("list_objects_v2")
    found: list[str] = []
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        found.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
    return found


def upload_bundle(
    client: Any, directory: Path, manifest: Manifest, bucket: str, prefix: str
) -> None:
    """Upload the listed files, then `model.json` last: a partial upload is never a version."""
    for name in manifest.files:
        client.upload_file(str(directory / name), bucket, prefix + name)
    client.put_object(
        Bucket=bucket,
        Key=prefix + MANIFEST_NAME,
        Body=(directory / MANIFEST_NAME).read_bytes(),
        ContentType="application/json",
        IfNoneMatch="*",  # S3 conditional write: never replace a published manifest
    )
