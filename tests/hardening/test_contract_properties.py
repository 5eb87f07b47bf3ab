"""Hypothesis properties of the image contract (in process: thousands of images in seconds)."""

from __future__ import annotations

import io

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from lambda_fn.errors import STATUS_BY_CODE
from lambda_fn.image_contract import ImageError, decode_image
from lambda_fn.stem import InputSpec, crop_grid, prepare

SPEC = InputSpec(crop_size=32)
LOW = (0.0 - np.array(SPEC.mean)) / np.array(SPEC.std)
HIGH = (1.0 - np.array(SPEC.mean)) / np.array(SPEC.std)
# format -> modes Pillow can write in it
WRITABLE = {
    "PNG": ["RGB", "RGBA", "L", "LA", "P", "1", "I;16"],
    "JPEG": ["RGB", "L", "CMYK"],
    "WEBP": ["RGB", "RGBA"],
    "GIF": ["P", "L"],
    "BMP": ["RGB", "L", "P", "1"],
    "TIFF": ["RGB", "RGBA", "L", "CMYK", "1"],
}
FAST = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
# EXIF orientation -> the transpose that stores an upright image so that it displays upright
STORED_AS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


@st.composite
def encoded_images(draw: st.DrawFn) -> tuple[bytes, tuple[int, int]]:
    fmt = draw(st.sampled_from(sorted(WRITABLE)))
    mode = draw(st.sampled_from(WRITABLE[fmt]))
    width, height = draw(st.integers(1, 120)), draw(st.integers(1, 120))
    seed = draw(st.integers(0, 2**16))
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    img = Image.fromarray(pixels, "RGB")
    if mode == "I;16":
        img = Image.fromarray(np.asarray(img.convert("L"), dtype=np.uint16) * 257)
    elif mode != "RGB":
        img = img.convert(mode)
    buffer = io.BytesIO()
    img.save(buffer, format=fmt)
    return buffer.getvalue(), (width, height)


def load_for_model(data: bytes, spec: InputSpec) -> np.ndarray:
    """The stem's crops (K, 3, S, S) for an encoded image."""
    return prepare(data, spec).crops


def assert_model_ready(array: np.ndarray, size: tuple[int, int] | None = None) -> None:
    """Normalised crops of the spec's side; as many as the grid says, when the size is known."""
    assert array.ndim == 4 and array.shape[1:] == (3, SPEC.crop_size, SPEC.crop_size)
    assert array.dtype == np.float32 and np.isfinite(array).all()
    if size is not None:
        grid = crop_grid(max(size[0], SPEC.crop_size), max(size[1], SPEC.crop_size), SPEC)
        assert len(array) == grid.rows * grid.cols
    for channel in range(3):
        assert LOW[channel] - 1e-4 <= array[:, channel].min()
        assert array[:, channel].max() <= HIGH[channel] + 1e-4


@FAST
@given(encoded_images())
def test_every_mode_size_and_format_becomes_a_normalised_model_input(
    image: tuple[bytes, tuple[int, int]],
) -> None:
    data, size = image
    decoded = decode_image(data)
    assert decoded.mode == "RGB" and decoded.size == size
    assert_model_ready(load_for_model(data, SPEC), size)


@FAST
@given(st.binary(max_size=2048))
@example(b"")
@example(b"\x89PNG\r\n\x1a\n")
@example(b"GIF89a")
def test_arbitrary_bytes_give_a_model_input_or_an_image_error(data: bytes) -> None:
    try:
        assert_model_ready(load_for_model(data, SPEC))
    except ImageError as exc:
        assert STATUS_BY_CODE[exc.code] in (400, 413, 415)


@FAST
@given(encoded_images(), st.data())
def test_damaged_images_give_a_model_input_or_an_image_error(
    image: tuple[bytes, tuple[int, int]], data: st.DataObject
) -> None:
    raw = bytearray(image[0])
    cut = data.draw(st.integers(0, len(raw)))
    for _ in range(data.draw(st.integers(0, 8))):
        raw[data.draw(st.integers(0, len(raw) - 1))] ^= data.draw(st.integers(1, 255))
    try:
        assert_model_ready(load_for_model(bytes(raw[:cut] if cut % 2 else raw), SPEC))
    except ImageError as exc:
        assert exc.code in ("invalid_image", "unsupported_media_type", "image_too_large")


@FAST
@given(st.sampled_from(sorted(STORED_AS)), st.integers(8, 80), st.integers(8, 80))
def test_every_exif_orientation_preprocesses_exactly_like_the_upright_image(
    orientation: int, width: int, height: int
) -> None:
    pixels = np.random.default_rng(width * height).integers(0, 256, (height, width, 3))
    upright = Image.fromarray(pixels.astype(np.uint8), "RGB")
    exif = Image.Exif()
    exif[0x0112] = orientation
    a, b = io.BytesIO(), io.BytesIO()
    upright.save(a, format="PNG")
    upright.transpose(STORED_AS[orientation]).save(b, format="PNG", exif=exif.tobytes())
    np.testing.assert_array_equal(
        load_for_model(a.getvalue(), SPEC), load_for_model(b.getvalue(), SPEC)
    )


@FAST
@given(st.integers(1, 300), st.integers(1, 300), st.integers(1, 90_000))
def test_the_pixel_limit_refuses_exactly_the_images_over_it(
    width: int, height: int, max_pixels: int
) -> None:
    buffer = io.BytesIO()
    Image.new("L", (width, height)).save(buffer, format="PNG")
    try:
        decode_image(buffer.getvalue(), max_pixels=max_pixels)
        assert width * height <= max_pixels
    except ImageError as exc:
        assert exc.code == "image_too_large" and width * height > max_pixels
