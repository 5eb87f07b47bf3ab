"""Where a bundle came from (git, W&B run, data split, config) and where it is announced (W&B)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from lambda_fn.manifest import MANIFEST_NAME, Manifest
from model_training.tracking import ensure_wandb_mode, log_files_artifact, tracking_dir

REPO_ROOT = Path(__file__).resolve().parents[1]


def git_commit() -> tuple[str | None, bool | None]:
    """(HEAD commit, working tree dirty?) or (None, None) outside a git repository."""
    try:
        run = {"cwd": REPO_ROOT, "capture_output": True, "text": True, "check": True}
        commit = subprocess.run(["git", "rev-parse", "HEAD"], **run).stdout.strip()  # type: ignore[call-overload]
        status = subprocess.run(["git", "status", "--porcelain"], **run).stdout  # type: ignore[call-overload]
    except (OSError, subprocess.CalledProcessError):
        return None, None
    return commit or None, bool(status.strip())


def lineage_for(checkpoint: str, meta: dict[str, Any]) -> dict[str, Any]:
    commit, dirty = git_commit()
    dataset = dict(meta.get("dataset") or {})
    return {
        "git_commit": commit,
        "git_dirty": dirty,
        "wandb_run": meta.get("wandb_run"),
        "dataset": dataset.pop("id", None),
        "split": {
            **dataset,
            "calibration": "val",
            "threshold": "val",
            "metrics": "test",
            "parity": "test",
            "int8_calibration": "train",
        },
        "config": meta.get("config"),
        "checkpoint": checkpoint,
    }


def log_bundle_artifact(out: Path, manifest: Manifest, meta: dict[str, Any]) -> str | None:
    """Log the bundle as a W&B `model-bundle` artifact aliased `prod-ready`; returns the run path.

    Offline (no credentials or no reachable server) the artifact is recorded in the local run,
    and `wandb sync` publishes it later, as for training's checkpoints (`--no-wandb` or
    WANDB_MODE=disabled: nothing is logged).
    """
    mode = ensure_wandb_mode()
    import wandb

    run_path = meta.get("wandb_run") or ""
    project = run_path.split("/")[-2] if run_path.count("/") >= 1 else "aiornot"
    run = wandb.init(project=project, job_type="export", dir=tracking_dir())
    try:
        files = {n: out / n for n in [*manifest.files, MANIFEST_NAME]}
        log_files_artifact(
            run,
            f"bundle-{manifest.name}",
            "model-bundle",
            files,
            aliases=["prod-ready", "latest", manifest.version],
            metadata={"version": manifest.version, "test": manifest.metrics.get("test")},
        )
        if mode == "offline":
            sync = Path(run.dir).parent
            print(f"W&B offline: bundle artifact recorded; `wandb sync {sync}` publishes it")
        return str(run.path)
    finally:
        run.finish()
