"""Uploads are fitted to the API's limits; the heatmap lands on the square the model saw."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from frontend.imaging import colorize, overlay_heatmap, prepare_upload

LIMITS = {"max_bytes": 200_000, "max_pixels": 1_000_000, "max_side": 512}


def encode(img: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def noise(width: int, height: int, seed: int = 0) -> Image.Image:
    """Incompressible pixels, so byte sizes are predictable."""
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def test_upload_within_limits_is_sent_as_the_original_bytes() -> None:
    data = encode(noise(64, 48), "PNG")
    upload = prepare_upload(data, **LIMITS)
    assert (upload.data, upload.content_type, upload.note) == (data, "image/png", "")


def test_upload_over_the_byte_limit_is_downscaled_into_a_fitting_jpeg() -> None:
    data = encode(noise(900, 600), "PNG")
    assert len(data) > LIMITS["max_bytes"]
    upload = prepare_upload(data, **LIMITS)
    assert upload.content_type == "image/jpeg"
    assert len(upload.data) <= LIMITS["max_bytes"]
    with Image.open(io.BytesIO(upload.data)) as out:
        assert out.format == "JPEG" and max(out.size) <= LIMITS["max_side"]
        assert out.size[0] / out.size[1] == pytest.approx(1.5, rel=0.02)
    assert "900x600" in upload.note and "re-encoding" in upload.note


def test_upload_over_the_pixel_limit_is_shrunk_even_when_small_in_bytes() -> None:
    data = encode(Image.new("RGB", (1600, 1000), (30, 90, 200)), "PNG")
    assert len(data) < LIMITS["max_bytes"]
    upload = prepare_upload(data, **LIMITS)
    with Image.open(io.BytesIO(upload.data)) as out:
        assert out.width * out.height <= LIMITS["max_pixels"]
        assert out.getpixel((10, 10)) == pytest.approx((30, 90, 200), abs=3)


def test_upload_in_a_format_the_api_refuses_is_converted_to_jpeg() -> None:
    data = encode(Image.new("RGBA", (40, 30), (200, 10, 10, 255)), "ICO")
    upload = prepare_upload(data, **LIMITS)
    assert upload.content_type == "image/jpeg"
    with Image.open(io.BytesIO(upload.data)) as out:
        assert out.format == "JPEG" and out.mode == "RGB"
    assert "ICO" in upload.note


def test_upload_shrinking_keeps_the_picture_upright() -> None:
    img = Image.new("RGB", (800, 400), (0, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    data = encode(img, "JPEG", exif=exif, quality=95)
    upload = prepare_upload(data, max_bytes=len(data) - 1, max_pixels=10**8, max_side=400)
    assert Image.open(io.BytesIO(upload.data)).size == (200, 400)


def test_upload_pillow_cannot_read_goes_out_unchanged_for_the_api_to_judge() -> None:
    upload = prepare_upload(b"definitely not an image", **LIMITS)
    assert (upload.data, upload.content_type) == (
        b"definitely not an image",
        "application/octet-stream",
    )


def test_truncated_jpeg_keeps_its_content_type_so_the_api_reports_it() -> None:
    whole = encode(noise(64, 64), "JPEG")
    upload = prepare_upload(whole[: len(whole) // 2], **LIMITS)
    assert (upload.data, upload.content_type) == (whole[: len(whole) // 2], "image/jpeg")


def test_colorize_is_blue_for_real_white_for_unsure_red_for_ai() -> None:
    real, unsure, ai, below, above = colorize(np.array([0.0, 0.5, 1.0, -3.0, 7.0])).astype(int)
    assert real[2] > real[0] + 100 and ai[0] > ai[2] + 100
    assert (unsure > 240).all()
    assert (below == real).all() and (above == ai).all()


def test_heatmap_of_an_old_bundle_tints_the_centre_square_and_dims_the_margins() -> None:
    image = Image.new("RGB", (300, 200), (128, 128, 128))
    out = np.asarray(overlay_heatmap(image, [[0.0, 1.0], [0.0, 1.0]], center_crop=True))
    out = out.astype(int)
    assert out.shape == (200, 300, 3)
    margin, left, right = out[100, 20], out[100, 55], out[100, 245]
    assert (margin == 64).all() and (out[100, 295] == margin).all()
    assert left[2] > left[0] + 40  # the square's left looks real (blue)
    assert right[0] > right[2] + 40  # its right looks AI-generated (red)


def test_heatmap_without_evidence_leaves_the_picture_untouched() -> None:
    image = Image.new("RGB", (200, 200), (10, 150, 90))
    out = np.asarray(overlay_heatmap(image, [[0.5, 0.5], [0.5, 0.5]])).astype(int)
    assert (np.abs(out - np.array([10, 150, 90])) <= 1).all()


def test_heatmap_spans_the_whole_image_by_default() -> None:
    image = Image.new("RGB", (300, 200), (128, 128, 128))
    out = np.asarray(overlay_heatmap(image, [[0.0, 1.0]])).astype(int)
    left, right = out[100, 5], out[100, 295]
    assert left[2] > left[0] + 40 and right[0] > right[2] + 40  # edge to edge, no dimmed margin


def test_heatmap_that_is_not_a_grid_is_refused() -> None:
    with pytest.raises(ValueError, match="2-D"):
        overlay_heatmap(Image.new("RGB", (10, 10)), [0.5, 0.5])  # type: ignore[list-item]
