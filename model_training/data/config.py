"""What determines the data and its split, and how to get there; free of torch and Lightning.

The DataModule and the `validate` CLI share it, so both see the same rows and splits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import numpy as np

from model_training.data import demo
from model_training.data.records import DataSourceError, ImageRecord
from model_training.data.sources import (
    DEFAULT_DATA_DIR,
    HUB_DATASET,
    SourceName,
    folder_records,
    hub_records,
    parquet_records,
)
from model_training.data.splits import split_records
from model_training.data.validation import (
    DEFAULT_MIN_SIZE,
    BadRowPolicy,
    ValidationReport,
    check_splits,
    validate_records,
)


@dataclass(frozen=True)
class DataConfig:
    """Equal configs give equal splits (for the same source data).

    The attribute notes below are the help text of `fit --help` (`--data.dataset.*`) and of
    validate_cli's flags alike.

    Attributes:
        source: where the rows come from: demo (embedded, no network), hub, parquet or folder
        path: the parquet file, directory or glob, the folder holding real/ and ai/, or the
            demo's build directory (default: AIORNOT_DATA_DIR, else artifacts/data)
        seed: the split's seed (and the demo's)
        val_fraction: share of the rows held out for validation
        test_fraction: share of the rows held out for the test split
        bad_rows: a row that cannot be read or is too small: fail the run, or skip it and
            count it in the report
        limit: use a seeded random subset of this many rows
        demo_samples_per_photo: demo only: AI/real pairs made from each photograph
        demo_max_side: demo only: the longest side an image may have
        hub_dataset: hub only: the Hugging Face dataset to read
        min_image_size: the shortest side a row may have, in pixels
        hf_cache_dir: where Hugging Face caches downloads (hub and parquet)
    """

    source: SourceName = "demo"
    path: str | None = None
    seed: int = 0
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    bad_rows: BadRowPolicy = "fail"
    limit: int | None = None
    demo_samples_per_photo: int = demo.DEFAULT_SAMPLES_PER_PHOTO
    demo_max_side: int | None = None
    hub_dataset: str = HUB_DATASET
    min_image_size: int = DEFAULT_MIN_SIZE
    hf_cache_dir: str | None = None

    @property
    def dataset_id(self) -> str:
        """Names the data and the split, e.g. `demo:v2:seed=0:per_photo=80:split(...)`."""
        if self.source == "demo":
            data = f"demo:{demo.VERSION}:seed={self.seed}:per_photo={self.demo_samples_per_photo}"
            data += f":max_side={self.demo_max_side}" if self.demo_max_side else ""
        elif self.source == "hub":
            data = f"hub:{self.hub_dataset}:train"
        else:
            data = f"{self.source}:{self.path}"
        split = f"seed={self.seed},val={self.val_fraction},test={self.test_fraction}"
        split += f",bad_rows={self.bad_rows}" + (f",limit={self.limit}" if self.limit else "")
        return f"{data}:split({split})"

    def load(self) -> list[ImageRecord]:
        """All rows of the source in a stable order (building the demo or downloading once)."""
        if self.source not in get_args(SourceName):
            raise DataSourceError(
                f"unknown source {self.source!r}; choose demo, hub, parquet or folder"
            )
        if self.source == "demo":
            root = Path(self.path) if self.path else DEFAULT_DATA_DIR
            built = demo.build_demo(
                root,
                seed=self.seed,
                samples_per_photo=self.demo_samples_per_photo,
                max_side=self.demo_max_side,
            )
            return demo.load_demo_records(built)
        if self.source == "hub":
            return hub_records(self.hub_dataset, cache_dir=self.hf_cache_dir)
        if not self.path:
            needs = {"folder": "a directory holding real/ and ai/"}.get(
                self.source, "a parquet file, directory or glob"
            )
            raise DataSourceError(f"source {self.source!r} needs path= {needs}")
        if self.source == "folder":
            return folder_records(Path(self.path))
        return parquet_records(self.path, cache_dir=self.hf_cache_dir)

    def prepare(self, *, workers: int = 1) -> tuple[dict[str, list[ImageRecord]], ValidationReport]:
        """Load, cap, validate (per the bad-rows policy), split, and check the splits."""
        records = self.load()
        if self.limit is not None and self.limit < len(records):
            order = np.random.default_rng(self.seed).permutation(len(records))
            records = [records[i] for i in sorted(order[: self.limit])]
        kept, report = validate_records(
            records,
            source=self.dataset_id,
            policy=self.bad_rows,
            min_size=self.min_image_size,
            workers=workers,
        )
        splits = split_records(
            kept, val_fraction=self.val_fraction, test_fraction=self.test_fraction, seed=self.seed
        )
        check_splits(report, splits)
        return splits, report
