"""Where labelled images come from: the Hub, local parquet, a folder, or the embedded demo.

The Hub and local parquet go through the same `datasets` code path
(`load_dataset(...)`, image column left undecoded), so the Hub loader is exercised
offline by parquet files in the Hub's exact schema: `id` string, `image`
(struct {bytes, path}), `label` int (0 = real, 1 = AI).
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any, Literal

from lambda_fn.manifest import LABELS
from model_training.data.records import DataSourceError, ImageRecord, RowStore

SourceName = Literal["demo", "hub", "parquet", "folder"]
HUB_DATASET = "competitions/aiornot"
DEFAULT_DATA_DIR = Path(os.environ.get("AIORNOT_DATA_DIR", "artifacts/data"))
FOLDER_LABELS = {name: index for index, name in enumerate(LABELS)}  # real/ -> 0, ai/ -> 1
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
HUB_COLUMNS = ("id", "image", "label")


def folder_records(root: Path) -> list[ImageRecord]:
    """`root/real/**` is label 0, `root/ai/**` label 1; ids are paths relative to root."""
    records = [
        ImageRecord(id=file.relative_to(root).as_posix(), label=label, path=file)
        for name, label in FOLDER_LABELS.items()
        for file in sorted((root / name).rglob("*"))
        if file.is_file() and file.suffix.lower() in IMAGE_SUFFIXES
    ]
    if not records:
        raise DataSourceError(
            f"no images under {root}/real/ or {root}/ai/ "
            f"(expected files ending in {', '.join(sorted(IMAGE_SUFFIXES))})"
        )
    return records


def parquet_files(path: str) -> list[str]:
    """A file, every *.parquet under a directory, or a glob pattern."""
    candidate = Path(path)
    if candidate.is_file():
        return [str(candidate)]
    if candidate.is_dir():
        files = sorted(str(p) for p in candidate.rglob("*.parquet"))
    else:
        files = sorted(glob.glob(path, recursive=True))
    if not files:
        raise DataSourceError(f"no parquet files at {path!r} (a file, a directory or a glob)")
    return files


def parquet_records(path: str, *, cache_dir: str | None = None) -> list[ImageRecord]:
    """Local parquet in the Hub's schema, read exactly as the Hub's files are."""
    import datasets

    dataset = datasets.load_dataset(
        "parquet", data_files=parquet_files(path), split="train", cache_dir=cache_dir
    )
    return arrow_records(dataset, origin=f"parquet files at {path}")


def hub_records(name: str = HUB_DATASET, *, cache_dir: str | None = None) -> list[ImageRecord]:
    """The Hub's labelled `train` split (its `test` split has no labels, so it is never used)."""
    import datasets

    try:  # datasets reads HF_TOKEN or the token saved by `hf auth login` itself
        dataset = datasets.load_dataset(name, split="train", cache_dir=cache_dir)
    except Exception as exc:  # gated, offline, unreachable: all need the same advice
        raise DataSourceError(hub_access_message(name, exc)) from None
    return arrow_records(dataset, origin=f"Hub dataset {name}")


def arrow_records(dataset: Any, *, origin: str) -> list[ImageRecord]:
    """Records backed by Arrow rows; the image column stays encoded bytes."""
    import datasets

    missing = [column for column in HUB_COLUMNS if column not in dataset.column_names]
    if missing:
        raise DataSourceError(
            f"{origin} lacks column(s) {missing}; the Hub schema is id (string), "
            f"image (datasets.Image: struct of bytes and path), label (int: 0 real, 1 AI); "
            f"found {dataset.column_names}"
        )
    try:
        dataset = dataset.select_columns(list(HUB_COLUMNS))
        dataset = dataset.cast_column("image", datasets.Image(decode=False))
    except (TypeError, ValueError) as exc:
        raise DataSourceError(f"{origin}: column 'image' is not an image column: {exc}") from None
    store = RowStore(dataset)
    ids, labels = list(dataset["id"]), list(dataset["label"])
    return [
        ImageRecord(
            id="" if row_id is None else str(row_id),
            label=-1 if label is None else int(label),
            row=row,
            store=store,
        )
        for row, (row_id, label) in enumerate(zip(ids, labels, strict=True))
    ]


def hub_access_message(name: str, exc: BaseException) -> str:
    """What went wrong reaching the Hub and what to do about it, in words."""
    from huggingface_hub import get_token

    reason = (str(exc).strip().splitlines() or [""])[0]
    token = (
        "A Hugging Face token was found: check that its account accepted the dataset's conditions."
        if get_token()
        else "No Hugging Face token was found (HF_TOKEN unset and no saved login)."
    )
    offline = (
        " HF_HUB_OFFLINE is set, so only a copy already in the local cache can be used."
        if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}
        else ""
    )
    return (
        f"Could not load the Hugging Face dataset {name!r}: {type(exc).__name__}: {reason}\n"
        f"It is gated: while logged in, accept its conditions at "
        f"https://huggingface.co/datasets/{name}, then run `hf auth login` "
        f"(or set HF_TOKEN to a read token). {token}{offline}\n"
        "No Hub access from this machine? Save the train split as parquet where there is "
        "(`load_dataset(...)['train'].to_parquet('aiornot.parquet')`) and use "
        "--data.dataset.source=parquet --data.dataset.path=aiornot.parquet, or use the "
        "offline demo (--data.dataset.source=demo)."
    )
