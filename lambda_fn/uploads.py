"""Images over Lambda's 6 MB payload limit: the client uploads to S3 itself, then names the key.

`POST /uploads` hands out a presigned POST for one fresh key under `uploads/`, limited in
size and time by S3's own policy check; `POST /predict {"s3_key": ...}` reads that object
back, refusing anything outside the prefix or over the byte limit. The bucket expires
uploads after a day, so nothing here deletes.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lambda_fn.s3_download import NOT_FOUND, s3_client

UPLOAD_PREFIX = "uploads/"
# Only keys this server hands out: the prefix and a random hex name, nothing to traverse.
UPLOAD_KEY_PATTERN = r"^uploads/[0-9a-f]{32}$"
_UPLOAD_KEY = re.compile(UPLOAD_KEY_PATTERN)
_CHUNK = 1024 * 1024


class UploadError(Exception):
    """An upload that cannot be used; `code` is the API's error code for it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class UploadTicket:
    """Where and how the client POSTs its file: `url`, the form `fields`, then `file` last."""

    key: str
    url: str
    fields: dict[str, str]
    expires_in: int
    max_bytes: int


class UploadStore:
    """Presigned POSTs into, and bounded reads from, `s3://BUCKET/uploads/`."""

    def __init__(
        self, bucket: str, *, max_bytes: int, expires_in: int, client: Any | None = None
    ) -> None:
        self.bucket = bucket
        self.max_bytes = max_bytes
        self.expires_in = expires_in
        self._client = client

    @property
    def client(self) -> Any:
        """Made on first use: a server without uploads never builds it."""
        if self._client is None:
            self._client = s3_client(presigning=True)
        return self._client

    def reset_client(self) -> None:
        """Drop the client (and its pooled connections); the next use makes a new one."""
        self._client = None

    def new_ticket(self) -> UploadTicket:
        """A fresh random key, signed for one POST of 1..max_bytes bytes within `expires_in`."""
        key = f"{UPLOAD_PREFIX}{uuid.uuid4().hex}"
        try:
            post = self.client.generate_presigned_post(
                Bucket=self.bucket,
                Key=key,
                Conditions=[["content-length-range", 1, self.max_bytes]],
                ExpiresIn=self.expires_in,
            )
        except (ClientError, BotoCoreError) as exc:
            raise unavailable(f"an upload could not be signed ({exc})") from exc
        return UploadTicket(
            key=key,
            url=post["url"],
            fields={name: str(value) for name, value in post["fields"].items()},
            expires_in=self.expires_in,
            max_bytes=self.max_bytes,
        )

    def read(self, key: str) -> bytes:
        """The uploaded bytes, never more than `max_bytes` of them buffered."""
        if not _UPLOAD_KEY.fullmatch(key):
            raise UploadError(
                "upload_not_found",
                f"{key!r} is not an upload key; use the key POST /uploads returned "
                f"({UPLOAD_PREFIX}<32 hex digits>).",
            )
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in NOT_FOUND:
                raise UploadError(
                    "upload_not_found",
                    f"No upload at {key}: it was never uploaded, the POST to S3 failed, or "
                    "it expired (uploads are kept for one day). Upload it again.",
                ) from exc
            raise unavailable(f"{key} could not be read ({code or exc})") from exc
        except BotoCoreError as exc:
            raise unavailable(f"{key} could not be read ({exc})") from exc
        body = response["Body"]
        try:
            if int(response.get("ContentLength") or 0) > self.max_bytes:
                raise too_large(self.max_bytes)
            return _read_capped(body, self.max_bytes)
        except BotoCoreError as exc:
            raise unavailable(f"{key} could not be read ({exc})") from exc
        finally:
            body.close()


def _read_capped(body: Any, limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while chunk := body.read(_CHUNK):
        total += len(chunk)
        if total > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def too_large(limit: int) -> UploadError:
    return UploadError(
        "payload_too_large",
        f"The upload is over the limit of {limit:,} bytes (UPLOADS_MAX_BYTES); re-encode or "
        "downscale the image.",
    )


def unavailable(detail: str) -> UploadError:
    return UploadError("uploads_unavailable", f"The upload store is unavailable: {detail}.")
