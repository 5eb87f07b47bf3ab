"""The robustness report's conditions are read right: size buckets at their edges, JPEG
quality from the file's own quantization tables, and the web/hard tiers' treatment."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from model_training import robustness


def encoded(size: tuple[int, int], fmt: str, **options: int) -> bytes:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt, **options)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "width,height,bucket",
    [(64, 64, "<=96"), (96, 40, "<=96"), (97, 97, "97-256"), (200, 256, "97-256"),
     (257, 100, "257-512"), (512, 512, "257-512"), (100, 513, ">512"), (4032, 3024, ">512")],
)  # fmt: skip
def test_size_buckets_go_by_the_longer_side_and_include_their_upper_edge(
    width: int, height: int, bucket: str
) -> None:
    assert robustness.size_bucket(width, height) == bucket


@pytest.mark.parametrize("quality", [40, 60, 69, 70, 85, 89, 90, 95])
def test_jpeg_quality_is_recovered_from_the_quantization_tables(quality: int) -> None:
    data = encoded((64, 48), "JPEG", quality=quality)
    assert robustness.jpeg_quality(data) == quality
    expected = "none_or_>=90" if quality >= 90 else "70-89" if quality >= 70 else "<70"
    assert robustness.quality_bucket(data) == expected


def test_a_lossless_file_has_no_jpeg_quality() -> None:
    data = encoded((64, 48), "PNG")
    assert robustness.jpeg_quality(data) is None
    assert robustness.quality_bucket(data) == "none_or_>=90"


@pytest.mark.parametrize("tier", ["web", "hard"])
def test_a_tier_caps_the_longer_side_and_re_encodes_at_its_quality(tier: str) -> None:
    max_side, quality = robustness.TIERS[tier]  # type: ignore[misc]
    big = robustness.degrade(encoded((1000, 700), "PNG"), max_side, quality)
    with Image.open(io.BytesIO(big)) as image:
        assert image.format == "JPEG" and max(image.size) == max_side
        assert image.size == (max_side, round(700 * max_side / 1000))
    assert robustness.jpeg_quality(big) == quality
    small = robustness.degrade(encoded((300, 200), "PNG"), max_side, quality)
    with Image.open(io.BytesIO(small)) as image:
        assert image.size == (300, 200)  # never upscaled
