"""Read an offline W&B run's transaction log (`run-*.wandb`) back as protobuf records.

The log is LevelDB's record format behind a 7-byte W&B header: 32 KiB blocks of chunks, each
`crc32 (4) | length (2) | type (1) | data`, a record split over FIRST/MIDDLE/LAST chunks.
wandb 0.31 ships no Python reader (its writer is the Go `wandb-core`), so tests use this one
to see what an offline run would publish on `wandb sync`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

from wandb.proto import wandb_internal_pb2

HEADER = 7
BLOCK = 32 * 1024
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def _chunks(data: bytes) -> Iterator[tuple[int, bytes]]:
    offset = HEADER
    while offset + HEADER <= len(data):
        room = BLOCK - offset % BLOCK
        if room < HEADER:  # the block's tail is padding
            offset += room
            continue
        _, length, kind = struct.unpack("<IHB", data[offset : offset + HEADER])
        if kind == 0:  # zero padding at the end of a block
            offset += room
            continue
        start = offset + HEADER
        yield kind, data[start : start + length]
        offset = start + length


def records(path: Path) -> Iterator[wandb_internal_pb2.Record]:
    """Every record in the log, in order."""
    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B transaction log"
    pending = b""
    for kind, chunk in _chunks(data):
        pending += chunk
        if kind in (FULL, LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            yield record
            pending = b""


def artifacts(run_dir: Path) -> list[wandb_internal_pb2.ArtifactRecord]:
    """The artifacts logged by the offline runs under `run_dir` (a `wandb/` directory)."""
    return [
        record.artifact
        for log in sorted(run_dir.glob("offline-run-*/run-*.wandb"))
        for record in records(log)
        if record.WhichOneof("record_type") == "artifact"
    ]
