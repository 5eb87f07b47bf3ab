"""The LightningDataModule: one interface over the demo, the Hub, local parquet and folders."""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Sampler

from lambda_fn.stem import InputSpec
from model_training.data.augment import AugmentName
from model_training.data.config import DataConfig
from model_training.data.dataset import (
    Batch,
    DropFailed,
    EpochSampler,
    ImageDataset,
    TrainBatch,
    to_network_input,
)
from model_training.data.pixel_cache import PixelCache
from model_training.data.records import ImageRecord
from model_training.data.splits import SPLITS
from model_training.data.validation import ValidationReport

log = logging.getLogger(__name__)


class AiOrNotDataModule(L.LightningDataModule):
    """Validated, leak-free train/val/test splits through the serving stem.

    Batches are (crops (N, 3, S, S), y (B,) 0./1., owner (N,)): one random native-resolution
    crop per image in training, the serving grid of crops per image in evaluation; `owner`
    says which image each crop belongs to. Training crops travel as uint8 pixels with their
    pending reorientation, both applied once on the device (`on_after_batch_transfer`).
    """

    def __init__(
        self,
        dataset: DataConfig = DataConfig(),  # noqa: B008  (frozen: one shared default is safe)
        crop_size: int = 64,
        max_grid: int = 4,
        batch_size: int = 64,
        num_workers: int = 2,
        augment: AugmentName = "light",
        pin_memory: bool | None = None,
        pixel_cache: str | None = None,
    ) -> None:
        """`dataset`: which rows and how they split (`DataConfig`, the one place a data option
        is written; the `validate` command line is made from it too).

        `crop_size` is the network's input side, `max_grid` the most crops per side the
        serving grid takes (both go into the bundle's input spec). `pixel_cache`: a
        directory for decoded pixels (decode once, then only crop), or None to decode
        every time.
        """
        super().__init__()
        self.config = dataset if isinstance(dataset, DataConfig) else DataConfig(**dataset)
        # Plain types only, so Lightning can restore this DataModule from a checkpoint
        # loaded with weights_only=True (`model_training.checkpoints.load_datamodule`).
        self.save_hyperparameters(
            {
                "dataset": asdict(self.config),
                "crop_size": crop_size,
                "max_grid": max_grid,
                "batch_size": batch_size,
                "num_workers": num_workers,
                "augment": augment,
                "pin_memory": pin_memory,
                "pixel_cache": pixel_cache,
            }
        )
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.augment = augment
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else pin_memory
        self.input_spec = InputSpec(crop_size=crop_size, max_grid=max_grid)
        self.pixel_cache_root = pixel_cache
        self.cache: PixelCache | None = None
        self.report: ValidationReport | None = None
        self._splits: dict[str, list[ImageRecord]] | None = None

    @property
    def dataset_id(self) -> str:
        """Names the data and the split; equal ids mean equal splits."""
        return self.config.dataset_id

    def prepare_data(self) -> None:
        """Build the demo or download the Hub dataset once (rank 0 only under DDP)."""
        self.config.load()

    def setup(self, stage: str | None = None) -> None:
        """Load, validate (raising per the bad-rows policy), split and check for leakage."""
        if self._splits is None:
            self._splits, self.report = self.config.prepare(workers=max(1, self.num_workers))
            log.info("%s", self.report.render())
            if self.pixel_cache_root:
                everything = [r for rows in self._splits.values() for r in rows]
                self.cache = PixelCache.build(everything, Path(self.pixel_cache_root))

    def split_records(self, split: str) -> list[ImageRecord]:
        """The records of one split ("train", "val" or "test"), sorted by id."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
        if self._splits is None:
            self.setup()
        assert self._splits is not None
        return list(self._splits[split])

    def train_dataloader(self) -> DataLoader:
        dataset = ImageDataset(
            self.split_records("train"),
            self.input_spec,
            train=True,
            augment=self.augment,
            seed=self.config.seed,
            cache=self.cache,
        )
        return self._loader(dataset, EpochSampler(dataset, seed=self.config.seed), pixels=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(
            ImageDataset(self.split_records("val"), self.input_spec, cache=self.cache)
        )

    def test_dataloader(self) -> DataLoader:
        return self._loader(
            ImageDataset(self.split_records("test"), self.input_spec, cache=self.cache)
        )

    def on_after_batch_transfer(self, batch: Batch | TrainBatch, dataloader_idx: int) -> Batch:
        """Training batches become the network's input where the network runs."""
        if len(batch) == 4:
            return to_network_input(batch, self.input_spec)
        return batch

    def state_dict(self) -> dict[str, Any]:
        return {"dataset_id": self.dataset_id}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        saved = state_dict.get("dataset_id")
        if saved and saved != self.dataset_id:
            log.warning("resuming on %s; the checkpoint was trained on %s", self.dataset_id, saved)

    def _loader(
        self, dataset: ImageDataset, sampler: Sampler | None = None, *, pixels: bool = False
    ) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            shuffle=False,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=self.pin_memory,
            collate_fn=DropFailed(self.input_spec.crop_size, pixels=pixels),
        )
