"""Decode once: a memory-mapped file of decoded pixels, so later epochs only cut crops.

Decoding a JPEG costs far more than cutting a crop from its pixels, and every epoch of
native-resolution training cuts new crops from the same images. The cache holds exactly
what the contract's decoder (`lambda_fn.image_contract.decode_image`) returns, as uint8
RGB, one image after another in `pixels.u8`, with `index.json` giving each record's
offset and shape. Its directory is named by a fingerprint of the records (ids and content
hashes), so changed data get a new cache and a stale one is never read; it appears
atomically, so an interrupted build is never taken for a finished one. Size on disk is
3 bytes per pixel of the dataset (the demo: about 0.5 GB; aiornot's 18,618 images of
512x512: about 14.6 GB), which is why it is optional; a cache of data no longer used can
be deleted at any time (`make clean` removes them all).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lambda_fn.image_contract import ImageError, decode_image
from model_training.data.records import ImageRecord

log = logging.getLogger(__name__)
VERSION = 1
INDEX = "index.json"
PIXELS = "pixels.u8"


def fingerprint(records: Sequence[ImageRecord]) -> str:
    """Names the exact images: ids and content hashes (validation fills those in)."""
    digest = hashlib.sha256(f"pixel-cache-v{VERSION}\n".encode())
    for record in sorted(records, key=lambda r: r.id):
        digest.update(f"{record.id}\0{record.sha256 or ''}\n".encode())
    return digest.hexdigest()[:20]


class PixelCache:
    """Read-only view of a built cache; pickles as its path, so DataLoader workers reopen it."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        meta = json.loads((self.directory / INDEX).read_text())
        self.entries: dict[str, tuple[int, int, int]] = {
            key: (offset, height, width) for key, (offset, height, width) in meta["entries"].items()
        }
        self._pixels: np.ndarray | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"directory": self.directory, "entries": self.entries, "_pixels": None}

    def get(self, record_id: str) -> np.ndarray | None:
        """uint8 (H, W, 3) pixels of a record, or None if it could not be decoded when built."""
        entry = self.entries.get(record_id)
        if entry is None:
            return None
        if self._pixels is None:
            # A plain ndarray over the map: slices of np.memmap cost ~30 us each in Python.
            self._pixels = np.asarray(np.memmap(self.directory / PIXELS, dtype=np.uint8, mode="r"))
        offset, height, width = entry
        return self._pixels[offset : offset + height * width * 3].reshape(height, width, 3)

    @classmethod
    def build(cls, records: Sequence[ImageRecord], root: Path) -> PixelCache:
        """The cache for these records under `root`: reused if built, else built once."""
        root = Path(root)
        target = root / fingerprint(records)
        if (target / INDEX).is_file():
            return cls(target)
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=root))
        try:
            _write(records, staging)
            try:
                os.replace(staging, target)
            except OSError:  # another process finished the same cache first
                if not (target / INDEX).is_file():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return cls(target)


def _write(records: Sequence[ImageRecord], directory: Path) -> None:
    entries: dict[str, tuple[int, int, int]] = {}
    offset = 0
    with (directory / PIXELS).open("wb") as out:
        for record in records:
            try:
                pixels = np.asarray(decode_image(record.read_bytes()), dtype=np.uint8)
            except (ImageError, OSError) as exc:  # the dataset reports it when it is used
                log.warning("pixel cache: %s not cached: %s", record.id, exc)
                continue
            out.write(np.ascontiguousarray(pixels).tobytes())
            entries[record.id] = (offset, pixels.shape[0], pixels.shape[1])
            offset += pixels.size
    (directory / INDEX).write_text(json.dumps({"version": VERSION, "entries": entries}))
