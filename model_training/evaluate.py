"""Evaluate a checkpoint on its own held-out splits: metrics.json (read by export) and plots.

`python -m model_training.evaluate --checkpoint CKPT --out artifacts/eval` rebuilds the exact
data split and preprocessing from the checkpoint's metadata alone.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torchmetrics.classification import BinaryConfusionMatrix

from model_training.checkpoints import load_checkpoint
from model_training.eval_plots import plot_confusion, plot_reliability, plot_roc
from model_training.lit_module import AiOrNotModule
from model_training.metrics import classification_metrics
from model_training.tracking import ensure_wandb_mode, run_id_from_path

SPLITS = ("val", "test")


def datamodule_from_metadata(
    meta: dict[str, Any], batch_size: int = 128, num_workers: int = 0
) -> pl.LightningDataModule:
    """The training run's DataModule, same source/split/seed/size, built from a checkpoint."""
    from model_training.data import AiOrNotDataModule

    config_data = dict((meta.get("config") or {}).get("data") or {})
    config_data = config_data.get("init_args", config_data)  # subclass-mode configs nest it
    dataset = {k: v for k, v in (meta.get("dataset") or {}).items() if k != "id" and v is not None}
    kwargs = {**dataset, **config_data, "batch_size": batch_size, "num_workers": num_workers}
    accepted = inspect.signature(AiOrNotDataModule).parameters
    return AiOrNotDataModule(**{k: v for k, v in kwargs.items() if k in accepted})


@torch.no_grad()
def predict(
    module: AiOrNotModule, loader: torch.utils.data.DataLoader
) -> tuple[torch.Tensor, torch.Tensor]:
    """AI probabilities and integer targets for every batch of a loader."""
    module.eval()
    probs, targets = [], []
    for x, y in loader:
        probs.append(torch.sigmoid(module(x.to(module.device)).float()).cpu())
        targets.append(y.long())
    return torch.cat(probs), torch.cat(targets)


def split_metrics(probs: torch.Tensor, targets: torch.Tensor) -> dict[str, Any]:
    """The metrics.json entry for one split: scalars, confusion matrix and count."""
    values = classification_metrics("")(probs, targets)
    confusion = BinaryConfusionMatrix()(probs, targets)  # rows true, cols predicted: real, ai
    result: dict[str, Any] = {k: float(v) for k, v in values.items()}
    result["confusion_matrix"] = confusion.tolist()
    result["n"] = int(targets.numel())
    return result


def evaluate(
    module: AiOrNotModule, datamodule: pl.LightningDataModule, out: Path
) -> dict[str, dict[str, Any]]:
    """Write metrics.json and roc/reliability/confusion PNGs; log them if a W&B run is active."""
    out.mkdir(parents=True, exist_ok=True)
    datamodule.prepare_data()
    datamodule.setup("validate")
    datamodule.setup("test")
    loaders = {"val": datamodule.val_dataloader(), "test": datamodule.test_dataloader()}
    predictions = {split: predict(module, loaders[split]) for split in SPLITS}
    metrics = {split: split_metrics(*predictions[split]) for split in SPLITS}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    plots = {
        "roc": plot_roc(predictions, out / "roc.png"),
        "reliability": plot_reliability(*predictions["test"], out / "reliability.png"),
        "confusion_matrix": plot_confusion(
            metrics["test"]["confusion_matrix"], out / "confusion_matrix.png"
        ),
    }
    _log_to_wandb(metrics, plots)
    return metrics


def _log_to_wandb(metrics: dict[str, dict[str, Any]], plots: dict[str, Path]) -> None:
    import wandb

    if wandb.run is None:
        return
    scalars = {
        f"eval/{split}/{key}": value
        for split, values in metrics.items()
        for key, value in values.items()
        if isinstance(value, float)
    }
    images = {f"eval/{name}": wandb.Image(str(path)) for name, path in plots.items()}
    wandb.run.log({**scalars, **images})
    wandb.run.summary.update(scalars)


def main(
    *,
    checkpoint: str,
    out: Path = Path("artifacts/eval"),
    batch_size: int = 128,
    num_workers: int = 0,
    wandb_log: bool = True,
) -> None:
    """Evaluate CHECKPOINT (path or wandb-artifact:// reference) into OUT.

    Args:
        checkpoint: local .ckpt path or wandb-artifact://ENTITY/PROJECT/NAME:VERSION
        out: directory for metrics.json, roc.png, reliability.png, confusion_matrix.png
        batch_size: evaluation batch size
        num_workers: DataLoader worker processes
        wandb_log: log metrics and plots into the checkpoint's W&B run (offline without credentials)
    """
    module, meta = load_checkpoint(checkpoint)
    datamodule = datamodule_from_metadata(meta, batch_size, num_workers)
    run = _resume_run(meta) if wandb_log else None
    try:
        metrics = evaluate(module, datamodule, Path(out))
    finally:
        if run is not None:
            run.finish()
    for split, values in metrics.items():
        shown = ", ".join(f"{k}={v:.4f}" for k, v in values.items() if isinstance(v, float))
        print(f"{split} (n={values['n']}): {shown}")
    print(f"wrote {Path(out) / 'metrics.json'}")


def _resume_run(meta: dict[str, Any]) -> Any | None:
    """Re-open the training run the checkpoint names, so evaluation lands beside it."""
    run_path = meta.get("wandb_run")
    if not run_path:
        return None
    import wandb

    ensure_wandb_mode()
    project = run_path.split("/")[-2] if run_path.count("/") >= 1 else None
    return wandb.init(
        project=project, id=run_id_from_path(run_path), resume="allow", dir="artifacts"
    )


if __name__ == "__main__":
    from jsonargparse import CLI

    CLI(main)
