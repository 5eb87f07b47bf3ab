"""Splits: stratified, seeded, order-independent, and no image content in two splits."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from model_training.data.records import ImageRecord
from model_training.data.splits import split_records
from model_training.data.validation import DataValidationError, ValidationReport, check_splits


def _records(n: int, *, ai_every: int = 3, copies: int = 1) -> list[ImageRecord]:
    """n images (1 in `ai_every` AI); each content appears `copies` times under new ids."""
    return [
        ImageRecord(id=f"img{i:04d}-{c}", label=int(i % ai_every == 0), sha256=f"sha{i}")
        for i in range(n)
        for c in range(copies)
    ]


def test_split_is_stratified_by_label() -> None:
    splits = split_records(_records(600), val_fraction=0.2, test_fraction=0.1, seed=0)
    assert {k: len(v) for k, v in splits.items()} == {"train": 420, "val": 120, "test": 60}
    for rows in splits.values():
        ai_share = sum(r.label for r in rows) / len(rows)
        assert ai_share == pytest.approx(1 / 3, abs=0.02)


def test_duplicate_image_content_never_crosses_splits() -> None:
    records = _records(90, copies=3)
    splits = split_records(records, val_fraction=0.15, test_fraction=0.15, seed=1)
    owner: dict[str, set[str]] = {}
    for name, rows in splits.items():
        for record in rows:
            owner.setdefault(str(record.sha256), set()).add(name)
    assert all(len(names) == 1 for names in owner.values())
    assert sum(len(rows) for rows in splits.values()) == len(records)


def test_split_depends_on_the_seed_not_on_input_order() -> None:
    records = _records(200)
    shuffled = random.Random(7).sample(records, len(records))
    kwargs = {"val_fraction": 0.15, "test_fraction": 0.15}
    assert split_records(records, seed=5, **kwargs) == split_records(shuffled, seed=5, **kwargs)
    assert split_records(records, seed=5, **kwargs) != split_records(records, seed=6, **kwargs)


def test_groups_stay_whole_and_strata_stay_balanced() -> None:
    records = [
        ImageRecord(id=f"{g}-{i}", label=i % 2, group=f"photo{g}", sha256=f"{g}-{i}")
        for g in range(20)
        for i in range(10)
    ]
    splits = split_records(records, val_fraction=0.15, test_fraction=0.15, seed=0)
    groups = [{r.group for r in rows} for rows in splits.values()]
    assert sum(len(g) for g in groups) == 20
    assert Counter(len(rows) for rows in splits.values()) == Counter({140: 1, 30: 2})


def test_split_leakage_is_reported_as_an_error() -> None:
    leaky = {"train": _records(3), "val": _records(3)[:1], "test": []}
    report = ValidationReport(source="t", policy="fail", rows=4, kept=4)
    with pytest.raises(DataValidationError, match="several splits"):
        check_splits(report, leaky)


def test_fractions_must_leave_room_for_training() -> None:
    with pytest.raises(ValueError, match="sum to less than 1"):
        split_records(_records(10), val_fraction=0.5, test_fraction=0.5, seed=0)
