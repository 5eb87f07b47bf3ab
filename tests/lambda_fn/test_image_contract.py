"""The image contract: every format and mode decodes to upright RGB; bad data is refused."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from lambda_fn.image_contract import ImageError, decode_image, sniff_format
from lambda_fn.stem import InputSpec, prepare

SPEC = InputSpec(crop_size=32)


def _gradient(width: int = 48, height: int = 40) -> Image.Image:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels, mode="RGB")


def _encode(img: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _png_with_header_size(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width x height, with one tiny IDAT: a header-only bomb."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"])
def test_every_allowed_format_decodes_to_rgb(fmt: str) -> None:
    data = _encode(_gradient(), fmt)
    img = decode_image(data)
    assert img.mode == "RGB"
    assert img.size == (48, 40)


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGBA", "CMYK", "I;16", "I", "F"])
def test_every_mode_converts_to_rgb(mode: str) -> None:
    source = _gradient().convert("L") if mode in ("I;16", "I", "F") else _gradient()
    img = source.convert(mode)
    fmt = "TIFF" if mode in ("CMYK", "I;16", "I", "F") else "PNG"
    decoded = decode_image(_encode(img, fmt))
    assert decoded.mode == "RGB"
    assert decoded.size == (48, 40)


def test_transparent_pixels_become_white_not_black() -> None:
    img = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    decoded = decode_image(_encode(img, "PNG"))
    assert decoded.getpixel((0, 0)) == (255, 255, 255)


def test_sixteen_bit_grey_keeps_its_brightness() -> None:
    array = np.full((8, 8), 32768, dtype=np.uint16)
    decoded = decode_image(_encode(Image.fromarray(array), "PNG"))
    assert 126 <= decoded.getpixel((0, 0))[0] <= 129


def test_exif_rotated_image_preprocesses_like_the_upright_one() -> None:
    upright = _gradient(40, 48)
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what a camera writes
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to view"
    rotated_bytes = _encode(stored, "PNG", exif=exif)
    np.testing.assert_array_equal(
        prepare(rotated_bytes, SPEC).crops, prepare(_encode(upright, "PNG"), SPEC).crops
    )


def test_animated_gif_uses_the_first_frame() -> None:
    frames = [Image.new("RGB", (16, 16), color) for color in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    assert decode_image(buffer.getvalue()).getpixel((0, 0)) == (255, 0, 0)


def test_truncated_jpeg_is_invalid_image() -> None:
    data = _encode(_gradient(), "JPEG")
    with pytest.raises(ImageError) as info:
        decode_image(data[: len(data) // 2])
    assert info.value.code == "invalid_image"


def test_empty_body_is_invalid_image() -> None:
    with pytest.raises(ImageError) as info:
        decode_image(b"")
    assert info.value.code == "invalid_image"


@pytest.mark.parametrize(
    "data",
    [
        b"hello, world",
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    ],
    ids=["text", "pdf", "svg"],
)
def test_non_images_are_unsupported_media_type(data: bytes) -> None:
    with pytest.raises(ImageError) as info:
        sniff_format(data)
    assert info.value.code == "unsupported_media_type"


def test_a_real_image_in_a_format_outside_the_list_is_refused() -> None:
    with pytest.raises(ImageError) as info:
        decode_image(_encode(_gradient(), "PPM"))
    assert info.value.code == "unsupported_media_type"
    assert "PPM" in info.value.message


def test_header_claiming_ten_gigapixels_is_refused_before_decoding() -> None:
    with pytest.raises(ImageError) as info:
        decode_image(_png_with_header_size(100_000, 100_000))
    assert info.value.code == "image_too_large"


def test_pixel_limit_is_configurable() -> None:
    data = _encode(_gradient(100, 100), "PNG")
    with pytest.raises(ImageError) as info:
        decode_image(data, max_pixels=9_999)
    assert info.value.code == "image_too_large"
    assert decode_image(data, max_pixels=10_000).size == (100, 100)


def test_a_large_jpeg_is_decoded_at_full_size() -> None:
    """No reduced-size (draft) decoding: 200x150 is not the 1/8 cap that hides it at 1024 px."""
    for size in ((200, 150), (1024, 768)):
        data = _encode(_gradient(*size), "JPEG", quality=90)
        assert decode_image(data).size == size
