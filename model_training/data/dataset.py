"""Torch side of the data: a Dataset that never crashes an epoch, its collate, its sampler.

Every sample goes through the serving stem (`lambda_fn.stem`): a training sample is one
random native-resolution crop, an evaluation sample is the serving grid of crops. Training
batches leave the loader as uint8 pixels, a quarter of the bytes of float32, with each
crop's pending reorientation, and become the network's input on the device
(`to_network_input`: `augment.reorient_batch`, then `normalise_batch`, the stem's
`normalise` in torch); evaluation batches are exactly what the API computes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Dataset, DistributedSampler, get_worker_info

from lambda_fn.image_contract import ImageError, decode_image
from lambda_fn.stem import InputSpec, cut_crops, gain_and_offset, pixels_to_input
from model_training.data.augment import AugmentName, augmenter, reorient_batch
from model_training.data.pixel_cache import PixelCache
from model_training.data.records import ImageRecord

log = logging.getLogger(__name__)
Sample = tuple[np.ndarray, int]  # crops (K, 3, S, S) float32, label
TrainSample = tuple[np.ndarray, int, np.ndarray]  # crop (1, S, S, 3) uint8, label, reorientation
Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # crops (N,3,S,S), y (B,), owner (N,)


class TrainBatch(NamedTuple):
    """A training batch as the loader ships it (see `to_network_input`).

    From a loader worker, every tensor crosses in shared memory, and the main process pays
    an authenticated socket connection per tensor to receive its file descriptor, answered
    by a thread in the worker that must win the GIL from the augmentation (multiprocessing's
    resource sharer). So only the pixels cross that way; the three small arrays are pickled
    by value and become tensors again on arrival.
    """

    pixels: torch.Tensor  # (N, S, S, 3) uint8
    y: torch.Tensor  # (B,) float32
    owner: torch.Tensor  # (N,) the image each crop belongs to
    reorientations: torch.Tensor  # (N, 5), see `augment.reorient_batch`

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        small = (part.numpy(force=True) for part in self[1:])
        return _train_batch_from_arrays, (self.pixels, *small)


def _train_batch_from_arrays(pixels: torch.Tensor, *small: np.ndarray) -> TrainBatch:
    return TrainBatch(pixels, *(torch.from_numpy(part) for part in small))


class EpochKey(NamedTuple):
    """What the sampler hands the dataset: a training crop needs the epoch as well as the index."""

    epoch: int
    item: int


class ImageDataset(Dataset):
    """Records -> (crops, label); an image that fails to load yields None (logged), not a crash.

    `train=True`: one random crop per image, placed by (seed, epoch, the record's crop key),
    so a resumed run replays it and both images of a pair are cut at the same spot; uint8
    (1, S, S, 3) with its reorientation, both applied on the device. `train=False`: the
    serving grid, exactly what the API computes, float32 (K, 3, S, S).
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
        self.augment = augmenter(augment)
        self.seed = seed

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, key: int | EpochKey) -> Sample | TrainSample | None:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        record = self.records[index]
        rng = np.random.default_rng([self.seed, epoch, record.crop_key]) if self.train else None
        try:
            pixels = self._pixels(record)
        except (ImageError, OSError) as exc:  # changed or vanished since validation
            log.warning("skipping image %s: %s", record.id, exc)
            return None
        if rng is None:
            return pixels_to_input(pixels, self.spec).crops, record.label
        crops, _ = cut_crops(pixels, self.spec, rng=rng)
        crop, reorientation = self.augment(crops[0], rng)
        return crop[None], record.label, reorientation

    def _pixels(self, record: ImageRecord) -> np.ndarray:
        """The record's decoded uint8 pixels: from the cache, or decoded now."""
        pixels = self.cache.get(record.id) if self.cache is not None else None
        if pixels is None:
            pixels = np.asarray(decode_image(record.read_bytes()))
        return pixels


class DropFailed:
    """Collate that drops failed samples and flattens crops; `owner` maps crops to images.

    `pixels=True` for training batches (a `TrainBatch`, see `to_network_input`).
    """

    def __init__(self, crop_size: int, *, pixels: bool = False) -> None:
        self.crop_size = crop_size
        self.pixels = pixels

    def __call__(self, batch: list[Any]) -> Batch | TrainBatch:
        kept = [item for item in batch if item is not None]
        if not kept:
            size = self.crop_size
            shape = (0, size, size, 3) if self.pixels else (0, 3, size, size)
            crops = torch.zeros(shape, dtype=torch.uint8 if self.pixels else torch.float32)
            empty = (crops, torch.zeros((0,)), torch.zeros((0,), dtype=torch.long))
            if not self.pixels:
                return empty
            return TrainBatch(*empty, torch.zeros((0, 5), dtype=torch.long))
        x = concatenate([item[0] for item in kept])  # (N, ...)
        y = torch.tensor([item[1] for item in kept], dtype=torch.float32)  # (B,)
        counts = torch.tensor([len(item[0]) for item in kept])
        owner = torch.repeat_interleave(torch.arange(len(kept)), counts)  # (N,)
        if not self.pixels:
            return x, y, owner
        return TrainBatch(x, y, owner, torch.from_numpy(np.stack([item[2] for item in kept])))


def concatenate(arrays: list[np.ndarray]) -> torch.Tensor:
    """Arrays joined along their first axis into one tensor; in a loader worker, written
    straight into shared memory, which the batch crosses to the main process through
    (torch would otherwise copy it there: the same saving as torch's `default_collate`)."""
    first = arrays[0]
    shape = (sum(len(a) for a in arrays), *first.shape[1:])
    out = torch.empty(shape, dtype=torch.from_numpy(np.empty(0, first.dtype)).dtype)
    if get_worker_info() is not None:
        out.share_memory_()
    np.concatenate(arrays, out=out.numpy())
    return out


def to_network_input(batch: TrainBatch, spec: InputSpec) -> Batch:
    """A training batch as the loader ships it -> what the network takes, on its device:
    each crop reoriented, then normalised (exactly what the stem and `reorient` compute)."""
    pixels, y, owner, reorientations = batch
    return normalise_batch(reorient_batch(pixels, reorientations), spec), y, owner


def normalise_batch(pixels: torch.Tensor, spec: InputSpec) -> torch.Tensor:
    """uint8 (N, S, S, 3) crops -> float32 (N, 3, S, S) network input, on their own device.

    The stem's `normalise` in torch, bit for bit (the same constants; one multiply rounded,
    then one add), so moving it to the device changes no value the network sees.
    """
    gain, offset = (
        torch.from_numpy(value).to(pixels.device).view(1, 3, 1, 1)
        for value in gain_and_offset(spec)
    )
    x = pixels.permute(0, 3, 1, 2).to(torch.float32, memory_format=torch.contiguous_format)
    return x.mul_(gain).add_(offset)


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
