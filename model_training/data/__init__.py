"""Data: sources (demo, Hub, parquet, folder), validation, splits and the DataModule.

Names resolve lazily, so the torch-free parts (the `validate` CLI, the demo builder)
start without importing torch or Lightning.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from model_training.data.datamodule import AiOrNotDataModule
    from model_training.data.records import DataError, DataSourceError, ImageRecord
    from model_training.data.validation import DataValidationError, ValidationReport

_EXPORTS = {
    "AiOrNotDataModule": "model_training.data.datamodule",
    "DataError": "model_training.data.records",
    "DataSourceError": "model_training.data.records",
    "DataValidationError": "model_training.data.validation",
    "ImageRecord": "model_training.data.records",
    "ValidationReport": "model_training.data.validation",
}
__all__ = [
    "AiOrNotDataModule",
    "DataError",
    "DataSourceError",
    "DataValidationError",
    "ImageRecord",
    "ValidationReport",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
