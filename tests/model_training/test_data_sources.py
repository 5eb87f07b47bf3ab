"""Sources: Hub-schema parquet through the Hub's code path, folders, and the Hub's error message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from model_training.data import AiOrNotDataModule, DataSourceError
from model_training.data.config import DataConfig
from model_training.data.sources import folder_records, parquet_records
from tests.model_training.conftest import HUB_SCHEMA, jpeg_bytes, write_hub_parquet

REPO = Path(__file__).resolve().parents[2]


def test_fixture_parquet_has_the_hubs_exact_schema(hub_parquet: Path) -> None:
    schema = pq.read_schema(hub_parquet)
    assert {field.name: str(field.type) for field in schema} == HUB_SCHEMA
    assert b'"_type": "Image"' in schema.metadata[b"huggingface"]


def test_hub_loader_reads_local_parquet_in_the_hub_schema(
    hub_parquet: Path, hf_cache: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """source=hub calls datasets.load_dataset('competitions/aiornot'); serve it the local files."""
    import datasets

    real_load = datasets.load_dataset
    asked: list[tuple[str, str | None]] = []

    def local_hub(name: str, *args: object, **kwargs: object) -> object:
        asked.append((name, kwargs.get("split")))  # type: ignore[arg-type]
        return real_load("parquet", data_files=[str(hub_parquet)], **kwargs)

    monkeypatch.setattr(datasets, "load_dataset", local_hub)
    dm = AiOrNotDataModule(
        DataConfig(source="hub", hf_cache_dir=hf_cache), crop_size=32, num_workers=0
    )
    dm.setup("fit")
    assert asked[0] == ("competitions/aiornot", "train")  # the labelled split only
    x, y, *_ = next(iter(dm.train_dataloader()))
    assert x.shape[1:] == (32, 32, 3) and set(y.tolist()) <= {0.0, 1.0}  # uint8 pixels
    assert sum(len(dm.split_records(s)) for s in ("train", "val", "test")) == 40


def test_parquet_source_accepts_a_file_a_directory_or_a_glob(
    hub_parquet: Path, hf_cache: str, tmp_path: Path
) -> None:
    write_hub_parquet(
        hub_parquet.parent / "more.parquet", [{"id": "x", "image": jpeg_bytes(1), "label": 1}]
    )
    by_file = parquet_records(str(hub_parquet), cache_dir=hf_cache)
    by_dir = parquet_records(str(hub_parquet.parent), cache_dir=hf_cache)
    by_glob = parquet_records(str(hub_parquet.parent / "*.parquet"), cache_dir=hf_cache)
    assert len(by_file) == 40 and len(by_dir) == len(by_glob) == 41
    assert by_file[0].read_bytes()[:2] == b"\xff\xd8"  # the encoded JPEG, untouched


def test_parquet_without_the_hub_columns_is_refused_clearly(tmp_path: Path, hf_cache: str) -> None:
    import datasets

    path = tmp_path / "wrong.parquet"
    datasets.Dataset.from_dict({"name": ["a"], "target": [0]}).to_parquet(str(path))
    with pytest.raises(DataSourceError, match=r"lacks column\(s\) \['id', 'image', 'label'\]"):
        parquet_records(str(path), cache_dir=hf_cache)


def test_folder_source_labels_real_and_ai_subfolders(image_folder: Path) -> None:
    records = folder_records(image_folder)
    assert len(records) == 20
    assert {r.id for r in records if r.label == 1} >= {"ai/nested/ai0.jpg", "ai/ai5.jpg"}
    assert all(r.id.startswith("real/") for r in records if r.label == 0)
    folder = DataConfig(source="folder", path=str(image_folder))
    dm = AiOrNotDataModule(folder, crop_size=32, num_workers=0)
    x, y, owner = next(iter(dm.test_dataloader()))
    assert x.shape[1:] == (3, 32, 32) and len(y) == len(dm.split_records("test"))
    assert owner.unique().tolist() == list(range(len(y)))  # every image has its crops


def test_empty_folder_and_missing_path_give_actionable_errors(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match=r"real/ or .*ai/"):
        folder_records(tmp_path)
    with pytest.raises(DataSourceError, match="needs path="):
        DataConfig(source="parquet").load()


def test_missing_hub_access_prints_a_clear_message_not_a_traceback(tmp_path: Path) -> None:
    """The Hub cannot be reached from the test machine: offline mode plus a closed port."""
    env = os.environ | {
        "HF_HUB_OFFLINE": "1",
        "HF_ENDPOINT": "http://127.0.0.1:9",
        "HF_HOME": str(tmp_path / "hf-home"),
    }
    env.pop("HF_TOKEN", None)
    result = subprocess.run(
        [sys.executable, "-m", "model_training.data.validate_cli", "--source", "hub",
         "--hf-cache-dir", str(tmp_path / "cache")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    for hint in (
        "competitions/aiornot",
        "gated",
        "HF_TOKEN",
        "hf auth login",
        "No Hugging Face token",
    ):
        assert hint in result.stderr
    assert "--data.dataset.source=parquet" in result.stderr
