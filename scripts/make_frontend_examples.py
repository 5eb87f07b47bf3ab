"""Write the frontend's example images: real photo crops and "AI" copies of the same crops.

The real images are crops of photographs that ship inside scikit-image; each AI
counterpart is the same crop re-made by one of the demo dataset's stand-in generators
(`model_training.data.fingerprints`). They are small JPEGs committed to `frontend/examples/`,
so the Space needs neither scikit-image nor this project to show them.

    python scripts/make_frontend_examples.py [--out frontend/examples] [--size 192]
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data as skdata

from model_training.data.fingerprints import generate

# photo name -> (crop box as fractions of the photo: top, left, side; stand-in generator)
PICKS: dict[str, tuple[tuple[float, float, float], str]] = {
    "astronaut": ((0.05, 0.25, 0.55), "nearest"),
    "chelsea": ((0.05, 0.25, 0.85), "transposed_conv3"),
    "coffee": ((0.05, 0.20, 0.90), "transposed_conv4"),
}
QUALITY = 85


def crop(photo: np.ndarray, top: float, left: float, side: float, size: int) -> np.ndarray:
    """A square crop (fractions of the shorter side) resized to `size` x `size` RGB."""
    height, width = photo.shape[:2]
    edge = int(min(height, width) * side)
    y, x = int(height * top), int(width * left)
    y, x = min(y, height - edge), min(x, width - edge)
    region = Image.fromarray(photo[y : y + edge, x : x + edge, :3])
    return np.asarray(region.resize((size, size), Image.Resampling.LANCZOS))


def jpeg(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=QUALITY, optimize=True)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("frontend/examples"))
    parser.add_argument("--size", type=int, default=192)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for number, (name, ((top, left, side), kind)) in enumerate(PICKS.items()):
        real = crop(getattr(skdata, name)(), top, left, side, args.size)
        fake = generate(real, kind, np.random.default_rng([0, number]))
        for label, pixels in (("real", real), ("ai", fake)):
            path = args.out / f"{label}-{name}.jpg"
            path.write_bytes(jpeg(pixels))
            print(f"{path} ({path.stat().st_size / 1024:.1f} KiB)")


if __name__ == "__main__":
    main()
