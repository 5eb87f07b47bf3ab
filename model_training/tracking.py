"""Weights & Biases: online with credentials, offline without, never blocking a run."""

from __future__ import annotations

import netrc
import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import lightning.pytorch as pl
import yaml
from lightning.pytorch.cli import SaveConfigCallback
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_info

DEFAULT_BASE_URL = "https://api.wandb.ai"
ARTIFACT_SCHEME = "wandb-artifact://"


def _api_host() -> str:
    return urlparse(os.environ.get("WANDB_BASE_URL", DEFAULT_BASE_URL)).hostname or "api.wandb.ai"


def has_wandb_credentials() -> bool:
    """True when an API key is in the environment or in ~/.netrc (what `wandb login` writes)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc(os.environ.get("NETRC")).authenticators(_api_host()) is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def wandb_reachable(timeout: float = 3.0) -> bool:
    """A TCP connect to the W&B API host, so an unreachable server cannot stall `wandb.init`."""
    parsed = urlparse(os.environ.get("WANDB_BASE_URL", DEFAULT_BASE_URL))
    port = parsed.port or (443 if parsed.scheme != "http" else 80)
    try:
        with socket.create_connection((_api_host(), port), timeout=timeout):
            return True
    except OSError:
        return False


def ensure_wandb_mode() -> str:
    """Choose the W&B mode once per process: an explicit WANDB_MODE wins, else online or offline.

    `WandbLogger(offline=True)` refuses artifacts, so offline is chosen through the
    environment variable, which W&B itself reads; offline runs can be `wandb sync`-ed later.
    """
    mode = os.environ.get("WANDB_MODE")
    if mode:
        return mode
    if not has_wandb_credentials():
        reason = "no W&B credentials (WANDB_API_KEY or `wandb login`)"
    elif not wandb_reachable():
        reason = f"W&B server {_api_host()} is unreachable"
    else:
        return "online"
    os.environ["WANDB_MODE"] = "offline"
    rank_zero_info(f"W&B offline: {reason}; sync later with `wandb sync <run dir>`.")
    return "offline"


def tracking_dir() -> str:
    """Where evaluate and export open their W&B runs: WANDB_DIR if set, else ./artifacts."""
    return os.environ.get("WANDB_DIR") or "artifacts"


def wandb_run(trainer: pl.Trainer) -> Any | None:
    """The live W&B run of the trainer's WandbLogger (rank zero only), or None."""
    if not trainer.is_global_zero:
        return None
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            run = logger.experiment
            return None if getattr(run, "disabled", False) else run
    return None


def wandb_run_path(trainer: pl.Trainer) -> str | None:
    """`entity/project/run_id` (`project/run_id` offline), stored in checkpoints for resuming."""
    run = wandb_run(trainer)
    return str(run.path) if run is not None else None


def run_id_from_path(run_path: str) -> str:
    """The run id is the last segment of a run path."""
    return run_path.rstrip("/").rsplit("/", 1)[-1]


def log_files_artifact(
    run: Any,
    name: str,
    kind: str,
    files: dict[str, Path],
    aliases: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> None:
    """Log files (name in the artifact -> local path) as one version; W&B copies them."""
    import wandb

    artifact = wandb.Artifact(name=name, type=kind, metadata=metadata or {})
    for file_name, path in files.items():
        artifact.add_file(str(path), name=file_name)
    run.log_artifact(artifact, aliases=aliases or ["latest"])


class WandbSaveConfig(SaveConfigCallback):
    """Save config.yaml as usual, and put the whole CLI config into the W&B run's config."""

    def save_config(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                config = yaml.safe_load(self.parser.dump(self.config, skip_none=False))
                logger.experiment.config.update({"cli": _plain(config)}, allow_val_change=True)


def _plain(value: Any) -> Any:
    """W&B treats nested `wandb-artifact://` strings as artifacts and refuses them: strip it."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, str) and value.startswith(ARTIFACT_SCHEME):
        return value.removeprefix(ARTIFACT_SCHEME)
    return value
