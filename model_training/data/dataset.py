"""Torch side of the data: a Dataset that never crashes an epoch, its collate, its sampler."""

from __future__ import annotations

import logging
from typing import NamedTuple

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Dataset, DistributedSampler

from lambda_fn.image_contract import ImageError, InputSpec, load_for_model
from model_training.data.augment import AugmentName, augmented_input
from model_training.data.records import ImageRecord

log = logging.getLogger(__name__)
Sample = tuple[np.ndarray, int]


class EpochKey(NamedTuple):
    """What the sampler hands the dataset: augmentation needs the epoch as well as the index."""

    epoch: int
    item: int


class ImageDataset(Dataset):
    """Records -> (input, label); an image that fails to load yields None (logged), not a crash."""

    def __init__(
        self,
        records: list[ImageRecord],
        spec: InputSpec,
        *,
        augment: AugmentName = "none",
        seed: int = 0,
    ) -> None:
        self.records = records
        self.spec = spec
        self.augment = augment
        self.seed = seed

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, key: int | EpochKey) -> Sample | None:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        record = self.records[index]
        try:
            data = record.read_bytes()
            if self.augment == "none":
                x = load_for_model(data, self.spec)  # exactly what serving does
            else:
                rng = np.random.default_rng([self.seed, epoch, index])
                x = augmented_input(data, self.spec, self.augment, rng)
        except (ImageError, OSError) as exc:  # changed or vanished since validation
            log.warning("skipping image %s: %s", record.id, exc)
            return None
        return x, record.label


class DropFailed:
    """Collate that drops failed samples; a batch with none left is empty, not an error."""

    def __init__(self, image_size: int) -> None:
        self.image_size = image_size

    def __call__(self, batch: list[Sample | None]) -> tuple[torch.Tensor, torch.Tensor]:
        kept = [item for item in batch if item is not None]
        if not kept:
            size = self.image_size
            return torch.zeros((0, 3, size, size)), torch.zeros((0,))
        x = torch.from_numpy(np.stack([sample for sample, _ in kept]))  # (B, 3, S, S)
        y = torch.tensor([label for _, label in kept], dtype=torch.float32)  # (B,)
        return x, y


class EpochSampler(DistributedSampler):
    """Order is a pure function of (seed, epoch): a resumed run replays the same batches.

    Being a DistributedSampler, Lightning keeps it under DDP instead of swapping in
    its own; it shards by rank itself when a process group is running.
    """

    def __init__(self, dataset: ImageDataset, *, seed: int, shuffle: bool = True) -> None:
        distributed = dist.is_available() and dist.is_initialized()
        super().__init__(
            dataset,
            num_replicas=dist.get_world_size() if distributed else 1,
            rank=dist.get_rank() if distributed else 0,
            shuffle=shuffle,
            seed=seed,
        )

    def __iter__(self):  # type: ignore[override]
        epoch = self.epoch
        return (EpochKey(epoch, index) for index in super().__iter__())
