"""Torch side of the data: a Dataset that never crashes an epoch, its collate, its sampler.

Every sample goes through the serving stem (`lambda_fn.stem.prepare`): a training sample is
one random native-resolution crop, an evaluation sample is the serving grid of crops.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Dataset, DistributedSampler

from lambda_fn.image_contract import ImageError
from lambda_fn.stem import InputSpec, ModelInput, pixels_to_input, prepare
from model_training.data.augment import AugmentName, augmenter
from model_training.data.pixel_cache import PixelCache
from model_training.data.records import ImageRecord

log = logging.getLogger(__name__)
Sample = tuple[np.ndarray, int]  # crops (K, 3, S, S), label
Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # crops (N,3,S,S), y (B,), owner (N,)


class EpochKey(NamedTuple):
    """What the sampler hands the dataset: a training crop needs the epoch as well as the index."""

    epoch: int
    item: int


class ImageDataset(Dataset):
    """Records -> (crops, label); an image that fails to load yields None (logged), not a crash.

    `train=True`: one random crop per image, placed by (seed, epoch, the record's crop key),
    so a resumed run replays it and both images of a pair are cut at the same spot.
    `train=False`: the serving grid, exactly what the API computes.
    With a `cache`, the decoder's output is read back from it instead of decoding again.
    """

    def __init__(
        self,
        records: list[ImageRecord],
        spec: InputSpec,
        *,
        train: bool = False,
        augment: AugmentName = "none",
        seed: int = 0,
        cache: PixelCache | None = None,
    ) -> None:
        self.records = records
        self.cache = cache
        self.spec = spec
        self.train = train
        self.augment = augmenter(augment) if train else None
        self.seed = seed

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, key: int | EpochKey) -> Sample | None:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        record = self.records[index]
        rng = np.random.default_rng([self.seed, epoch, record.crop_key]) if self.train else None
        try:
            model_input = self._input(record, rng)
        except (ImageError, OSError) as exc:  # changed or vanished since validation
            log.warning("skipping image %s: %s", record.id, exc)
            return None
        return model_input.crops, record.label

    def _input(self, record: ImageRecord, rng: np.random.Generator | None) -> ModelInput:
        pixels = self.cache.get(record.id) if self.cache is not None else None
        if pixels is None:
            return prepare(record.read_bytes(), self.spec, rng=rng, augment=self.augment)
        return pixels_to_input(pixels, self.spec, rng=rng, augment=self.augment)


class DropFailed:
    """Collate that drops failed samples and flattens crops; `owner` maps crops to images."""

    def __init__(self, crop_size: int) -> None:
        self.crop_size = crop_size

    def __call__(self, batch: list[Sample | None]) -> Batch:
        kept = [item for item in batch if item is not None]
        if not kept:
            size = self.crop_size
            return (
                torch.zeros((0, 3, size, size)),
                torch.zeros((0,)),
                torch.zeros((0,), dtype=torch.long),
            )
        x = torch.from_numpy(np.concatenate([crops for crops, _ in kept]))  # (N, 3, S, S)
        y = torch.tensor([label for _, label in kept], dtype=torch.float32)  # (B,)
        counts = torch.tensor([len(crops) for crops, _ in kept])
        owner = torch.repeat_interleave(torch.arange(len(kept)), counts)  # (N,)
        return x, y, owner


def image_logits(crop_logits: torch.Tensor, owner: torch.Tensor, images: int) -> torch.Tensor:
    """Per-image logits: the mean of each image's crop logits (the stem's `mean_logit`)."""
    sums = torch.zeros(images, dtype=crop_logits.dtype, device=crop_logits.device)
    sums = sums.index_add(0, owner, crop_logits)
    counts = torch.bincount(owner, minlength=images).to(crop_logits.dtype)
    return sums / counts


class EpochSampler(DistributedSampler):
    """Order is a pure function of (seed, epoch): a resumed run replays the same batches.

    It deals out units (the images of one pair stay together, side by side in a batch, so
    the network sees exactly what tells them apart). Being a DistributedSampler, Lightning
    keeps it under DDP instead of swapping in its own; it shards units by rank itself.
    """

    def __init__(self, dataset: ImageDataset, *, seed: int, shuffle: bool = True) -> None:
        self.units = pair_units(dataset.records)
        distributed = dist.is_available() and dist.is_initialized()
        super().__init__(
            self.units,  # type: ignore[arg-type]  # only its length is used
            num_replicas=dist.get_world_size() if distributed else 1,
            rank=dist.get_rank() if distributed else 0,
            shuffle=shuffle,
            seed=seed,
        )

    def __iter__(self) -> Iterator[EpochKey]:  # type: ignore[override]
        epoch = self.epoch
        for unit in super().__iter__():
            for index in self.units[unit]:
                yield EpochKey(epoch, index)

    def __len__(self) -> int:
        return sum(len(self.units[unit]) for unit in super().__iter__())


def pair_units(records: list[ImageRecord]) -> list[list[int]]:
    """Indices grouped by pair (a record without one is a unit of its own), in record order."""
    units: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        units.setdefault(record.pair or f"\0{index}", []).append(index)
    return list(units.values())
