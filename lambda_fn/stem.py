"""The image contract's second half, the one stem: an upload of any size -> model input.

The network sees the uploaded pixels, never a resampled copy. An image becomes crops of
the model's size taken at native resolution:
- serving, evaluation and the parity gate: a deterministic grid spread evenly over the
  whole image, at most `max_grid` crops per side, whose logits are averaged into one;
- training: one crop at a random place, so every epoch sees other pixels of a large image
  (augmentation is the trainer's, after the crop: `model_training.data.augment`).
An image smaller than a crop is padded by mirroring its own pixels, never upscaled.
Evaluation, export and the server call `prepare`, training its first half `cut_crops`,
all with the manifest's spec.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from time import perf_counter
from typing import Any

import numpy as np

from lambda_fn.image_contract import DEFAULT_MAX_PIXELS, decode_image

# Normalisation constants, written once (ImageNet statistics; the model is trained
# from scratch, but these keep inputs near zero mean and unit variance).
DEFAULT_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
DEFAULT_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
RULE = "native_crops"  # the only rule this stem implements; bundles name it
AGGREGATES = ("mean_logit",)
PADS = ("symmetric",)


@dataclass(frozen=True)
class InputSpec:
    """Everything preprocessing needs; stored verbatim as the manifest's `input`."""

    crop_size: int = 64
    rule: str = RULE
    max_grid: int = 4  # at most max_grid x max_grid crops per image at serving
    aggregate: str = "mean_logit"
    pad: str = "symmetric"
    mean: tuple[float, float, float] = DEFAULT_MEAN
    std: tuple[float, float, float] = DEFAULT_STD
    layout: str = "NCHW"
    dtype: str = "float32"
    color: str = "RGB"
    scale: float = 1 / 255

    def __post_init__(self) -> None:
        if self.rule != RULE or self.aggregate not in AGGREGATES or self.pad not in PADS:
            raise ValueError(
                f"unsupported input rule {self.rule!r}/{self.aggregate!r}/{self.pad!r}; "
                f"this stem implements {RULE!r} with {AGGREGATES[0]!r} and {PADS[0]!r} padding"
            )
        if self.crop_size < 8 or self.max_grid < 1:
            raise ValueError(f"crop_size must be >= 8 and max_grid >= 1, got {self}")
        if len(self.mean) != 3 or len(self.std) != 3:
            raise ValueError("mean and std need one value per RGB channel")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["mean"], data["std"] = list(self.mean), list(self.std)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputSpec:
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown input fields {unknown}")
        known = dict(data)
        for key in ("mean", "std"):
            if key in known:
                known[key] = tuple(float(x) for x in known[key])
        return cls(**known)


@dataclass(frozen=True)
class CropGrid:
    """Where the crops of one image sit: row-major, `rows` x `cols` of them."""

    width: int  # of the image after padding (>= crop size on both sides)
    height: int
    lefts: tuple[int, ...]
    tops: tuple[int, ...]

    @property
    def rows(self) -> int:
        return len(self.tops)

    @property
    def cols(self) -> int:
        return len(self.lefts)


@dataclass(frozen=True)
class ModelInput:
    """Crops ready for the network, where they came from, and what it cost."""

    crops: np.ndarray  # (K, 3, S, S) float32
    grid: CropGrid | None  # None for a training crop
    image_size: tuple[int, int]  # (width, height) as uploaded
    timings_ms: dict[str, float]


def prepare(
    data: bytes,
    spec: InputSpec,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    rng: np.random.Generator | None = None,
) -> ModelInput:
    """Bytes -> model input. With `rng`, one random crop (training); else the serving grid."""
    t0 = perf_counter()
    pixels = np.asarray(decode_image(data, max_pixels=max_pixels))
    t1 = perf_counter()
    model_input = pixels_to_input(pixels, spec, rng=rng)
    t2 = perf_counter()
    timings = {"decode": round((t1 - t0) * 1000, 3), "preprocess": round((t2 - t1) * 1000, 3)}
    return replace(model_input, timings_ms=timings)


def pixels_to_input(
    decoded: np.ndarray,
    spec: InputSpec,
    *,
    rng: np.random.Generator | None = None,
) -> ModelInput:
    """Decoded uint8 (H, W, 3) RGB pixels -> model input (see `prepare`)."""
    crops, grid = cut_crops(decoded, spec, rng=rng)
    image_size = (decoded.shape[1], decoded.shape[0])
    return ModelInput(normalise(crops, spec), grid, image_size, {})


def cut_crops(
    decoded: np.ndarray,
    spec: InputSpec,
    *,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, CropGrid | None]:
    """Decoded uint8 (H, W, 3) pixels -> uint8 (K, S, S, 3) crops and their grid, before
    `normalise`: the serving grid, or with `rng` one random training crop.

    Training loaders stop here and normalise whole batches on the device, which keeps
    their batches a quarter the size (`model_training.data.dataset.normalise_batch`).
    """
    pixels = pad_to_crop(decoded, spec.crop_size)
    size = spec.crop_size
    height, width = pixels.shape[:2]
    if rng is None:
        grid = crop_grid(width, height, spec)
        crops = [pixels[y : y + size, x : x + size] for y in grid.tops for x in grid.lefts]
        return np.stack(crops), grid
    top = int(rng.integers(0, height - size + 1))
    left = int(rng.integers(0, width - size + 1))
    crop = pixels[top : top + size, left : left + size]
    return crop[None], None


def pad_to_crop(pixels: np.ndarray, size: int) -> np.ndarray:
    """Mirror an image's own pixels past its right and bottom edges up to `size`."""
    height, width = pixels.shape[:2]
    if height >= size and width >= size:
        return pixels
    pad = ((0, max(0, size - height)), (0, max(0, size - width)), (0, 0))
    return np.pad(pixels, pad, mode="symmetric")


def crop_grid(width: int, height: int, spec: InputSpec) -> CropGrid:
    """Crops that tile the image (overlapping a little), or `max_grid` per side spread evenly."""
    size = spec.crop_size
    cols = min(spec.max_grid, math.ceil(width / size))
    rows = min(spec.max_grid, math.ceil(height / size))
    return CropGrid(width, height, _spread(width, size, cols), _spread(height, size, rows))


def _spread(extent: int, size: int, count: int) -> tuple[int, ...]:
    """`count` crop origins from edge to edge (one centred crop when count is 1)."""
    if count == 1:
        return ((extent - size) // 2,)
    return tuple(round(i * (extent - size) / (count - 1)) for i in range(count))


def normalise(crops: np.ndarray, spec: InputSpec) -> np.ndarray:
    """uint8 (K, S, S, 3) -> float32 (K, 3, S, S): one fused multiply-add per value.

    (x * scale - mean) / std == x * gain + offset, on the channel-first view.
    """
    gain, offset = (value[None, :, None, None] for value in gain_and_offset(spec))
    out = np.multiply(crops.transpose(0, 3, 1, 2), gain, dtype=np.float32, order="C")
    out += offset
    return out


def gain_and_offset(spec: InputSpec) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel float32 `gain` and `offset` of `normalise`: one multiply, then one add.

    The one source of these constants, for the batch normalisation on the training device too.
    """
    std = np.asarray(spec.std, dtype=np.float32)
    gain = np.float32(spec.scale) / std
    offset = -np.asarray(spec.mean, dtype=np.float32) / std
    return gain, offset


def aggregate(crop_logits: np.ndarray) -> float:
    """The image's logit: the mean of its crops' logits (`mean_logit`)."""
    return float(np.mean(np.asarray(crop_logits, dtype=np.float64)))


def assemble_heatmap(cams: np.ndarray, grid: CropGrid) -> np.ndarray:
    """(K, h, w) crop maps -> one (rows*h, cols*w) map laid out like the image.

    Each cell is the map of the crop that stands for that part of the image; when the grid
    is capped, a crop stands for the stretch of image around it.
    """
    k, h, w = cams.shape
    if k != grid.rows * grid.cols:
        raise ValueError(f"{k} maps for a {grid.rows}x{grid.cols} grid")
    return (
        cams.reshape(grid.rows, grid.cols, h, w)
        .transpose(0, 2, 1, 3)
        .reshape(grid.rows * h, grid.cols * w)
    )
