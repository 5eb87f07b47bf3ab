"""Reusable fixtures: JPEG bytes, Hub-schema parquet files, tiny demo data, W&B offline."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import wandb
from PIL import Image

from model_training.data.config import DataConfig
from model_training.data.demo import build_demo

HUB_SCHEMA = {"id": "string", "image": "struct<bytes: binary, path: string>", "label": "int64"}
BAD_IDS = ("bad-corrupt", "bad-truncated", "bad-label", "bad-tiny", "dup-id")


def jpeg_bytes(seed: int, size: tuple[int, int] = (48, 40), quality: int = 90) -> bytes:
    """A distinct little JPEG per seed (smooth noise, so it compresses like a photo)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, size=(size[1] // 8 + 1, size[0] // 8 + 1, 3), dtype=np.uint8)
    image = Image.fromarray(coarse).resize(size, Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def write_hub_parquet(path: Path, rows: list[dict[str, object]]) -> Path:
    """Write rows {id, image: bytes, label} as the Hub stores them (datasets.Image feature)."""
    import datasets

    table = datasets.Dataset.from_dict(
        {
            "id": [row["id"] for row in rows],
            "image": [{"bytes": row["image"], "path": None} for row in rows],
            "label": [row["label"] for row in rows],
        }
    ).cast_column("image", datasets.Image())
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(str(path))
    return path


def good_rows(count: int, *, start: int = 0) -> list[dict[str, object]]:
    """Balanced, distinct, valid rows: ids real-N / ai-N."""
    return [
        {"id": f"{'ai' if i % 2 else 'real'}-{i:03d}", "image": jpeg_bytes(i), "label": i % 2}
        for i in range(start, start + count)
    ]


def bad_rows() -> list[dict[str, object]]:
    """One row per kind of defect; `dup-id` repeats the id of a good row defined here too."""
    truncated = jpeg_bytes(9001)
    return [
        {"id": "dup-id", "image": jpeg_bytes(9000), "label": 0},
        {"id": "bad-corrupt", "image": b"\xff\xd8\xff\xe0 this is not a jpeg", "label": 1},
        {"id": "bad-truncated", "image": truncated[: len(truncated) // 2], "label": 0},
        {"id": "bad-label", "image": jpeg_bytes(9002), "label": 2},
        {"id": "bad-tiny", "image": jpeg_bytes(9003, size=(8, 8)), "label": 1},
        {"id": "dup-id", "image": jpeg_bytes(9004), "label": 1},
    ]


@pytest.fixture
def hf_cache(tmp_path: Path) -> str:
    """A private `datasets` cache, so tests never touch the user's."""
    return str(tmp_path / "hf-cache")


@pytest.fixture
def hub_parquet(tmp_path: Path) -> Path:
    """40 valid rows in the Hub's exact schema."""
    return write_hub_parquet(tmp_path / "aiornot" / "train.parquet", good_rows(40))


@pytest.fixture
def bad_parquet(tmp_path: Path) -> Path:
    """40 valid rows plus one row for each defect in BAD_IDS."""
    return write_hub_parquet(tmp_path / "bad" / "train.parquet", good_rows(40) + bad_rows())


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """A folder source: real/ and ai/ with 10 JPEGs each, one nested."""
    root = tmp_path / "folder"
    for label, name in enumerate(("real", "ai")):
        for i in range(10):
            sub = root / name / ("nested" if i == 0 else "")
            sub.mkdir(parents=True, exist_ok=True)
            (sub / f"{name}{i}.jpg").write_bytes(jpeg_bytes(100 * label + i))
    return root


@pytest.fixture(scope="session")
def tiny_demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo (20 photos x 3 crops x 2 classes at 32 px), built once per session."""
    root = tmp_path_factory.mktemp("demo")
    build_demo(root, seed=0, samples_per_photo=3, max_side=128)
    return root


@pytest.fixture
def tiny_demo_kwargs(tiny_demo_root: Path) -> dict[str, object]:
    """DataModule arguments for the tiny demo, single-process."""
    dataset = DataConfig(
        source="demo", path=str(tiny_demo_root), demo_max_side=128, demo_samples_per_photo=3
    )
    return {"dataset": dataset, "crop_size": 32, "batch_size": 16, "num_workers": 0}


MakeJpeg = Callable[[int], bytes]


@pytest.fixture(autouse=True)
def _restore_torch_state() -> Iterator[None]:
    """Trainer(deterministic=True) and the demo config's torch_threads are process-global."""
    threads = torch.get_num_threads()
    yield
    torch.use_deterministic_algorithms(False)
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One demo cache for the session's training tests (build_demo reuses what exists)."""
    return tmp_path_factory.getbasetemp() / "demo-data"


@pytest.fixture
def offline_wandb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """W&B offline into tmp_path (its server is unreachable here); W&B reads the mode once
    per process, so its setup is torn down before and after."""
    wandb.teardown()
    monkeypatch.setenv("WANDB_MODE", "offline")
    for var in ("WANDB_DIR", "WANDB_DATA_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR"):
        monkeypatch.setenv(var, str(tmp_path / "wandb-home"))
    yield tmp_path / "wandb-home"
    wandb.teardown()
