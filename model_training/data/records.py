"""What every source yields: one labelled image, its bytes read on demand."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class DataError(RuntimeError):
    """A data problem a person must fix; its message says how (no traceback needed)."""


class DataSourceError(DataError):
    """A source could not be read: missing files, wrong schema, no Hub access."""


class RowStore:
    """Rows of a `datasets.Dataset` (image column undecoded): picklable, memory-mapped."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def image_bytes(self, row: int) -> bytes:
        image = self.dataset[row]["image"]
        if image.get("bytes"):
            return bytes(image["bytes"])
        if image.get("path"):
            return Path(image["path"]).read_bytes()
        raise OSError(f"row {row} holds neither image bytes nor a path")


@dataclass(frozen=True)
class ImageRecord:
    """One labelled image; bytes stay where they are (file or Arrow row) until needed."""

    id: str
    label: int
    group: str | None = None
    path: Path | None = None
    row: int | None = None
    sha256: str | None = None
    pair: str | None = None  # records made from one source crop (a real and its AI re-make)
    resized_after: bool | None = None  # downscaled after generation; None if the source can't say
    store: RowStore | None = field(default=None, repr=False, compare=False)

    @property
    def crop_key(self) -> int:
        """Seeds a training crop's place: equal for both images of a pair, so they are cut
        at the same spot and differ only in how their pixels were made."""
        return zlib.crc32((self.pair or self.id).encode())

    def read_bytes(self) -> bytes:
        """The encoded image file, exactly as stored."""
        if self.path is not None:
            return self.path.read_bytes()
        if self.store is not None and self.row is not None:
            return self.store.image_bytes(self.row)
        raise OSError(f"record {self.id!r} has no image location")
