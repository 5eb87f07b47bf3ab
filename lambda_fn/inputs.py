"""Turn a /predict request body into image bytes, enforcing the byte limit before any parsing."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Literal

from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.types import Message

from lambda_fn.errors import ApiError, describe_validation
from lambda_fn.image_contract import ALLOWED_FORMATS
from lambda_fn.schemas import IMAGE_FIELDS, PredictJson

RAW_MEDIA_TYPES: tuple[str, ...] = tuple(sorted(set(ALLOWED_FORMATS.values())))
JSON_TYPE = "application/json"
MULTIPART_TYPE = "multipart/form-data"
ENVELOPE_BYTES = 64 * 1024  # JSON keys, a data: URI prefix, multipart boundaries and part headers
InputStyle = Literal["raw", "json", "multipart", "url", "upload"]


@dataclass(frozen=True)
class ImageRequest:
    """The image's bytes, or where to get them: the URL (style `url`) or upload key (`upload`)."""

    data: bytes
    style: InputStyle
    explain: bool = False
    url: str | None = None
    s3_key: str | None = None


def body_limit(style: InputStyle, max_image_bytes: int) -> int:
    """The image limit is the same in every style; base64 gets its honest 4/3 on top."""
    if style == "raw":
        return max_image_bytes
    if style == "json":  # 4/3 for base64, 2% for line breaks some encoders insert
        return -(-max_image_bytes * 4 // 3) * 102 // 100 + ENVELOPE_BYTES
    return max_image_bytes + ENVELOPE_BYTES


def style_for(content_type: str | None) -> InputStyle:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type in RAW_MEDIA_TYPES:
        return "raw"
    if media_type == JSON_TYPE:
        return "json"
    if media_type == MULTIPART_TYPE:
        return "multipart"
    raise ApiError(
        "unsupported_media_type",
        f"Content-Type {media_type or '(none)'} is not accepted; send the image as raw bytes "
        f'({", ".join(RAW_MEDIA_TYPES)}), as {JSON_TYPE} {{"image": "<base64>"}}, '
        f"or as {MULTIPART_TYPE} with the file in field 'file'.",
    )


def _too_large(limit: int, what: str = "request body") -> ApiError:
    return ApiError(
        "payload_too_large",
        f"The {what} is over the limit of {limit:,} bytes; send a smaller image "
        "(re-encode as JPEG or downscale it).",
    )


async def read_limited(request: Request, limit: int) -> bytes:
    """Refuse by Content-Length first, then count the stream: never buffer more than `limit`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def decode_base64_image(text: str) -> bytes:
    """Base64 (standard or URL-safe, padding optional) or a `data:` URI -> bytes."""
    if text.startswith("data:"):
        header, sep, text = text.partition(",")
        media_type = header[5:].split(";", 1)[0].strip().lower()
        if not sep or ";base64" not in header.lower():
            raise ApiError("bad_request", "A data: URI must be base64: data:image/png;base64,...")
        if media_type and media_type not in RAW_MEDIA_TYPES:
            raise ApiError(
                "unsupported_media_type",
                f"The data: URI's type {media_type} is not accepted; use one of "
                f"{', '.join(RAW_MEDIA_TYPES)}.",
            )
    compact = "".join(text.split())
    compact += "=" * (-len(compact) % 4)
    altchars = b"-_" if ("-" in compact or "_" in compact) else None
    try:
        return base64.b64decode(compact, altchars=altchars, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError("bad_request", f"Field 'image' is not valid base64: {exc}") from exc


def parse_json(body: bytes, max_image_bytes: int) -> ImageRequest:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise ApiError("bad_request", f"The body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict) or not (set(IMAGE_FIELDS) & payload.keys()):
        raise ApiError(
            "bad_request",
            'The JSON body must be an object with field "image" (base64 or a data: URI), '
            '"image_url" (an https URL) or "s3_key" (from POST /uploads).',
        )
    try:
        parsed = PredictJson.model_validate(payload)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        raise ApiError("validation_error", describe_validation(errors)) from exc
    if parsed.image_url is not None:
        return ImageRequest(data=b"", style="url", explain=parsed.explain, url=parsed.image_url)
    if parsed.s3_key is not None:
        return ImageRequest(data=b"", style="upload", explain=parsed.explain, s3_key=parsed.s3_key)
    assert parsed.image is not None  # the schema gives exactly one of the two
    data = decode_base64_image(parsed.image)
    if len(data) > max_image_bytes:
        raise _too_large(max_image_bytes, "decoded image")
    return ImageRequest(data=data, style="json", explain=parsed.explain)


async def parse_multipart(request: Request, body: bytes) -> ImageRequest:
    """Parse the already-limited body with Starlette's parser (python-multipart underneath)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=1, max_fields=16)
    except (MultiPartException, HTTPException) as exc:
        detail = getattr(exc, "message", None) or getattr(exc, "detail", str(exc))
        raise ApiError("bad_request", f"The multipart body could not be parsed: {detail}") from exc
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise ApiError(
            "bad_request",
            "The multipart body needs the image as a file in field 'file' "
            "(curl -F file=@image.jpg).",
        )
    try:
        return ImageRequest(data=await upload.read(), style="multipart")
    finally:
        await form.close()


async def read_image_request(request: Request, max_image_bytes: int) -> ImageRequest:
    """Content type first (cheap 415), then the limited read, then the style's parser."""
    style = style_for(request.headers.get("content-type"))
    body = await read_limited(request, body_limit(style, max_image_bytes))
    if style == "raw":
        return ImageRequest(data=body, style="raw")
    if style == "json":
        return parse_json(body, max_image_bytes)
    result = await parse_multipart(request, body)
    if len(result.data) > max_image_bytes:
        raise _too_large(max_image_bytes, "uploaded file")
    return result
