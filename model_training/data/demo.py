"""The embedded demo dataset: a stand-in for aiornot, generated offline from a seed.

Real images are crops of the photographs shipped inside scikit-image's wheel; each AI
image is the same crop re-made by a stand-in generator (`fingerprints.py`). Both then
pass through the same post-processing (crop scale, resampling filter, JPEG quality
drawn from one distribution), so only the generator's fingerprint separates them.
It teaches the pipeline, not the real task: a model trained on it detects these
upsampling traces, not images from real generators.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data as skdata

from model_training.data.fingerprints import GENERATORS, generate
from model_training.data.records import ImageRecord

VERSION = "v1"
INDEX = "index.json"
JPEG_QUALITY = (80, 95)  # inclusive range, the same for both classes
MAX_CROP_SCALE = 3.0  # a crop spans up to 3x the output size before downscaling
_FILTERS = (
    Image.Resampling.BOX,
    Image.Resampling.BILINEAR,
    Image.Resampling.BICUBIC,
    Image.Resampling.LANCZOS,
)

# name -> (group, loader). Real photographs only: no synthetic images (checkerboard, logo...).
PHOTOS: dict[str, tuple[str, Callable[[], np.ndarray]]] = {
    name: (name, getattr(skdata, name))
    for name in (
        "astronaut", "brick", "camera", "cell", "chelsea", "clock", "coffee", "coins",
        "grass", "gravel", "hubble_deep_field", "immunohistochemistry", "microaneurysms",
        "moon", "page", "retina", "rocket", "text",
    )
}  # fmt: skip
# The two stereo views show one scene: one group, so they never straddle a split.
PHOTOS["motorcycle_left"] = ("stereo_motorcycle", lambda: skdata.stereo_motorcycle()[0])
PHOTOS["motorcycle_right"] = ("stereo_motorcycle", lambda: skdata.stereo_motorcycle()[1])


def demo_dir(root: Path, seed: int, image_size: int, samples_per_photo: int) -> Path:
    """Where one configuration of the demo lives; every knob is in the name."""
    return Path(root) / f"demo-{VERSION}-seed{seed}-size{image_size}-n{samples_per_photo}"


def build_demo(
    root: Path, *, seed: int = 0, image_size: int = 64, samples_per_photo: int = 80
) -> Path:
    """Generate the demo once (atomically) and return its directory; later calls reuse it."""
    target = demo_dir(root, seed, image_size, samples_per_photo)
    if (target / INDEX).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and not (target / INDEX).is_file():
        shutil.rmtree(target)  # a copy without its index was never complete: never read
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        rows = _write_samples(staging, seed, image_size, samples_per_photo)
        meta = {"version": VERSION, "seed": seed, "image_size": image_size}
        meta |= {"samples_per_photo": samples_per_photo, "records": rows}
        (staging / INDEX).write_text(json.dumps(meta, indent=1))
        try:
            os.replace(staging, target)
        except OSError:  # another process won the race; its copy is identical
            if not (target / INDEX).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def load_demo_records(directory: Path) -> list[ImageRecord]:
    """Records of a built demo, grouped by source photograph."""
    meta = json.loads((Path(directory) / INDEX).read_text())
    return [
        ImageRecord(
            id=row["id"],
            label=row["label"],
            group=row["group"],
            path=Path(directory) / row["file"],
            sha256=row["sha256"],
        )
        for row in meta["records"]
    ]


def _write_samples(out: Path, seed: int, size: int, per_photo: int) -> list[dict[str, object]]:
    for sub in ("real", "ai"):
        (out / sub).mkdir()
    rows: list[dict[str, object]] = []
    for number, (name, (group, loader)) in enumerate(PHOTOS.items()):
        photo = _as_rgb(loader())
        if min(photo.shape[:2]) < size:
            continue  # too small to crop without upsampling (a fingerprint of its own)
        for k in range(per_photo):
            rng = np.random.default_rng([seed, number, k])
            crop = _random_crop(photo, size, rng)
            kind = GENERATORS[int(rng.integers(len(GENERATORS)))]
            pair = {"real": crop, "ai": generate(crop, kind, rng)}
            for label, (sub, pixels) in enumerate(pair.items()):
                quality = int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1))
                payload = _jpeg(pixels, quality)
                file = f"{sub}/{name}-{k:04d}.jpg"
                (out / file).write_bytes(payload)
                rows.append(
                    {"id": file.removesuffix(".jpg"), "label": label, "group": group,
                     "file": file, "sha256": hashlib.sha256(payload).hexdigest(),
                     "generator": kind if label else None, "quality": quality}
                )  # fmt: skip
    return rows


def _as_rgb(photo: np.ndarray) -> np.ndarray:
    if photo.ndim == 2:
        photo = np.repeat(photo[:, :, None], 3, axis=2)
    return np.ascontiguousarray(photo[:, :, :3].astype(np.uint8))


def _random_crop(photo: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A square region 1x-3x the output size (log-uniform), downscaled to `size`."""
    height, width = photo.shape[:2]
    top_scale = min(MAX_CROP_SCALE, min(height, width) / size)
    side = round(size * float(np.exp(rng.uniform(0.0, np.log(top_scale)))))
    side = max(size, min(side, height, width))
    top = int(rng.integers(0, height - side + 1))
    left = int(rng.integers(0, width - side + 1))
    region = Image.fromarray(photo[top : top + side, left : left + side])
    resample = _FILTERS[int(rng.integers(len(_FILTERS)))]
    return np.asarray(region.resize((size, size), resample))


def _jpeg(pixels: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    """`python -m model_training.data.demo`: build (or reuse) the demo and say where it is."""
    import argparse

    parser = argparse.ArgumentParser(description="Build the embedded demo dataset (offline).")
    default_root = Path(os.environ.get("AIORNOT_DATA_DIR", "artifacts/data"))
    parser.add_argument("--root", type=Path, default=default_root)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--samples-per-photo", type=int, default=80)
    args = parser.parse_args(argv)
    directory = build_demo(
        args.root,
        seed=args.seed,
        image_size=args.image_size,
        samples_per_photo=args.samples_per_photo,
    )
    records = load_demo_records(directory)
    ai = sum(record.label for record in records)
    photos = len({record.group for record in records})
    real = len(records) - ai
    print(f"{directory}: {len(records)} images ({real} real, {ai} AI) from {photos} photos")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
