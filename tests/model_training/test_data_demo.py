"""The embedded demo: deterministic, cached, split by photograph, learnable but not trivially."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from model_training.data import demo
from model_training.data.splits import split_records

SYNTHETIC = {"checkerboard", "colorwheel", "binary_blobs", "logo", "shepp_logan_phantom", "horse"}


def _files(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in directory.rglob("*.jpg")}


def auroc(positive: np.ndarray, negative: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (Mann-Whitney)."""
    ranks = np.concatenate([positive, negative]).argsort().argsort() + 1
    n_pos, n_neg = len(positive), len(negative)
    return float((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def test_demo_is_byte_identical_for_the_same_seed(tmp_path: Path) -> None:
    first = demo.build_demo(tmp_path / "a", seed=3, image_size=32, samples_per_photo=2)
    second = demo.build_demo(tmp_path / "b", seed=3, image_size=32, samples_per_photo=2)
    other = demo.build_demo(tmp_path / "c", seed=4, image_size=32, samples_per_photo=2)
    assert _files(first) == _files(second)
    assert (first / demo.INDEX).read_text() == (second / demo.INDEX).read_text()
    assert _files(first).keys() == _files(other).keys()
    assert _files(first) != _files(other)


def test_demo_reuses_its_cache_on_a_second_call(tiny_demo_root: Path) -> None:
    directory = demo.demo_dir(tiny_demo_root, 0, 32, 3)
    before = {p: p.stat().st_mtime_ns for p in directory.rglob("*")}
    again = demo.build_demo(tiny_demo_root, seed=0, image_size=32, samples_per_photo=3)
    assert again == directory
    assert {p: p.stat().st_mtime_ns for p in directory.rglob("*")} == before


def test_demo_images_have_exactly_the_requested_size_in_both_classes(tiny_demo_root: Path) -> None:
    records = demo.load_demo_records(demo.demo_dir(tiny_demo_root, 0, 32, 3))
    assert {r.label for r in records} == {0, 1}
    assert sum(r.label for r in records) * 2 == len(records)
    for record in records[::7]:
        with Image.open(record.path) as image:
            assert (image.format, image.size) == ("JPEG", (32, 32))


def test_demo_uses_only_real_photographs() -> None:
    assert not SYNTHETIC & set(demo.PHOTOS)
    assert len({group for group, _ in demo.PHOTOS.values()}) >= 18


def test_demo_split_keeps_every_photograph_in_one_split(tiny_demo_root: Path) -> None:
    records = demo.load_demo_records(demo.demo_dir(tiny_demo_root, 0, 32, 3))
    for seed in range(3):
        splits = split_records(records, val_fraction=0.15, test_fraction=0.15, seed=seed)
        groups = {name: {r.group for r in rows} for name, rows in splits.items()}
        assert not groups["train"] & groups["val"]
        assert not groups["train"] & groups["test"]
        assert not groups["val"] & groups["test"]
        assert all(rows for rows in splits.values())


def test_demo_is_separable_by_a_high_frequency_feature_but_not_by_brightness(
    tmp_path: Path,
) -> None:
    """Upsampling leaves an anomaly at the Nyquist frequency (a checkerboard peak or a
    nearest-neighbour notch); real crops fall off smoothly. Brightness must not tell."""
    directory = demo.build_demo(tmp_path, seed=0, image_size=64, samples_per_photo=6)
    anomaly: dict[int, list[float]] = {0: [], 1: []}
    brightness: dict[int, list[float]] = {0: [], 1: []}
    for record in demo.load_demo_records(directory):
        gray = np.asarray(Image.open(record.path).convert("L"), dtype=np.float64)
        power = np.abs(np.fft.fft2(gray - gray.mean())) ** 2
        half = gray.shape[0] // 2
        nyquist = power[half, :].sum() + power[:, half].sum()
        near = power[half - 2, :].sum() + power[:, half - 2].sum()
        anomaly[record.label].append(abs(np.log((nyquist + 1e-3) / (near + 1e-3))))
        brightness[record.label].append(gray.mean())
    assert auroc(np.array(anomaly[1]), np.array(anomaly[0])) > 0.8
    assert 0.4 < auroc(np.array(brightness[1]), np.array(brightness[0])) < 0.6
    assert abs(np.mean(brightness[1]) - np.mean(brightness[0])) < 3.0  # grey levels
