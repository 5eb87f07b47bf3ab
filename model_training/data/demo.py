"""The embedded demo dataset: a stand-in for aiornot, generated offline from a seed.

Real images are native-resolution crops of the photographs shipped inside scikit-image's
and matplotlib's wheels, in sizes from 64 px up to the photograph's own. Each AI image is
the same crop re-made, at the size it is shown, by a stand-in generator: a small
convolutional decoder (`decoders.py`) or an upsampling kernel (`fingerprints.py`). Each pair
then goes through the same post-processing (an optional downscale after generation, a
labelled condition; PNG or JPEG at quality 60-95), so only how the pixels were made
separates the classes. It teaches the pipeline, not the real task: a model trained on it
detects these stand-ins, and says little about images from real generators.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib
import numpy as np
from PIL import Image, ImageFilter
from skimage import data as skdata

from lambda_fn.manifest import LABELS
from model_training.data import fingerprints
from model_training.data.records import ImageRecord

if TYPE_CHECKING:
    from model_training.data.decoders import StandInDecoder

VERSION = "v2"
# Pairs cut from each photograph. 80, not 60: on an Intel Xeon the 64-96 px bucket reached
# 0.939 with 60 and 0.968 with 80 (held-out photographs, JPEG >= 70), at the same steps; on
# an AMD EPYC 80 gives 0.941 and 100 also 0.941 (docs/training.md).
DEFAULT_SAMPLES_PER_PHOTO = 80
INDEX = "index.json"
MIN_SIDE = 64  # the model's crop: no demo image is smaller, so none needs padding
# Longer-side ranges a sample's size is drawn from, one range chosen uniformly per sample
# (among those the photograph can fill), then log-uniform within it.
SIZE_RANGES: tuple[tuple[int, int], ...] = ((64, 96), (97, 256), (257, 512), (513, 1024))
ASPECT = (0.75, 4 / 3)  # width / height, log-uniform
PRESCALE_PROBABILITY = 0.5  # share of crops downscaled from a larger region before generation
MAX_PRESCALE = 3.0
BLUR_PROBABILITY = 0.3  # share of crops softened first (focus, motion, a camera's processing)
BLUR_SIGMA = (0.3, 1.0)
NOISE_PROBABILITY = 0.4  # share of crops with sensor-like noise added first
NOISE_SIGMA = (1.0, 5.0)  # grey levels
RESIZE_AFTER_PROBABILITY = 0.25  # the labelled "resized after generation" condition
RESIZE_AFTER = (0.6, 0.95)
PNG_PROBABILITY = 0.15
JPEG_QUALITY = (60, 95)  # inclusive, the same for both images of a pair
KERNEL_PROBABILITY = 0.25  # share of fakes from the upsampling kernels, the rest from decoders
# A crop must show something: its mean absolute difference between neighbouring pixels
# (grey levels) at least this. Featureless patches (grey sky, a dark fundus background)
# carry no trace after JPEG in either class, so they would only teach noise.
MIN_DETAIL = 1.5
MAX_SHARPEN = 4.0  # the most a fake's fine detail is amplified to match its real crop's
CROP_TRIES = 20  # random crops tried for one with MIN_DETAIL before taking the most detailed
FILTERS = {
    "box": Image.Resampling.BOX,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}


def _mpl_photo(name: str) -> Callable[[], np.ndarray]:
    path = Path(matplotlib.get_data_path()) / "sample_data" / name
    return lambda: np.asarray(Image.open(path).convert("RGB"))


# name -> (group, loader). Real photographs only: no synthetic images (checkerboard, logo...).
PHOTOS: dict[str, tuple[str, Callable[[], np.ndarray]]] = {
    name: (name, getattr(skdata, name))
    for name in (
        "astronaut", "brick", "camera", "cell", "chelsea", "clock", "coffee", "coins",
        "grass", "gravel", "hubble_deep_field", "immunohistochemistry", "microaneurysms",
        "moon", "page", "retina", "rocket", "text",
    )
}  # fmt: skip
# scikit-image's moon is a 256 x 256 photograph stored upscaled 2x by pixel repetition
# (every pixel is a 2 x 2 block): as shipped it carries exactly the nearest-neighbour trace the
# "AI" class is made of. Taking every other pixel gives back its own pixels, untouched.
PHOTOS["moon"] = ("moon", lambda: skdata.moon()[::2, ::2])
# The two stereo views show one scene: one group, so they never straddle a split.
PHOTOS["motorcycle_left"] = ("stereo_motorcycle", lambda: skdata.stereo_motorcycle()[0])
PHOTOS["motorcycle_right"] = ("stereo_motorcycle", lambda: skdata.stereo_motorcycle()[1])
PHOTOS["grace_hopper"] = ("grace_hopper", _mpl_photo("grace_hopper.jpg"))


@dataclass(frozen=True)
class Pair:
    """How one real crop and its AI counterpart are made and post-processed."""

    width: int
    height: int
    prescale: float  # region side / crop side; 1.0 = the photograph's own pixels
    prescale_filter: str
    blur: float | None  # sigma of the optical blur of the real crop, or None
    noise: float | None  # sigma (grey levels) of the sensor noise added to it, or None
    generator: str
    resize_after: float | None  # factor of the downscale after generation, or None
    resize_filter: str
    format: str  # "JPEG" or "PNG"
    quality: int | None


def demo_dir(root: Path, seed: int, samples_per_photo: int, max_side: int | None) -> Path:
    """Where one configuration of the demo lives; every knob is in the name."""
    side = f"-max{max_side}" if max_side else ""
    return Path(root) / f"demo-{VERSION}-seed{seed}-n{samples_per_photo}{side}"


def build_demo(
    root: Path,
    *,
    seed: int = 0,
    samples_per_photo: int = DEFAULT_SAMPLES_PER_PHOTO,
    max_side: int | None = None,
) -> Path:
    """Generate the demo once (atomically) and return its directory; later calls reuse it.

    `max_side` caps the longer side of every image (tests use it to stay small).
    """
    target = demo_dir(root, seed, samples_per_photo, max_side)
    if (target / INDEX).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and not (target / INDEX).is_file():
        shutil.rmtree(target)  # a copy without its index was never complete: never read
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        rows = _write_samples(staging, seed, samples_per_photo, max_side)
        meta = {"version": VERSION, "seed": seed, "samples_per_photo": samples_per_photo}
        meta |= {"max_side": max_side, "records": rows}
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
    """Records of a built demo, grouped by source photograph, with their conditions."""
    meta = json.loads((Path(directory) / INDEX).read_text())
    return [
        ImageRecord(
            id=row["id"],
            label=row["label"],
            group=row["group"],
            path=Path(directory) / row["file"],
            sha256=row["sha256"],
            pair=row["pair"],
            resized_after=row["resize_after"] is not None,
        )
        for row in meta["records"]
    ]


def load_photos() -> dict[str, np.ndarray]:
    """Every photograph as uint8 (H, W, 3)."""
    return {name: as_rgb(loader()) for name, (_, loader) in PHOTOS.items()}


def generators(photos: dict[str, np.ndarray], seed: int) -> dict[str, StandInDecoder | str]:
    """Generator name -> a trained decoder, or the name of an upsampling kernel."""
    from model_training.data.decoders import train_decoders  # torch only to build

    found: dict[str, StandInDecoder | str] = {k: k for k in fingerprints.GENERATORS}
    colour = [photo for photo in photos.values() if np.ptp(photo.astype(int), axis=2).mean() > 8]
    for decoder in train_decoders(colour, seed):
        found[decoder.name] = decoder
    return found


def _write_samples(
    out: Path, seed: int, per_photo: int, max_side: int | None
) -> list[dict[str, object]]:
    for sub in LABELS:
        (out / sub).mkdir()
    photos = load_photos()
    makers = generators(photos, seed)
    rows: list[dict[str, object]] = []
    for number, (name, photo) in enumerate(photos.items()):
        group = PHOTOS[name][0]
        for k in range(per_photo):
            rng = np.random.default_rng([seed, number, k])
            pair, real = _detailed_crop(photo, makers, rng, max_side)
            real = add_sensor_noise(real, pair, rng)
            fake = make_fake(real, makers[pair.generator], rng)
            for label, (sub, pixels) in enumerate(zip(LABELS, (real, fake), strict=True)):
                payload = post_process(pixels, pair)
                suffix = ".jpg" if pair.format == "JPEG" else ".png"
                file = f"{sub}/{name}-{k:04d}{suffix}"
                (out / file).write_bytes(payload)
                rows.append(
                    {"id": f"{sub}/{name}-{k:04d}", "label": label, "group": group, "file": file,
                     "pair": f"{name}-{k:04d}",
                     "sha256": hashlib.sha256(payload).hexdigest(),
                     "generator": pair.generator if label else None,
                     "width": pair.width, "height": pair.height, "prescale": pair.prescale,
                     "blur": pair.blur, "noise": pair.noise,
                     "resize_after": pair.resize_after, "format": pair.format,
                     "quality": pair.quality}
                )  # fmt: skip
    return rows


def _detailed_crop(
    photo: np.ndarray,
    makers: dict[str, StandInDecoder | str],
    rng: np.random.Generator,
    max_side: int | None,
) -> tuple[Pair, np.ndarray]:
    """The first of several drawn crops that shows detail, else the most detailed one."""
    best: tuple[float, Pair, np.ndarray] | None = None
    for _ in range(CROP_TRIES):
        pair = draw_pair(photo.shape[:2], makers, rng, max_side)
        real = native_crop(photo, pair, rng)
        score = detail(real)
        if score >= MIN_DETAIL:
            return pair, real
        if best is None or score > best[0]:
            best = (score, pair, real)
    assert best is not None
    return best[1], best[2]


def draw_pair(
    photo_shape: tuple[int, ...],
    makers: dict[str, StandInDecoder | str],
    rng: np.random.Generator,
    max_side: int | None = None,
) -> Pair:
    """Draw one pair's size, provenance and post-processing."""
    photo_h, photo_w = int(photo_shape[0]), int(photo_shape[1])
    longest = min(max(photo_h, photo_w), max_side or 10**9)
    ranges = [(lo, min(hi, longest)) for lo, hi in SIZE_RANGES if lo <= longest]
    lo, hi = ranges[int(rng.integers(len(ranges)))]
    side = _log_uniform(rng, lo, hi)
    aspect = _log_uniform(rng, *ASPECT)
    width, height = (side, side / aspect) if aspect >= 1 else (side * aspect, side)
    width = int(np.clip(round(width), MIN_SIDE, photo_w))
    height = int(np.clip(round(height), MIN_SIDE, photo_h))
    room = min(MAX_PRESCALE, photo_w / width, photo_h / height)
    prescale = 1.0
    if room > 1.05 and rng.random() < PRESCALE_PROBABILITY:
        prescale = round(_log_uniform(rng, 1.0, room, integer=False), 3)
    blur = None
    if rng.random() < BLUR_PROBABILITY:
        blur = round(float(rng.uniform(*BLUR_SIGMA)), 3)
    noise = None
    if rng.random() < NOISE_PROBABILITY:
        noise = round(float(rng.uniform(*NOISE_SIGMA)), 3)
    kernels = list(fingerprints.GENERATORS)
    decoders = [name for name in makers if name not in kernels]
    pool = kernels if rng.random() < KERNEL_PROBABILITY or not decoders else decoders
    generator = pool[int(rng.integers(len(pool)))]
    resize_after = None
    if rng.random() < RESIZE_AFTER_PROBABILITY:
        factor = round(float(rng.uniform(*RESIZE_AFTER)), 3)
        if min(width, height) * factor >= MIN_SIDE:
            resize_after = factor
    is_png = rng.random() < PNG_PROBABILITY
    quality = None if is_png else int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1))
    filters = list(FILTERS)
    return Pair(
        width=width,
        height=height,
        prescale=prescale,
        prescale_filter=filters[int(rng.integers(len(filters)))],
        blur=blur,
        noise=noise,
        generator=generator,
        resize_after=resize_after,
        resize_filter=filters[int(rng.integers(len(filters)))],
        format="PNG" if is_png else "JPEG",
        quality=quality,
    )


def native_crop(photo: np.ndarray, pair: Pair, rng: np.random.Generator) -> np.ndarray:
    """The real image: the photograph's pixels, or a larger region downscaled to the size."""
    photo_h, photo_w = photo.shape[:2]
    region_w = min(photo_w, round(pair.width * pair.prescale))
    region_h = min(photo_h, round(pair.height * pair.prescale))
    top = int(rng.integers(0, photo_h - region_h + 1))
    left = int(rng.integers(0, photo_w - region_w + 1))
    image = Image.fromarray(
        np.ascontiguousarray(photo[top : top + region_h, left : left + region_w])
    )
    if (region_w, region_h) != (pair.width, pair.height):
        image = image.resize((pair.width, pair.height), FILTERS[pair.prescale_filter])
    if pair.blur is not None:
        image = image.filter(ImageFilter.GaussianBlur(pair.blur))
    return np.asarray(image)


def add_sensor_noise(pixels: np.ndarray, pair: Pair, rng: np.random.Generator) -> np.ndarray:
    """White noise as a camera sensor leaves it, so noise alone never says "AI".

    A grey photograph gets grey noise: colour noise in a black-and-white picture is
    something no camera makes, and the fake (re-made from a smoothed latent) would lack it,
    so it would become a shortcut that calls every clean grey photograph AI.
    """
    if pair.noise is None:
        return pixels
    shape = (*pixels.shape[:2], 1) if is_grey(pixels) else pixels.shape
    noisy = pixels + rng.normal(0.0, pair.noise, size=shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def is_grey(pixels: np.ndarray) -> bool:
    """Every pixel has R = G = B (a black-and-white photograph stored as RGB)."""
    return bool((pixels == pixels[..., :1]).all())


def make_fake(
    real: np.ndarray, maker: StandInDecoder | str, rng: np.random.Generator
) -> np.ndarray:
    """The AI counterpart, made at the real crop's own size and as detailed as it."""
    if isinstance(maker, str):
        fake = fingerprints.generate(real, maker, rng)
    else:
        fake = maker.remake(real, rng)
    if is_grey(real):  # a grey photograph's fake is grey too: no colour tint to tell them by
        grey = np.rint(fake.astype(np.float32).mean(axis=2, keepdims=True))
        fake = np.repeat(grey, 3, axis=2).astype(np.uint8)
    return match_detail(fake, real)


def match_detail(fake: np.ndarray, real: np.ndarray) -> np.ndarray:
    """Sharpen a fake whose fine detail is weaker than the real crop's, up to the same energy.

    A briefly trained decoder, re-making a crop from a coarser latent, loses fine detail;
    real generators synthesise it. Left alone, "blurrier than usual" would separate the
    classes, and a detector that learnt it would call every soft photograph AI. Boosting the
    fake's own residual (an unsharp mask) restores the energy and amplifies its traces.
    """

    def residual(pixels: np.ndarray) -> np.ndarray:
        image = Image.fromarray(pixels)
        return pixels.astype(np.float32) - np.asarray(
            image.filter(ImageFilter.GaussianBlur(1.0)), dtype=np.float32
        )

    fake_detail, real_detail = residual(fake), residual(real)
    gain = float(np.clip(real_detail.std() / (fake_detail.std() + 1e-6), 1.0, MAX_SHARPEN))
    return np.clip(np.rint(fake + (gain - 1.0) * fake_detail), 0, 255).astype(np.uint8)


def post_process(pixels: np.ndarray, pair: Pair) -> bytes:
    """What both images of a pair go through after generation: resize (maybe), then encode."""
    image = Image.fromarray(pixels)
    if pair.resize_after is not None:
        size = (round(pair.width * pair.resize_after), round(pair.height * pair.resize_after))
        image = image.resize(size, FILTERS[pair.resize_filter])
    buffer = io.BytesIO()
    if pair.format == "PNG":
        image.save(buffer, format="PNG", compress_level=1)
    else:
        image.save(buffer, format="JPEG", quality=pair.quality)
    return buffer.getvalue()


def detail(pixels: np.ndarray) -> float:
    """Mean absolute difference between neighbouring grey pixels: 0 for a flat patch."""
    grey = pixels.astype(np.float32).mean(axis=2)
    return float(np.abs(np.diff(grey, axis=0)).mean() + np.abs(np.diff(grey, axis=1)).mean()) / 2


def as_rgb(photo: np.ndarray) -> np.ndarray:
    if photo.ndim == 2:
        photo = np.repeat(photo[:, :, None], 3, axis=2)
    return np.ascontiguousarray(photo[:, :, :3].astype(np.uint8))


def _log_uniform(rng: np.random.Generator, lo: float, hi: float, *, integer: bool = True) -> float:
    value = float(np.exp(rng.uniform(np.log(lo), np.log(max(lo, hi)))))
    return round(value) if integer else value


def main(argv: list[str] | None = None) -> int:
    """`python -m model_training.data.demo`: build (or reuse) the demo and say where it is."""
    import argparse

    parser = argparse.ArgumentParser(description="Build the embedded demo dataset (offline).")
    default_root = Path(os.environ.get("AIORNOT_DATA_DIR", "artifacts/data"))
    parser.add_argument("--root", type=Path, default=default_root)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples-per-photo", type=int, default=DEFAULT_SAMPLES_PER_PHOTO)
    parser.add_argument("--max-side", type=int, default=None)
    args = parser.parse_args(argv)
    directory = build_demo(
        args.root, seed=args.seed, samples_per_photo=args.samples_per_photo, max_side=args.max_side
    )
    records = load_demo_records(directory)
    ai = sum(record.label for record in records)
    photos = len({record.group for record in records})
    real = len(records) - ai
    print(f"{directory}: {len(records)} images ({real} real, {ai} AI) from {photos} photos")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
