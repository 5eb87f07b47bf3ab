"""Training-only augmentation, handed to the stem as its `augment` hook.

It works on the native-resolution crop the stem cut, and never resamples: `light` is one
of the crop's eight exact flips and quarter turns plus a random order of its colour
channels (new "photographs" for the detector at no cost, with every trace intact);
`strong` adds one more JPEG generation (quality 60-95), as images get when re-shared.
Randomness comes from the sample's own rng, so a resumed run and both images of a pair
see exactly the same augmentation.
"""

from __future__ import annotations

import io
from typing import Literal

import numpy as np
from PIL import Image

from lambda_fn.stem import Augment

AugmentName = Literal["none", "light", "strong"]
RECOMPRESS_QUALITY = (60, 95)
RECOMPRESS_PROBABILITY = 0.5


def augmenter(mode: AugmentName) -> Augment | None:
    """The stem hook for an augmentation mode (None for `none`)."""
    if mode == "none":
        return None
    if mode == "light":
        return reorient
    if mode == "strong":
        return reorient_and_recompress
    raise ValueError(f"unknown augmentation {mode!r}; choose none, light or strong")


def reorient(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random exact flip / quarter turn, and a random order of the colour channels."""
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    crop = np.rot90(crop, int(rng.integers(4)))
    return np.ascontiguousarray(crop[:, :, rng.permutation(3)])


def reorient_and_recompress(crop: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`reorient`, then half of the time one more JPEG generation."""
    crop = reorient(crop, rng)
    if rng.random() < RECOMPRESS_PROBABILITY:
        quality = int(rng.integers(RECOMPRESS_QUALITY[0], RECOMPRESS_QUALITY[1] + 1))
        crop = recompress(crop, quality)
    return crop


def recompress(pixels: np.ndarray, quality: int) -> np.ndarray:
    """One more JPEG generation of uint8 (H, W, 3) pixels."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("RGB"))
