"""Training augmentation on top of the image contract; randomness comes from the caller's rng.

`none` is exactly the contract (`load_for_model`). `light` adds a horizontal flip.
`strong` adds a small random crop-resize and JPEG re-compression; both resample
or re-quantise pixels, so they also blur the high-frequency traces a detector
looks for: use it for real data with varied provenance, not for the demo.
"""

from __future__ import annotations

import io
from typing import Literal

import numpy as np
from PIL import Image, ImageOps

from lambda_fn.image_contract import InputSpec, decode_image, preprocess, resize_and_crop

AugmentName = Literal["none", "light", "strong"]
CROP_SIDE = (0.85, 1.0)  # fraction of each side kept by the strong crop
RECOMPRESS_QUALITY = (70, 95)
RECOMPRESS_PROBABILITY = 0.5


def augmented_input(
    data: bytes, spec: InputSpec, mode: AugmentName, rng: np.random.Generator
) -> np.ndarray:
    """Encoded image -> model input (3, S, S), augmented; decoding is the contract's."""
    image = decode_image(data, target_size=spec.size if spec.reduced_jpeg_decoding else None)
    if mode != "none" and rng.random() < 0.5:
        image = ImageOps.mirror(image)
    if mode == "strong":
        image = resize_and_crop(random_crop(image, rng), spec)
        if rng.random() < RECOMPRESS_PROBABILITY:
            quality = int(rng.integers(RECOMPRESS_QUALITY[0], RECOMPRESS_QUALITY[1] + 1))
            image = recompress(image, quality)
    return preprocess(image, spec)


def random_crop(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Keep a random window of 85-100% of each side (same fraction for both)."""
    width, height = image.size
    keep = rng.uniform(*CROP_SIDE)
    new_w, new_h = max(1, round(width * keep)), max(1, round(height * keep))
    left = int(rng.integers(0, width - new_w + 1))
    top = int(rng.integers(0, height - new_h + 1))
    return image.crop((left, top, left + new_w, top + new_h))


def recompress(image: Image.Image, quality: int) -> Image.Image:
    """One more JPEG generation, as images get when re-shared."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")
