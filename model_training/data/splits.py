"""Carve train/val/test from labelled records: stratified, seeded, leak-free.

Records that must not be separated form one unit: the same group (a source
photograph) or the same image content (sha256). Units are dealt to the splits
stratum by stratum (by label), always to the split furthest below its target.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from model_training.data.records import ImageRecord

SPLITS: tuple[str, str, str] = ("train", "val", "test")


def split_records(
    records: list[ImageRecord], *, val_fraction: float, test_fraction: float, seed: int
) -> dict[str, list[ImageRecord]]:
    """Deterministic for a seed whatever the input order; no group or content crosses splits."""
    if val_fraction < 0 or test_fraction < 0 or val_fraction + test_fraction >= 1:
        raise ValueError("val_fraction and test_fraction must be >= 0 and sum to less than 1")
    fractions = {"train": 1 - val_fraction - test_fraction, "val": val_fraction}
    fractions["test"] = test_fraction
    rng = np.random.default_rng(seed)
    out: dict[str, list[ImageRecord]] = {name: [] for name in SPLITS}
    by_stratum: dict[str, list[list[ImageRecord]]] = defaultdict(list)
    for unit in _units(records):
        by_stratum[_stratum(unit)].append(unit)
    for stratum in sorted(by_stratum):
        units = sorted(by_stratum[stratum], key=lambda unit: unit[0].id)
        order = rng.permutation(len(units))
        total = sum(len(unit) for unit in units)
        filled = dict.fromkeys(SPLITS, 0)
        for index in order:
            unit = units[index]
            name = max(SPLITS, key=lambda s: (fractions[s] * total - filled[s]) / total)
            filled[name] += len(unit)
            out[name].extend(unit)
    return {name: sorted(rows, key=lambda r: r.id) for name, rows in out.items()}


def _units(records: list[ImageRecord]) -> list[list[ImageRecord]]:
    """Connected components over shared group and shared content (union-find)."""
    parent = list(range(len(records)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_seen: dict[tuple[str, str], int] = {}
    for i, record in enumerate(records):
        keys = [("sha", record.sha256 or f"id:{record.id}")]
        if record.group is not None:
            keys.append(("group", record.group))
        for key in keys:
            if key in first_seen:
                parent[find(i)] = find(first_seen[key])
            else:
                first_seen[key] = i
    members: dict[int, list[ImageRecord]] = defaultdict(list)
    for i, record in enumerate(records):
        members[find(i)].append(record)
    return [sorted(unit, key=lambda r: r.id) for unit in members.values()]


def _stratum(unit: list[ImageRecord]) -> str:
    """A unit's label mix, so balanced groups and single images are dealt separately."""
    counts = Counter(record.label for record in unit)
    return "mixed" if len(counts) > 1 else f"label={next(iter(counts))}"
