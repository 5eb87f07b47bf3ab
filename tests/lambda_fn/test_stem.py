"""The stem: native-resolution crops, never a resampled copy; padding, grid, aggregation, map."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from lambda_fn.stem import (
    InputSpec,
    assemble_heatmap,
    crop_grid,
    normalise,
    pad_to_crop,
    pixels_to_input,
    prepare,
)

SPEC = InputSpec(crop_size=32, max_grid=4)


def _pixels(width: int, height: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _unnormalise(crops: np.ndarray, spec: InputSpec) -> np.ndarray:
    """Model input back to uint8 (K, S, S, 3): what pixels the network was shown."""
    mean = np.asarray(spec.mean)[None, :, None, None]
    std = np.asarray(spec.std)[None, :, None, None]
    values = (crops * std + mean) / spec.scale
    return np.rint(values).astype(np.int64).transpose(0, 2, 3, 1)


def test_every_crop_holds_the_uploaded_pixels_unchanged() -> None:
    pixels = _pixels(300, 200)
    model_input = prepare(_png(pixels), SPEC)
    grid = model_input.grid
    assert grid is not None
    shown = _unnormalise(model_input.crops, SPEC)
    boxes = [(top, left) for top in grid.tops for left in grid.lefts]
    for crop, (top, left) in zip(shown, boxes, strict=True):
        np.testing.assert_array_equal(crop, pixels[top : top + 32, left : left + 32])


def test_the_grid_spans_the_whole_image_edge_to_edge() -> None:
    grid = crop_grid(1000, 600, SPEC)
    assert (grid.cols, grid.rows) == (4, 4)
    assert grid.lefts[0] == 0 and grid.lefts[-1] == 1000 - 32
    assert grid.tops[0] == 0 and grid.tops[-1] == 600 - 32
    assert list(grid.lefts) == sorted(grid.lefts)


def test_a_small_image_is_tiled_without_gaps_and_capped_when_large() -> None:
    small = crop_grid(80, 40, SPEC)
    assert (small.cols, small.rows) == (3, 2)  # ceil(80/32), ceil(40/32): every pixel covered
    covered = np.zeros((40, 80), bool)
    for top in small.tops:
        for left in small.lefts:
            covered[top : top + 32, left : left + 32] = True
    assert covered.all()
    assert crop_grid(32, 5000, SPEC).rows == SPEC.max_grid


def test_an_image_smaller_than_a_crop_is_mirror_padded_not_resized() -> None:
    pixels = _pixels(20, 10)
    padded = pad_to_crop(pixels, 32)
    assert padded.shape == (32, 32, 3)
    np.testing.assert_array_equal(padded[:10, :20], pixels)
    np.testing.assert_array_equal(padded[10:20, :20], pixels[::-1])  # its own pixels, mirrored
    model_input = prepare(_png(pixels), SPEC)
    assert model_input.crops.shape == (1, 3, 32, 32)
    assert model_input.image_size == (20, 10)


def test_a_training_crop_is_one_random_native_window() -> None:
    pixels = _pixels(200, 120)
    a = pixels_to_input(pixels, SPEC, rng=np.random.default_rng(1))
    b = pixels_to_input(pixels, SPEC, rng=np.random.default_rng(1))
    c = pixels_to_input(pixels, SPEC, rng=np.random.default_rng(2))
    assert a.crops.shape == (1, 3, 32, 32) and a.grid is None
    np.testing.assert_array_equal(a.crops, b.crops)
    assert not np.array_equal(a.crops, c.crops)
    shown = _unnormalise(a.crops, SPEC)[0]
    windows = np.lib.stride_tricks.sliding_window_view(pixels, (32, 32, 3))[..., 0, :, :, :]
    assert (windows == shown).all(axis=(-3, -2, -1)).any()  # some window of the upload


def test_normalisation_is_the_spec_formula_channel_first() -> None:
    pixels = _pixels(32, 32)[None]
    out = normalise(pixels, SPEC)
    expected = (pixels / 255.0 - np.array(SPEC.mean)) / np.array(SPEC.std)
    np.testing.assert_allclose(out, expected.transpose(0, 3, 1, 2), atol=1e-6)
    assert out.dtype == np.float32 and out.flags["C_CONTIGUOUS"]  # what ONNX Runtime takes


def test_the_heatmap_lays_crop_maps_out_like_the_image() -> None:
    grid = crop_grid(100, 64, SPEC)  # 4 columns, 2 rows
    cams = np.stack([np.full((2, 3), k, dtype=np.float32) for k in range(grid.rows * grid.cols)])
    heatmap = assemble_heatmap(cams, grid)
    assert heatmap.shape == (2 * 2, 4 * 3)
    assert heatmap[0, 0] == 0 and heatmap[0, -1] == 3  # top row, left to right
    assert heatmap[-1, 0] == 4 and heatmap[-1, -1] == 7  # bottom row


def test_input_spec_refuses_rules_it_does_not_implement() -> None:
    with pytest.raises(ValueError, match="native_crops"):
        InputSpec(rule="shorter_side_then_center_crop")
    with pytest.raises(ValueError, match="unknown input fields"):
        InputSpec.from_dict({**SPEC.to_dict(), "resize": "bilinear"})


def test_input_spec_round_trips_through_a_dict() -> None:
    spec = InputSpec(crop_size=256, max_grid=2, mean=(0.5, 0.5, 0.5))
    assert InputSpec.from_dict(spec.to_dict()) == spec
