"""The embedded demo (v2): deterministic, cached, varied sizes, pairs post-processed alike,
split by photograph, and no shortcut (brightness, fine-detail energy) that separates the classes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from model_training.data import demo
from model_training.data.splits import split_records

SYNTHETIC = {"checkerboard", "colorwheel", "binary_blobs", "logo", "shepp_logan_phantom", "horse"}


def _files(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in directory.rglob("*")
        if p.suffix in (".jpg", ".png")
    }


def auroc(positive: np.ndarray, negative: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (Mann-Whitney)."""
    ranks = np.concatenate([positive, negative]).argsort().argsort() + 1
    n_pos, n_neg = len(positive), len(negative)
    return float((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def test_demo_is_byte_identical_for_the_same_seed(tmp_path: Path) -> None:
    first = demo.build_demo(tmp_path / "a", seed=3, samples_per_photo=2, max_side=128)
    second = demo.build_demo(tmp_path / "b", seed=3, samples_per_photo=2, max_side=128)
    other = demo.build_demo(tmp_path / "c", seed=4, samples_per_photo=2, max_side=128)
    assert _files(first) == _files(second)
    assert (first / demo.INDEX).read_text() == (second / demo.INDEX).read_text()
    assert {r.id for r in demo.load_demo_records(first)} == {
        r.id for r in demo.load_demo_records(other)
    }
    assert _files(first) != _files(other)


def test_demo_reuses_its_cache_on_a_second_call(tiny_demo_root: Path) -> None:
    directory = demo.demo_dir(tiny_demo_root, 0, 3, 128)
    before = {p: p.stat().st_mtime_ns for p in directory.rglob("*")}
    again = demo.build_demo(tiny_demo_root, seed=0, samples_per_photo=3, max_side=128)
    assert again == directory
    assert {p: p.stat().st_mtime_ns for p in directory.rglob("*")} == before


def test_each_pair_shares_its_size_format_and_quality(tiny_demo_root: Path) -> None:
    """Both images of a pair go through the same post-processing; sizes vary across pairs."""
    directory = demo.demo_dir(tiny_demo_root, 0, 3, 128)
    rows = json.loads((directory / demo.INDEX).read_text())["records"]
    by_pair: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        by_pair.setdefault(str(row["pair"]), []).append(row)
    sizes = set()
    for pair in by_pair.values():
        real, fake = sorted(pair, key=lambda row: int(row["label"]))  # type: ignore[call-overload]
        with (
            Image.open(directory / str(real["file"])) as a,
            Image.open(directory / str(fake["file"])) as b,
        ):
            assert (a.format, a.size) == (b.format, b.size)
            sizes.add(a.size)
            assert min(a.size) >= demo.MIN_SIDE and max(a.size) <= 128
        assert real["quality"] == fake["quality"] and real["resize_after"] == fake["resize_after"]
        assert fake["generator"] and real["generator"] is None
    assert len(sizes) > 10
    assert {row["format"] for row in rows} <= {"JPEG", "PNG"}


def test_demo_uses_only_real_photographs() -> None:
    assert not SYNTHETIC & set(demo.PHOTOS)
    assert len({group for group, _ in demo.PHOTOS.values()}) >= 18


def test_demo_split_keeps_every_photograph_in_one_split(tiny_demo_root: Path) -> None:
    records = demo.load_demo_records(demo.demo_dir(tiny_demo_root, 0, 3, 128))
    for seed in range(3):
        splits = split_records(records, val_fraction=0.15, test_fraction=0.15, seed=seed)
        groups = {name: {r.group for r in rows} for name, rows in splits.items()}
        assert not groups["train"] & groups["val"]
        assert not groups["train"] & groups["test"]
        assert not groups["val"] & groups["test"]
        assert all(rows for rows in splits.values())


def test_neither_brightness_nor_fine_detail_separates_the_classes(tmp_path: Path) -> None:
    """Only how the pixels were made may tell: mean brightness and the energy of the fine
    detail (what a blur detector would use) must not, or the model learns a shortcut that
    calls every soft photograph AI."""
    directory = demo.build_demo(tmp_path, seed=0, samples_per_photo=6, max_side=128)
    brightness: dict[int, list[float]] = {0: [], 1: []}
    detail: dict[int, list[float]] = {0: [], 1: []}
    for record in demo.load_demo_records(directory):
        pixels = np.asarray(Image.open(record.path).convert("RGB"))
        brightness[record.label].append(float(pixels.mean()))
        detail[record.label].append(demo.detail(pixels))
    for feature in (brightness, detail):
        score = auroc(np.array(feature[1]), np.array(feature[0]))
        assert 0.35 < score < 0.65, score


def test_the_stand_in_generators_include_neural_decoders() -> None:
    photos = demo.load_photos()
    makers = demo.generators(photos, seed=0)
    decoders = [name for name, maker in makers.items() if not isinstance(maker, str)]
    assert len(decoders) >= 6
    assert {"nearest", "transposed_conv3", "transposed_conv4"} <= set(makers)  # the v1 kernels
    crop = photos["coffee"][:96, :128]
    for name in decoders:
        fake = demo.make_fake(crop, makers[name], np.random.default_rng(0))
        assert fake.shape == crop.shape and fake.dtype == np.uint8
        assert 2 < np.abs(fake.astype(int) - crop).mean() < 40  # the same picture, re-made


def test_grey_photographs_stay_grey_in_both_classes(tiny_demo_root: Path) -> None:
    """No colour cue: sensor noise on a grey photograph is grey, and so is its fake. Colour
    noise only on the real side taught the model to call every clean grey photograph AI."""
    photos = demo.load_photos()
    grey_groups = {demo.PHOTOS[name][0] for name, pixels in photos.items() if demo.is_grey(pixels)}
    assert {"camera", "moon", "coins"} <= grey_groups
    records = demo.load_demo_records(demo.demo_dir(tiny_demo_root, 0, 3, 128))
    checked = 0
    for record in records:
        if record.group in grey_groups:
            pixels = np.asarray(Image.open(record.path).convert("RGB")).astype(int)
            assert np.ptp(pixels, axis=2).max() <= 1, (record.id, record.label)
            checked += 1
    assert checked >= 30


def test_no_real_photograph_carries_an_upsampling_trace() -> None:
    """A "real" image stored upscaled by pixel repetition is, pixel for pixel, what the
    nearest-neighbour generator makes: skimage's moon ships that way, so the demo takes
    every other pixel of it. Every neighbouring pair of columns and rows must differ somewhere."""
    for name, pixels in demo.load_photos().items():
        grey = pixels.astype(int).sum(axis=2)
        repeated_columns = (grey[:, 0:-1:2] == grey[:, 1::2]).mean()
        repeated_rows = (grey[0:-1:2] == grey[1::2]).mean()
        assert max(repeated_columns, repeated_rows) < 0.5, name
