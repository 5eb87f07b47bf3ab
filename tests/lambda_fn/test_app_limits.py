"""The 413 rows: byte limits before parsing, in every input style, and the pixel limit."""

from __future__ import annotations

import base64
import socket
import struct
import zlib
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from tests.lambda_fn.test_app_errors import assert_error, predict
from tests.support.http_server import UvicornServer

MIB = 1024 * 1024


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with no pixel data behind it."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
        + struct.pack(">I", 0)
        + b"IEND"
        + struct.pack(">I", zlib.crc32(b"IEND"))
    )


def raw_exchange(url: str, head: bytes, body_chunks: Iterable[bytes] = ()) -> bytes:
    """Send bytes on a socket and read one HTTP response (for what httpx will not send)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head)
        for chunk in body_chunks:
            sock.sendall(chunk)
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        headers, _, rest = data.partition(b"\r\n\r\n")
        length = int(
            next(
                line.split(b":")[1]
                for line in headers.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
        )
        while len(rest) < length:
            rest += sock.recv(65536)
        return headers + b"\r\n\r\n" + rest


def test_predict_rejects_a_raw_body_over_the_byte_limit(api_server: UvicornServer) -> None:
    response = predict(
        api_server, content=bytes(4 * MIB + 1), headers={"content-type": "image/jpeg"}
    )
    assert_error(response, 413, "payload_too_large")


def test_predict_refuses_by_content_length_before_reading_the_body(api_server: UvicornServer):
    head = (
        b"POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: image/jpeg\r\n"
        b"Content-Length: 1000000000\r\n\r\n"
    )
    response = raw_exchange(api_server.url, head)  # no body sent: only the header can decide
    assert response.startswith(b"HTTP/1.1 413")
    assert b'"payload_too_large"' in response


def test_predict_counts_a_chunked_body_without_content_length(api_server: UvicornServer):
    head = (
        b"POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: image/png\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = bytes(MIB)
    chunks = [b"%x\r\n" % len(chunk) + chunk + b"\r\n"] * 5 + [b"0\r\n\r\n"]
    response = raw_exchange(api_server.url, head, chunks)
    assert response.startswith(b"HTTP/1.1 413")
    assert b'"payload_too_large"' in response


def test_predict_applies_the_byte_limit_to_the_decoded_base64_image(api_server: UvicornServer):
    encoded = base64.b64encode(bytes(4 * MIB + 1024)).decode()  # body fits the JSON allowance
    assert_error(predict(api_server, json={"image": encoded}), 413, "payload_too_large")


def test_predict_applies_the_byte_limit_to_a_multipart_file(api_server: UvicornServer) -> None:
    response = predict(api_server, files={"file": ("big.jpg", bytes(4 * MIB + 10), "image/jpeg")})
    assert_error(response, 413, "payload_too_large")


def test_predict_rejects_too_many_pixels_from_the_header(api_server: UvicornServer) -> None:
    data = png_header_only(10_000, 5_000)  # 50 MP claimed, 57 bytes sent
    response = predict(api_server, content=data, headers={"content-type": "image/png"})
    assert "50,000,000" in assert_error(response, 413, "image_too_large")["message"]


def test_a_lowered_max_body_bytes_is_the_limit_in_every_input_style(
    resnet_bundle: Path, tmp_path: Path, images: dict[str, bytes]
) -> None:
    """MAX_BODY_BYTES is a setting, not a constant: with it at 64 KiB an image of 64 KiB + 1
    is refused in every style, and one under it is served (a hard-coded 4 MiB passes neither)."""
    limit = 64 * 1024
    env = {
        "MODEL_URI": str(resnet_bundle),
        "MODEL_CACHE_DIR": str(tmp_path / "cache"),
        "ORT_INTRA_OP_THREADS": "1",
        "MAX_BODY_BYTES": str(limit),
    }
    over = bytes(limit + 1)
    with UvicornServer(env=env) as server:
        raw = predict(server, content=over, headers={"content-type": "image/jpeg"})
        assert_error(raw, 413, "payload_too_large")
        encoded = {"image": base64.b64encode(over).decode()}
        assert_error(predict(server, json=encoded), 413, "payload_too_large")
        files = {"file": ("big.jpg", over, "image/jpeg")}
        assert_error(predict(server, files=files), 413, "payload_too_large")
        small = images["jpeg"]
        assert len(small) < limit
        served = predict(server, content=small, headers={"content-type": "image/jpeg"})
        assert served.status_code == 200, served.text
