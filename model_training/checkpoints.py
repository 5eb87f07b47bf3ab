"""Find a checkpoint (local path or W&B artifact) and load the model with its metadata."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from model_training.data import AiOrNotDataModule
from model_training.lit_module import AiOrNotModule
from model_training.tracking import ARTIFACT_SCHEME

DEFAULT_DOWNLOAD_ROOT = Path("artifacts") / "downloads"


@dataclass(frozen=True)
class WandbArtifactRef:
    """`wandb-artifact://entity/project/name:version`, the form the W&B API takes."""

    entity: str
    project: str
    name: str
    version: str

    @property
    def api_path(self) -> str:
        return f"{self.entity}/{self.project}/{self.name}:{self.version}"


def parse_wandb_ref(ref: str) -> WandbArtifactRef | None:
    """Parse a W&B artifact reference; None for anything else (a local path)."""
    if not ref.startswith(ARTIFACT_SCHEME):
        return None
    body = ref[len(ARTIFACT_SCHEME) :].strip("/")
    name_part, _, version = body.partition(":")
    parts = name_part.split("/")
    if len(parts) != 3 or not all(parts):
        raise ValueError(
            f"bad W&B artifact reference {ref!r}; expected {ARTIFACT_SCHEME}ENTITY/PROJECT/NAME"
            f"[:VERSION], e.g. {ARTIFACT_SCHEME}me/aiornot/model-1a2b:latest"
        )
    return WandbArtifactRef(parts[0], parts[1], parts[2], version or "latest")


def download_wandb_artifact(ref: WandbArtifactRef, root: Path = DEFAULT_DOWNLOAD_ROOT) -> Path:
    """Download an artifact with the public API (needs W&B access); return its checkpoint."""
    import wandb

    target = root / f"{ref.name}-{ref.version}"
    directory = Path(wandb.Api().artifact(ref.api_path, type="model").download(root=str(target)))
    return single_checkpoint_in(directory)


def single_checkpoint_in(directory: Path) -> Path:
    """The one `.ckpt` file an artifact directory holds (`model.ckpt` preferred)."""
    if (directory / "model.ckpt").is_file():
        return directory / "model.ckpt"
    found = sorted(directory.rglob("*.ckpt"))
    if len(found) != 1:
        raise FileNotFoundError(f"expected one .ckpt file in {directory}, found {len(found)}")
    return found[0]


def resolve_checkpoint(ref: str | os.PathLike[str], root: Path = DEFAULT_DOWNLOAD_ROOT) -> Path:
    """A local checkpoint path for `ref`: a file, a directory holding one, or a W&B reference."""
    wandb_ref = parse_wandb_ref(str(ref))
    if wandb_ref is not None:
        return download_wandb_artifact(wandb_ref, root)
    path = Path(ref).expanduser()
    if path.is_dir():
        return single_checkpoint_in(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    return path


def read_metadata(path: Path) -> dict[str, Any]:
    """The checkpoint's `aiornot` block, without building the model."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    meta = checkpoint.get("aiornot")
    if meta is None:
        raise ValueError(f"{path} has no 'aiornot' metadata; was it written by model_training.cli?")
    return meta


def load_checkpoint(ref: str | os.PathLike[str]) -> tuple[AiOrNotModule, dict[str, Any]]:
    """Load the model (CPU, eval mode) and its metadata from a local path or W&B reference."""
    path = resolve_checkpoint(ref)
    checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    if "net" not in (checkpoint.get(AiOrNotModule.CHECKPOINT_HYPER_PARAMS_KEY) or {}):
        raise ValueError(  # Lightning would pass the old keys on and __init__ would refuse them
            f"{path}: its network settings are missing or from before they moved under "
            "model.net (ResNetConfig); train it again, or evaluate and export it with the "
            "version of aiornot that wrote it"
        )
    module = AiOrNotModule.load_from_checkpoint(path, map_location="cpu")
    return module.eval(), read_metadata(path)


def load_datamodule(path: Path, batch_size: int = 128, num_workers: int = 0) -> AiOrNotDataModule:
    """The training run's DataModule (same source, split, seed and crop), restored by
    Lightning from the hyperparameters it saved in the checkpoint; only the loader differs."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    saved = checkpoint.get(AiOrNotDataModule.CHECKPOINT_HYPER_PARAMS_KEY) or {}
    if "dataset" not in saved:  # Lightning would drop the old keys and restore the defaults
        raise ValueError(
            f"{path}: its DataModule settings are missing or from before the data options "
            "moved under data.dataset (DataConfig), so its split cannot be restored; train it "
            "again, or evaluate and export it with the version of aiornot that wrote it"
        )
    return AiOrNotDataModule.load_from_checkpoint(
        path, map_location="cpu", batch_size=batch_size, num_workers=num_workers
    )
