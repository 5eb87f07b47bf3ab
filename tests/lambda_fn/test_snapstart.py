"""SnapStart's runtime hooks: a restored copy gets its own random state, S3 client and retry.

The hooks are called directly here; tests/lambda_fn/test_handler_runtime.py runs them
under awslambdaric, which calls them itself when initialised for a snapshot.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import snapshot_restore_py

from lambda_fn import snapstart
from lambda_fn.predictor import ModelHolder
from lambda_fn.settings import Settings
from lambda_fn.uploads import UploadStore


@pytest.fixture(autouse=True)
def _empty_hook_registries() -> None:
    snapshot_restore_py.get_before_snapshot().clear()
    snapshot_restore_py.get_after_restore().clear()


def holder(model_uri: str, tmp_path: Path) -> ModelHolder:
    return ModelHolder(Settings(model_uri=model_uri, model_cache_dir=tmp_path))


def test_hooks_are_registered_only_for_a_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = holder(str(tmp_path / "none"), tmp_path)
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
    assert snapstart.register(models, None) is False
    assert snapshot_restore_py.get_after_restore() == []
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    assert snapstart.register(models, None) is True
    assert len(snapshot_restore_py.get_before_snapshot()) == 1
    assert len(snapshot_restore_py.get_after_restore()) == 1


def test_every_restored_copy_draws_its_own_random_numbers(tmp_path: Path) -> None:
    models = holder(str(tmp_path / "none"), tmp_path)
    draws = []
    for _ in range(2):  # two environments restored from one snapshot's random state
        random.seed(1234)
        np.random.seed(1234)
        snapstart.after_restore(models, None)
        draws.append((random.random(), float(np.random.random())))
    random.seed(1234)
    np.random.seed(1234)
    in_snapshot = (random.random(), float(np.random.random()))
    for generator in (0, 1):  # Python's and numpy's, each on its own
        assert in_snapshot[generator] not in [draw[generator] for draw in draws]
        assert draws[0][generator] != draws[1][generator]


def test_a_restored_copy_makes_its_own_s3_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    store = UploadStore("bucket", max_bytes=10, expires_in=60)
    snapshotted = store.client  # made during init, so held in the snapshot
    snapstart.after_restore(holder(str(tmp_path / "none"), tmp_path), store)
    assert store.client is not snapshotted  # a new one, with its own connections


def test_a_load_that_failed_before_the_snapshot_is_retried_at_once_after_restore(
    tmp_path: Path, resnet_bundle: Path
) -> None:
    models = holder(str(tmp_path / "missing-bundle"), tmp_path)
    snapstart.before_snapshot(models)
    assert models.predictor is None and models.error  # the snapshot holds a failure
    models.settings = models.settings.model_copy(update={"model_uri": str(resnet_bundle)})
    assert models.ensure_loaded() is None  # the retry interval has not passed
    snapstart.after_restore(models, None)
    assert models.ensure_loaded() is not None  # the first request retries, not 60 s later


def test_before_snapshot_loads_and_warms_the_model(tmp_path: Path, resnet_bundle: Path) -> None:
    models = holder(str(resnet_bundle), tmp_path)
    snapstart.before_snapshot(models)
    assert models.predictor is not None
