"""SnapStart runtime hooks: what a snapshot must hold, and what each restored copy must redo.

Lambda takes one snapshot after init and restores it into many execution environments, so
anything unique or connection-bound made during init would be shared or stale in all of
them: random state, S3 clients and their pooled connections, a remembered load failure.
The model itself is what the snapshot is for: loaded, verified and warmed before it.
awslambdaric runs the registered hooks when `AWS_LAMBDA_INITIALIZATION_TYPE=snap-start`.
"""

from __future__ import annotations

import logging
import os
import random

import numpy as np

from lambda_fn.predictor import ModelHolder
from lambda_fn.uploads import UploadStore

log = logging.getLogger("aiornot")
SNAP_START = "snap-start"


def register(models: ModelHolder, uploads: UploadStore | None) -> bool:
    """Register both hooks when this environment is initialised for a snapshot."""
    if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") != SNAP_START:
        return False
    # Lambda's runtime provides it (as /var/runtime does); only a snapshot needs it.
    from snapshot_restore_py import register_after_restore, register_before_snapshot

    register_before_snapshot(before_snapshot, models)
    register_after_restore(after_restore, models, uploads)
    return True


def before_snapshot(models: ModelHolder) -> None:
    """Put a loaded, warmed model into the snapshot; a failure there is retried on restore."""
    predictor = models.ensure_loaded()
    log.info(
        "before snapshot",
        extra={"model_loaded": predictor is not None, "reason": models.error},
    )


def after_restore(models: ModelHolder, uploads: UploadStore | None) -> None:
    """Make this copy of the snapshot its own: fresh random state, clients and retry clock."""
    seed = int.from_bytes(os.urandom(16), "big")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if uploads is not None:
        uploads.reset_client()
    models.retry_now()
    log.info("after restore", extra={"model_loaded": models.predictor is not None})
