"""The bad-input corpus: every hostile or odd request we know of, built in memory by code.

Each `Case` says what to send and which status and code the API contract (DESIGN.md's
error table) promises for it; `code=None` means a 200 prediction.
"""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

MIB = 1024 * 1024
LIMIT = 4 * MIB  # the default MAX_BODY_BYTES the hardening server runs with
JSON = {"content-type": "application/json"}


@dataclass(frozen=True)
class Case:
    id: str
    status: int
    code: str | None  # None: a 200 prediction
    content: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    path: str = "/predict"
    # Damage the decoder may or may not notice (a flipped bit in lossy entropy data can still
    # decode): a 200 prediction or 400 invalid_image are both correct; anything else is not.
    either_ok_or_invalid: bool = False


def image_bytes(
    fmt: str = "PNG", size: tuple[int, int] = (48, 40), mode: str = "RGB", **save: object
) -> bytes:
    """A small noisy image in any mode and format."""
    rng = np.random.default_rng(sum(size))
    rgb = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8), "RGB")
    img = rgb.convert(mode) if mode not in ("I;16", "LA") else _special(rgb, mode)
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **save)
    return buffer.getvalue()


def _special(rgb: Image.Image, mode: str) -> Image.Image:
    if mode == "LA":
        return rgb.convert("LA")
    grey = np.asarray(rgb.convert("L"), dtype=np.uint16) * 257
    return Image.fromarray(grey.astype("<u2"))  # mode I;16


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width x height, with a token IDAT behind it."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + (png_chunk(b"IEND", b""))
    )


def png_bomb(side: int = 20_000) -> bytes:
    """A real, complete greyscale PNG of side x side black pixels: ~400 KB for 400 MP."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    squeeze = zlib.compressobj(9)
    row = b"\x00" * (side + 1)  # filter byte + pixels
    idat = b"".join(squeeze.compress(row) for _ in range(side)) + squeeze.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + (png_chunk(b"IEND", b""))
    )


def with_chunk_before_iend(png: bytes, kind: bytes, data: bytes) -> bytes:
    """Insert an ancillary chunk (tEXt, iCCP, ...) just after IHDR."""
    ihdr_end = 8 + 25
    return png[:ihdr_end] + png_chunk(kind, data) + png[ihdr_end:]


def bit_flipped(data: bytes, every: int = 97) -> bytes:
    """Flip one bit every `every` bytes past the first 32 (headers survive, data does not)."""
    out = bytearray(data)
    for i in range(32, len(out), every):
        out[i] ^= 0x10
    return bytes(out)


def animated_gif(frames: int = 500) -> bytes:
    images = [Image.new("P", (16, 16), color=i % 256) for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=10)
    return buffer.getvalue()


def padded_jpeg(total: int) -> bytes:
    """A valid JPEG followed by zero bytes up to `total` (decoders stop at EOI)."""
    jpeg = image_bytes("JPEG")
    return jpeg + bytes(total - len(jpeg))


def raw(subtype: str) -> dict[str, str]:
    return {"content-type": f"image/{subtype}"}


def js(payload: object) -> bytes:
    return json.dumps(payload).encode()


def build_corpus() -> list[Case]:
    """At least 40 cases; the ids name what each one is."""
    jpeg, png, webp = image_bytes("JPEG"), image_bytes("PNG"), image_bytes("WEBP")
    b64 = base64.b64encode(png).decode()
    pdf = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect/></svg>'
    html = b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>"
    ok, bad, unsupported = (200, None), (400, "invalid_image"), (415, "unsupported_media_type")
    cases = [
        Case("empty-body", *bad, b"", raw("jpeg")),
        Case("text-as-jpeg", *unsupported, b"hello, world\n" * 20, raw("jpeg")),
        Case("pdf-as-png", *unsupported, pdf, raw("png")),
        Case("svg-as-png", *unsupported, svg, raw("png")),
        Case("html-as-jpeg", *unsupported, html, raw("jpeg")),
        Case("svg-content-type", *unsupported, svg, {"content-type": "image/svg+xml"}),
        Case("pdf-content-type", *unsupported, pdf, {"content-type": "application/pdf"}),
        Case("html-content-type", *unsupported, html, {"content-type": "text/html"}),
        Case("text-content-type", *unsupported, b"hi", {"content-type": "text/plain"}),
        Case("no-content-type", *unsupported, jpeg, {"content-type": ""}),
        Case(
            "form-urlencoded",
            *unsupported,
            b"image=abc",
            {"content-type": "application/x-www-form-urlencoded"},
        ),
        Case("truncated-jpeg", *bad, jpeg[: len(jpeg) // 2], raw("jpeg")),
        Case("truncated-png", *bad, png[: len(png) // 2], raw("png")),
        Case("truncated-webp", *bad, webp[: len(webp) // 2], raw("webp")),
        Case("header-only-jpeg", *bad, jpeg[:20], raw("jpeg")),
        Case("bitflipped-jpeg", *bad, bit_flipped(jpeg), raw("jpeg"), either_ok_or_invalid=True),
        Case("bitflipped-png", *bad, bit_flipped(png), raw("png")),  # CRCs catch it
        Case("bitflipped-webp", *bad, bit_flipped(webp), raw("webp"), either_ok_or_invalid=True),
        Case(
            "png-claims-100000x100000",
            413,
            "image_too_large",
            png_claiming(100_000, 100_000),
            raw("png"),
        ),
        Case("png-claims-0x0", *bad, png_claiming(0, 0), raw("png")),
        Case("png-bomb-20000x20000", 413, "image_too_large", png_bomb(), raw("png")),
        Case(
            "png-huge-text-chunk",
            *ok,
            with_chunk_before_iend(png, b"tEXt", b"Comment\x00" + b"A" * (3 * MIB)),
            raw("png"),
        ),
        # Metadata bombs: Pillow stops at MAX_TEXT_CHUNK (1 MB decompressed) -> 400.
        Case(
            "png-huge-ztxt-chunk",
            *bad,
            with_chunk_before_iend(
                png, b"zTXt", b"Comment\x00\x00" + zlib.compress(b"A" * (64 * MIB), 9)
            ),
            raw("png"),
        ),
        Case(
            "png-huge-icc-chunk",
            *bad,
            with_chunk_before_iend(
                png, b"iCCP", b"icc\x00\x00" + zlib.compress(b"\x00" * (64 * MIB), 9)
            ),
            raw("png"),
        ),
        Case("gif-500-frames", *ok, animated_gif(500), raw("gif")),
        Case("png-1x1", *ok, image_bytes("PNG", (1, 1)), raw("png")),
        Case("png-10000x10", *ok, image_bytes("PNG", (10_000, 10)), raw("png")),
        Case("png-10x10000", *ok, image_bytes("PNG", (10, 10_000)), raw("png")),
        Case("png-16bit-grey", *ok, image_bytes("PNG", mode="I;16"), raw("png")),
        Case("jpeg-cmyk", *ok, image_bytes("JPEG", mode="CMYK"), raw("jpeg")),
        Case("png-palette", *ok, image_bytes("PNG", mode="P"), raw("png")),
        Case("png-la", *ok, image_bytes("PNG", mode="LA"), raw("png")),
        Case("png-rgba", *ok, image_bytes("PNG", mode="RGBA"), raw("png")),
        Case("tiff-cmyk", *ok, image_bytes("TIFF", mode="CMYK"), raw("tiff")),
        Case("png-declared-as-jpeg", *ok, png, raw("jpeg")),
        Case("raw-just-under-limit", *ok, padded_jpeg(LIMIT), raw("jpeg")),
        Case("raw-just-over-limit", 413, "payload_too_large", padded_jpeg(LIMIT + 1), raw("jpeg")),
        Case(
            "json-b64-just-over-limit",
            413,
            "payload_too_large",
            js({"image": base64.b64encode(padded_jpeg(LIMIT + 1)).decode()}),
            JSON,
        ),
        Case("json-bad-base64-chars", 400, "bad_request", js({"image": "!!!not*base64@@"}), JSON),
        Case("json-bad-base64-length", 400, "bad_request", js({"image": b64[:-3] + "="}), JSON),
        Case(
            "json-data-uri-not-base64",
            400,
            "bad_request",
            js({"image": "data:image/png,abc"}),
            JSON,
        ),
        Case(
            "json-base64-of-text",
            *unsupported,
            js({"image": base64.b64encode(b"plain text here").decode()}),
            JSON,
        ),
        Case("json-image-number", 422, "validation_error", js({"image": 12345}), JSON),
        Case("json-image-null", 422, "validation_error", js({"image": None}), JSON),
        Case(
            "json-explain-string",
            422,
            "validation_error",
            js({"image": b64, "explain": "yes"}),
            JSON,
        ),
        Case("json-extra-field", 422, "validation_error", js({"image": b64, "x": 1}), JSON),
        Case("json-missing-image", 400, "bad_request", js({"explain": True}), JSON),
        Case("json-array", 400, "bad_request", js([b64]), JSON),
        Case("json-truncated", 400, "bad_request", js({"image": b64})[:50], JSON),
        Case("json-deeply-nested", 400, "bad_request", b"[" * 100_000 + b"]" * 100_000, JSON),
        Case("json-not-utf8", 400, "bad_request", b'{"image": "\xff\xfe"}', JSON),
        Case(
            "multipart-no-boundary",
            400,
            "bad_request",
            b"--x\r\n\r\n",
            {"content-type": "multipart/form-data"},
        ),
        Case(
            "query-explain-not-bool",
            422,
            "validation_error",
            png,
            raw("png"),
            path="/predict?explain=maybe",
        ),
        Case("get-predict", 405, "method_not_allowed", method="GET"),
        Case("put-predict", 405, "method_not_allowed", png, raw("png"), method="PUT"),
        Case("delete-health", 405, "method_not_allowed", method="DELETE", path="/health"),
        Case("post-health", 405, "method_not_allowed", method="POST", path="/health"),
        Case("unknown-path", 404, "not_found", method="GET", path="/admin"),
        Case("path-traversal", 404, "not_found", method="GET", path="/..%2f..%2fetc%2fpasswd"),
        Case("predict-trailing-segment", 404, "not_found", png, raw("png"), path="/predict/x"),
    ]
    return cases


def exif_rotated_pair(fmt: str = "PNG") -> tuple[bytes, bytes]:
    """(upright PNG, the same pixels stored rotated in `fmt` with EXIF Orientation=6).

    PNG carries the EXIF in an eXIf chunk; JPEG in an APP1 segment, as cameras write it.
    For JPEG the upright reference is the stored file's own decoded pixels turned upright
    (lossless PNG), so both must give exactly the same answer.
    """
    rng = np.random.default_rng(7)
    upright = Image.fromarray(rng.integers(0, 256, (64, 96, 3), dtype=np.uint8), "RGB")
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # orientation 6 undoes this
    exif = Image.Exif()
    exif[0x0112] = 6
    b = io.BytesIO()
    stored.save(b, format=fmt, exif=exif.tobytes(), **({"quality": 90} if fmt == "JPEG" else {}))
    if fmt == "JPEG":
        assert b"\xff\xe1" in b.getvalue()[:64] and b"Exif\x00\x00" in b.getvalue()[:64]  # APP1
        with Image.open(io.BytesIO(b.getvalue())) as decoded:
            upright = decoded.convert("RGB").transpose(Image.Transpose.ROTATE_270)
    a = io.BytesIO()
    upright.save(a, format="PNG")
    return a.getvalue(), b.getvalue()
