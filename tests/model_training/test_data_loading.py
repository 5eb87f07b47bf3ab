"""Loading: the contract's preprocessing, corrupt files mid-epoch, resumable order, augmentation."""

from __future__ import annotations

import logging
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from lambda_fn.image_contract import load_for_model
from model_training.data import AiOrNotDataModule
from model_training.data.dataset import DropFailed, EpochKey, EpochSampler, ImageDataset


@pytest.fixture
def dm(tiny_demo_kwargs: dict[str, object]) -> AiOrNotDataModule:
    datamodule = AiOrNotDataModule(**tiny_demo_kwargs)  # type: ignore[arg-type]
    datamodule.prepare_data()
    datamodule.setup("fit")
    return datamodule


def test_batches_are_float_images_and_binary_float_labels(dm: AiOrNotDataModule) -> None:
    x, y = next(iter(dm.train_dataloader()))
    assert x.dtype == y.dtype == torch.float32
    assert x.shape == (16, 3, 32, 32) and y.shape == (16,)
    assert set(y.tolist()) <= {0.0, 1.0}
    assert dm.input_spec.size == 32
    assert dm.dataset_id.startswith("demo:v1:seed=0:size=32")


def test_eval_batches_are_exactly_the_image_contract(dm: AiOrNotDataModule) -> None:
    x, y = next(iter(dm.test_dataloader()))
    records = dm.split_records("test")[: len(y)]
    expected = np.stack([load_for_model(r.read_bytes(), dm.input_spec) for r in records])
    np.testing.assert_array_equal(x.numpy(), expected)
    assert y.tolist() == [float(r.label) for r in records]


def test_a_file_corrupted_after_validation_is_skipped_not_fatal(
    tiny_demo_kwargs: dict[str, object], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    private = tmp_path / "demo"
    shutil.copytree(str(tiny_demo_kwargs["path"]), private)  # the session copy stays intact
    datamodule = AiOrNotDataModule(**(tiny_demo_kwargs | {"path": str(private)}))  # type: ignore[arg-type]
    datamodule.setup("fit")  # validated: every file is good here
    victims = datamodule.split_records("test")[:2]
    assert victims[0].path is not None and victims[1].path is not None
    victims[0].path.write_bytes(b"\xff\xd8\xff garbage")  # corrupted
    victims[1].path.unlink()  # vanished
    with caplog.at_level(logging.WARNING):
        seen = sum(len(y) for _, y in datamodule.test_dataloader())
    assert seen == len(datamodule.split_records("test")) - 2
    assert victims[0].id in caplog.text and victims[1].id in caplog.text


def test_a_batch_with_every_sample_dropped_is_empty_not_an_error() -> None:
    x, y = DropFailed(image_size=32)([None, None, None])
    assert x.shape == (0, 3, 32, 32) and y.shape == (0,)


def test_shuffle_order_is_the_same_with_or_without_a_resume(dm: AiOrNotDataModule) -> None:
    dataset = ImageDataset(dm.split_records("train"), dm.input_spec)
    uninterrupted = EpochSampler(dataset, seed=0)
    orders = []
    for epoch in range(3):
        uninterrupted.set_epoch(epoch)
        orders.append(list(uninterrupted))
    resumed = EpochSampler(dataset, seed=0)  # a new process, resumed at epoch 2
    resumed.set_epoch(2)
    assert list(resumed) == orders[2]
    assert orders[0] != orders[1] and all(key.epoch == 2 for key in orders[2])
    assert sorted(key.item for key in orders[0]) == list(range(len(dataset)))


def test_augmentation_is_a_pure_function_of_seed_epoch_and_index(dm: AiOrNotDataModule) -> None:
    records = dm.split_records("train")
    light = ImageDataset(records, dm.input_spec, augment="light", seed=0)
    again = ImageDataset(records, dm.input_spec, augment="light", seed=0)
    plain = ImageDataset(records, dm.input_spec, augment="none")
    flipped = []
    for epoch, index in [(e, i) for e in (0, 1) for i in range(8)]:
        sample, twin, base = (
            light[EpochKey(epoch, index)],
            again[EpochKey(epoch, index)],
            plain[index],
        )
        assert sample is not None and twin is not None and base is not None
        np.testing.assert_array_equal(sample[0], twin[0])  # same key, same pixels
        mirrored = np.array_equal(sample[0], base[0][:, :, ::-1])
        assert mirrored or np.array_equal(sample[0], base[0])  # light = contract or its mirror
        flipped.append(mirrored)
    assert any(flipped) and not all(flipped)
    assert flipped[:8] != flipped[8:]  # a new coin each epoch


def test_strong_augmentation_keeps_the_input_shape(dm: AiOrNotDataModule) -> None:
    strong = ImageDataset(dm.split_records("train"), dm.input_spec, augment="strong", seed=0)
    plain = ImageDataset(dm.split_records("train"), dm.input_spec)
    sample, base = strong[EpochKey(0, 3)], plain[3]
    assert sample is not None and base is not None
    assert sample[0].shape == (3, 32, 32) and sample[0].dtype == np.float32
    assert not np.array_equal(sample[0], base[0])


def test_loaders_use_persistent_workers_when_asked(tiny_demo_kwargs: dict[str, object]) -> None:
    kwargs = tiny_demo_kwargs | {"num_workers": 2}
    datamodule = AiOrNotDataModule(**kwargs)  # type: ignore[arg-type]
    loader = datamodule.train_dataloader()  # workers start on iteration, not here
    assert loader.num_workers == 2 and loader.persistent_workers
    assert isinstance(loader.sampler, EpochSampler)


def test_arrow_backed_records_survive_pickling_to_worker_processes(
    hub_parquet: Path, hf_cache: str
) -> None:
    datamodule = AiOrNotDataModule(
        source="parquet", path=str(hub_parquet), image_size=32, num_workers=0,
        hf_cache_dir=hf_cache,
    )  # fmt: skip
    records = datamodule.split_records("train")
    copies = pickle.loads(pickle.dumps(records))
    assert [r.read_bytes() for r in copies[:5]] == [r.read_bytes() for r in records[:5]]


def test_limit_caps_the_rows_before_splitting(tiny_demo_kwargs: dict[str, object]) -> None:
    datamodule = AiOrNotDataModule(**(tiny_demo_kwargs | {"limit": 50}))  # type: ignore[arg-type]
    total = sum(len(datamodule.split_records(s)) for s in ("train", "val", "test"))
    assert total == 50 and "limit=50" in datamodule.dataset_id
