"""Loading: the contract's preprocessing, corrupt files mid-epoch, resumable order, augmentation."""

from __future__ import annotations

import logging
import pickle
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from lambda_fn.stem import InputSpec, aggregate, normalise, prepare
from model_training.data import AiOrNotDataModule
from model_training.data.augment import augmenter, reorient, reorient_batch
from model_training.data.config import DataConfig
from model_training.data.dataset import (
    DropFailed,
    EpochKey,
    EpochSampler,
    ImageDataset,
    TrainBatch,
    image_logits,
    normalise_batch,
)


@pytest.fixture
def dm(tiny_demo_kwargs: dict[str, object]) -> AiOrNotDataModule:
    datamodule = AiOrNotDataModule(**tiny_demo_kwargs)  # type: ignore[arg-type]
    datamodule.prepare_data()
    datamodule.setup("fit")
    return datamodule


def test_training_batches_are_one_native_crop_per_image(dm: AiOrNotDataModule) -> None:
    pixels, y, owner, reorientations = next(iter(dm.train_dataloader()))
    assert pixels.dtype == torch.uint8 and y.dtype == torch.float32
    assert pixels.shape == (16, 32, 32, 3) and y.shape == (16,)
    assert reorientations.shape == (16, 5)
    batch = (pixels, y, owner, reorientations)
    x, *_ = dm.on_after_batch_transfer(batch, 0)  # what the network receives
    assert x.dtype == torch.float32 and x.shape == (16, 3, 32, 32) and x.is_contiguous()
    turned = [reorient(p, r) for p, r in zip(pixels.numpy(), reorientations.numpy(), strict=True)]
    np.testing.assert_array_equal(x.numpy(), normalise(np.stack(turned), dm.input_spec))
    assert owner.tolist() == list(range(16))
    assert set(y.tolist()) <= {0.0, 1.0}
    assert dm.input_spec.crop_size == 32
    assert dm.dataset_id.startswith("demo:v2:seed=0:per_photo=3:max_side=128")


def test_training_batches_keep_each_pair_side_by_side(dm: AiOrNotDataModule) -> None:
    """A real image and its AI re-make arrive together, cut at the same place."""
    loader = dm.train_dataloader()
    keys = list(loader.sampler)  # type: ignore[arg-type]
    records = dm.split_records("train")
    pairs = [records[k.item].pair for k in keys]
    assert all(pairs[i] == pairs[i + 1] for i in range(0, len(pairs), 2))
    dataset = loader.dataset
    first, second = dataset[keys[0]], dataset[keys[1]]  # type: ignore[index]
    assert first is not None and second is not None
    assert {first[1], second[1]} == {0, 1}


def test_eval_batches_are_exactly_the_serving_stem(dm: AiOrNotDataModule) -> None:
    x, y, owner = next(iter(dm.test_dataloader()))
    records = dm.split_records("test")[: len(y)]
    expected = [prepare(r.read_bytes(), dm.input_spec).crops for r in records]
    np.testing.assert_array_equal(x.numpy(), np.concatenate(expected))
    assert torch.bincount(owner).tolist() == [len(crops) for crops in expected]
    assert y.tolist() == [float(r.label) for r in records]


def test_image_logits_are_the_mean_of_their_crops() -> None:
    crop_logits = torch.tensor([1.0, 3.0, -2.0, 0.5, 0.5, 2.0])
    owner = torch.tensor([0, 0, 1, 2, 2, 2])
    expected = [aggregate(np.array(v)) for v in ([1.0, 3.0], [-2.0], [0.5, 0.5, 2.0])]
    np.testing.assert_allclose(image_logits(crop_logits, owner, 3).numpy(), expected, rtol=1e-6)


def test_the_pixel_cache_serves_what_the_decoder_returns(
    tiny_demo_kwargs: dict[str, object], tmp_path: Path
) -> None:
    cached = AiOrNotDataModule(**(tiny_demo_kwargs | {"pixel_cache": str(tmp_path)}))  # type: ignore[arg-type]
    plain = AiOrNotDataModule(**tiny_demo_kwargs)  # type: ignore[arg-type]
    for split in ("train", "test"):
        a = next(iter(getattr(cached, f"{split}_dataloader")()))
        b = next(iter(getattr(plain, f"{split}_dataloader")()))
        for left, right in zip(a, b, strict=True):
            torch.testing.assert_close(left, right, rtol=0, atol=0)
    assert len(list(tmp_path.iterdir())) == 1  # one cache, named by the data's fingerprint


def test_a_file_corrupted_after_validation_is_skipped_not_fatal(
    tiny_demo_kwargs: dict[str, object], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    private = tmp_path / "demo"
    shutil.copytree(str(tiny_demo_kwargs["dataset"].path), private)  # type: ignore[attr-defined]  # the session copy stays intact
    dataset = replace(tiny_demo_kwargs["dataset"], path=str(private))  # type: ignore[type-var]
    datamodule = AiOrNotDataModule(**(tiny_demo_kwargs | {"dataset": dataset}))  # type: ignore[arg-type]
    datamodule.setup("fit")  # validated: every file is good here
    victims = datamodule.split_records("test")[:2]
    assert victims[0].path is not None and victims[1].path is not None
    victims[0].path.write_bytes(b"\xff\xd8\xff garbage")  # corrupted
    victims[1].path.unlink()  # vanished
    with caplog.at_level(logging.WARNING):
        seen = sum(len(y) for _, y, _ in datamodule.test_dataloader())
    assert seen == len(datamodule.split_records("test")) - 2
    assert victims[0].id in caplog.text and victims[1].id in caplog.text


def test_a_batch_with_every_sample_dropped_is_empty_not_an_error() -> None:
    x, y, owner = DropFailed(crop_size=32)([None, None, None])
    assert x.shape == (0, 3, 32, 32) and y.shape == (0,) and owner.shape == (0,)
    pixels, _, _, reorientations = DropFailed(crop_size=32, pixels=True)([None])
    assert pixels.shape == (0, 32, 32, 3) and pixels.dtype == torch.uint8
    assert reorient_batch(pixels, reorientations).shape == (0, 32, 32, 3)
    assert normalise_batch(pixels, InputSpec(crop_size=32)).shape == (0, 3, 32, 32)


def test_crops_reoriented_on_the_device_are_the_loaders_reorientation_exactly() -> None:
    """Every flip, quarter turn and channel order, batched in torch == `reorient` per crop."""
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, size=(16, 8, 8, 3), dtype=np.uint8)
    orders = [rng.permutation(3) for _ in range(16)]
    reorientations = np.array(
        [[i // 8, (i // 2) % 4, *order] for i, order in enumerate(orders)], dtype=np.int64
    )  # each of the 8 flips and turns twice, with random channel orders
    on_device = reorient_batch(torch.from_numpy(crops), torch.from_numpy(reorientations))
    expected = [reorient(c, r) for c, r in zip(crops, reorientations, strict=True)]
    np.testing.assert_array_equal(on_device.numpy(), np.stack(expected))
    assert len({e.tobytes() for e in expected}) == 16


def test_batches_normalised_on_the_device_are_the_stems_values_bit_for_bit() -> None:
    """Training normalises uint8 batches in torch; it must equal the serving stem exactly."""
    spec = InputSpec(crop_size=16, mean=(0.5, 0.25, 0.125), std=(0.3, 0.7, 0.9))
    pixels = np.random.default_rng(0).integers(0, 256, size=(5, 16, 16, 3), dtype=np.uint8)
    pixels[0, 0, 0] = (0, 255, 128)  # both ends of the range
    on_device = normalise_batch(torch.from_numpy(pixels), spec)
    np.testing.assert_array_equal(on_device.numpy(), normalise(pixels, spec))


def test_shuffle_order_is_the_same_with_or_without_a_resume(dm: AiOrNotDataModule) -> None:
    dataset = ImageDataset(dm.split_records("train"), dm.input_spec, train=True)
    uninterrupted = EpochSampler(dataset, seed=0)
    orders = []
    for epoch in range(3):
        uninterrupted.set_epoch(epoch)
        orders.append(list(uninterrupted))
    resumed = EpochSampler(dataset, seed=0)  # a new process, resumed at epoch 2
    resumed.set_epoch(2)
    assert list(resumed) == orders[2]
    assert len(resumed) == len(orders[2])
    assert orders[0] != orders[1] and all(key.epoch == 2 for key in orders[2])
    assert sorted(key.item for key in orders[0]) == list(range(len(dataset)))


def test_training_crops_are_a_pure_function_of_seed_epoch_and_pair(dm: AiOrNotDataModule) -> None:
    records = dm.split_records("train")
    light = ImageDataset(records, dm.input_spec, train=True, augment="light", seed=0)
    again = ImageDataset(records, dm.input_spec, train=True, augment="light", seed=0)
    crops = []
    for epoch, index in [(e, i) for e in (0, 1) for i in range(8)]:
        sample, twin = light[EpochKey(epoch, index)], again[EpochKey(epoch, index)]
        assert sample is not None and twin is not None
        np.testing.assert_array_equal(sample[0], twin[0])  # same key, same pixels
        crops.append(sample[0])
    assert not all(np.array_equal(a, b) for a, b in zip(crops[:8], crops[8:], strict=True))


def test_light_augmentation_reorients_without_resampling() -> None:
    crop = np.random.default_rng(0).integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    seen = set()
    for seed in range(40):
        same, reorientation = augmenter("light")(crop, np.random.default_rng(seed))
        assert same is crop  # the turn is left to the device
        out = reorient(crop, reorientation)
        assert sorted(out.ravel().tolist()) == sorted(crop.ravel().tolist())  # same values
        seen.add(out.tobytes())
    assert len(seen) > 8  # flips, quarter turns and channel orders


def test_strong_augmentation_keeps_the_input_shape(dm: AiOrNotDataModule) -> None:
    records = dm.split_records("train")
    strong = ImageDataset(records, dm.input_spec, train=True, augment="strong", seed=0)
    light = ImageDataset(records, dm.input_spec, train=True, augment="light", seed=0)
    differs = []
    for index in range(6):
        sample, base = strong[EpochKey(0, index)], light[EpochKey(0, index)]
        assert sample is not None and base is not None
        assert sample[0].shape == (1, 32, 32, 3) and sample[0].dtype == np.uint8
        differs.append(not np.array_equal(sample[0], base[0]))
    assert any(differs)  # a JPEG generation changed some of them


def test_loaders_use_persistent_workers_when_asked(tiny_demo_kwargs: dict[str, object]) -> None:
    kwargs = tiny_demo_kwargs | {"num_workers": 2}
    datamodule = AiOrNotDataModule(**kwargs)  # type: ignore[arg-type]
    loader = datamodule.train_dataloader()  # workers start on iteration, not here
    assert loader.num_workers == 2 and loader.persistent_workers
    assert isinstance(loader.sampler, EpochSampler)


def test_worker_batches_are_the_in_process_ones_with_only_pixels_in_shared_memory(
    tiny_demo_kwargs: dict[str, object],
) -> None:
    """Each tensor a worker ships in shared memory costs the main process one socket
    connection to receive; the small arrays travel by value, and the batch is unchanged."""

    def first_batch(workers: int) -> TrainBatch:
        datamodule = AiOrNotDataModule(**(tiny_demo_kwargs | {"num_workers": workers}))  # type: ignore[arg-type]
        datamodule.prepare_data()
        datamodule.setup("fit")
        return next(iter(datamodule.train_dataloader()))

    in_process, shipped = first_batch(0), first_batch(2)
    assert isinstance(shipped, TrainBatch)
    for ours, theirs in zip(in_process, shipped, strict=True):
        torch.testing.assert_close(theirs, ours, rtol=0, atol=0)
    assert shipped.pixels.is_shared()
    assert [part.is_shared() for part in shipped[1:]] == [False, False, False]


def test_arrow_backed_records_survive_pickling_to_worker_processes(
    hub_parquet: Path, hf_cache: str
) -> None:
    dataset = DataConfig(source="parquet", path=str(hub_parquet), hf_cache_dir=hf_cache)
    datamodule = AiOrNotDataModule(dataset, crop_size=32, num_workers=0)
    records = datamodule.split_records("train")
    copies = pickle.loads(pickle.dumps(records))
    assert [r.read_bytes() for r in copies[:5]] == [r.read_bytes() for r in records[:5]]


def test_limit_caps_the_rows_before_splitting(tiny_demo_kwargs: dict[str, object]) -> None:
    dataset = replace(tiny_demo_kwargs["dataset"], limit=50)  # type: ignore[type-var]
    datamodule = AiOrNotDataModule(**(tiny_demo_kwargs | {"dataset": dataset}))  # type: ignore[arg-type]
    total = sum(len(datamodule.split_records(s)) for s in ("train", "val", "test"))
    assert total == 50 and "limit=50" in datamodule.dataset_id
