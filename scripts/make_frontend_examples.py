"""Write the frontend's example images: held-out photo crops and their "AI" re-makes.

They are made by the demo dataset's own code (`model_training.data.demo`): a native-resolution
crop of a photograph the demo model never trains on (seed 0 holds out clock, moon and the
stereo motorcycle for test, brick, coins and retina for validation), re-made by one of the
demo's stand-in decoders, both saved as JPEG at quality 85. They are committed to
`frontend/examples/`, so the Space needs neither scikit-image nor this project to show them.

    python scripts/make_frontend_examples.py [--out frontend/examples]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from model_training.data import demo

QUALITY = 85
# example name -> (photograph, width, height, stand-in generator); every side >= 256 px.
PICKS: dict[str, tuple[str, int, int, str]] = {
    "motorcycle": ("motorcycle_left", 512, 384, "pixel_shuffle_x2"),
    "coins": ("coins", 384, 300, "nearest_conv_x2"),
    "moon": ("moon", 256, 256, "tconv_x2"),
}


def make(out: Path, seed: int = 0) -> list[Path]:
    """Write `real-NAME.jpg` and `ai-NAME.jpg` for every pick; return the paths."""
    photos = demo.load_photos()
    makers = demo.generators(photos, seed)
    written = []
    for number, (name, (photo_name, width, height, generator)) in enumerate(PICKS.items()):
        pair = demo.Pair(
            width=width, height=height, prescale=1.0, prescale_filter="lanczos", blur=None,
            noise=None, generator=generator, resize_after=None, resize_filter="lanczos",
            format="JPEG", quality=QUALITY,
        )  # fmt: skip
        rng = np.random.default_rng([seed, 1000 + number])
        real = demo.native_crop(photos[photo_name], pair, rng)
        fake = demo.make_fake(real, makers[generator], rng)
        for label, pixels in (("real", real), ("ai", fake)):
            path = out / f"{label}-{name}.jpg"
            path.write_bytes(demo.post_process(pixels, pair))
            written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("frontend/examples"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("*.jpg"):
        old.unlink()
    for path in make(args.out):
        print(f"{path} ({path.stat().st_size / 1024:.1f} KiB)")


if __name__ == "__main__":
    main()
