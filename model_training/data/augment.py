"""Training-only augmentation of the native-resolution crop the stem cut; it never resamples.

`light` is one of the crop's eight exact flips and quarter turns plus a random order of its
colour channels (new "photographs" for the detector at no cost, with every trace intact);
`strong` adds one more JPEG generation (quality 60-95), as images get when re-shared.
Randomness comes from the sample's own rng, so a resumed run and both images of a pair
see exactly the same augmentation.

A reorientation is only copies, so the loader leaves it to the training device
(`reorient_batch`) and ships its five numbers with the crop; a crop that is re-compressed
is reoriented here first, because the JPEG generation must see the turned pixels.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Literal

import numpy as np
import torch
from PIL import Image

AugmentName = Literal["none", "light", "strong"]
RECOMPRESS_QUALITY = (60, 95)
RECOMPRESS_PROBABILITY = 0.5


# uint8 (S, S, 3) crop, the sample's rng -> the crop and the reorientation still to apply
Augment = Callable[[np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]]
# [flip, quarter turns, c0, c1, c2]: flip left-right, turn, then take channels c0, c1, c2
NO_REORIENTATION = np.array([0, 0, 0, 1, 2], dtype=np.int64)


def augmenter(mode: AugmentName) -> Augment:
    """The augmentation of a mode (`none` leaves every crop as it is)."""
    if mode == "none":
        return lambda crop, rng: (crop, NO_REORIENTATION)
    if mode == "light":
        return lambda crop, rng: (crop, draw_reorientation(rng))
    if mode == "strong":
        return reorient_and_recompress
    raise ValueError(f"unknown augmentation {mode!r}; choose none, light or strong")


def draw_reorientation(rng: np.random.Generator) -> np.ndarray:
    """A random exact flip / quarter turn and a random order of the colour channels."""
    flip = rng.random() < 0.5
    turns = int(rng.integers(4))
    return np.array([flip, turns, *rng.permutation(3)], dtype=np.int64)


def reorient(crop: np.ndarray, reorientation: np.ndarray) -> np.ndarray:
    """Apply a reorientation to one uint8 (S, S, 3) crop (`reorient_batch` for batches)."""
    flip, turns, *channels = (int(v) for v in reorientation)
    if flip:
        crop = crop[:, ::-1]
    crop = np.rot90(crop, turns)
    return np.ascontiguousarray(crop[:, :, channels])


def reorient_and_recompress(
    crop: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A reorientation, then half of the time one more JPEG generation of the turned crop."""
    reorientation = draw_reorientation(rng)
    if rng.random() < RECOMPRESS_PROBABILITY:
        quality = int(rng.integers(RECOMPRESS_QUALITY[0], RECOMPRESS_QUALITY[1] + 1))
        return recompress(reorient(crop, reorientation), quality), NO_REORIENTATION
    return crop, reorientation


def reorient_batch(pixels: torch.Tensor, reorientations: torch.Tensor) -> torch.Tensor:
    """uint8 (N, S, S, 3) crops and their (N, 5) reorientations -> reoriented crops, on
    the crops' own device: exactly `reorient` on each crop, grouped by flip and turn."""
    out = torch.empty_like(pixels)
    for flip in (0, 1):
        for turns in range(4):
            chosen = (reorientations[:, 0] == flip) & (reorientations[:, 1] == turns)
            index = chosen.nonzero().squeeze(1)
            if index.numel():
                group = pixels[index].flip(2) if flip else pixels[index]
                out[index] = torch.rot90(group, turns, dims=(1, 2))
    channels = reorientations[:, 2:].to(pixels.device).view(-1, 1, 1, 3)
    return out.gather(3, channels.expand(-1, *pixels.shape[1:3], -1))


def recompress(pixels: np.ndarray, quality: int) -> np.ndarray:
    """One more JPEG generation of uint8 (H, W, 3) pixels."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("RGB"))
