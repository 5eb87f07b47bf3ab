"""Evaluate a checkpoint on its own held-out splits: metrics.json (read by export) and plots.

Metrics are of calibrated probabilities at a threshold chosen on validation, as the bundle
will serve them, plus the robustness report (size, JPEG quality, resizing, web/hard tiers).

`python -m model_training.evaluate --checkpoint CKPT --out artifacts/eval` rebuilds the exact
data split and preprocessing from the checkpoint's metadata alone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch

from lambda_fn.stem import InputSpec, aggregate, prepare
from model_training import robustness
from model_training.calibration import binary_metrics, calibrate, calibrated_probs
from model_training.checkpoints import load_checkpoint, load_datamodule, resolve_checkpoint
from model_training.data.dataset import image_logits
from model_training.eval_plots import plot_confusion, plot_reliability, plot_robustness, plot_roc
from model_training.lit_module import AiOrNotModule
from model_training.tracking import ensure_wandb_mode, run_id_from_path, tracking_dir

SPLITS = ("val", "test")


@torch.no_grad()
def torch_logits(
    net: Any, loader: Iterable[Any], limit: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Image logits and labels of a loader's batches (the stem's crops, averaged per image)."""
    net.eval()
    logits, labels, seen = [], [], 0
    for x, y, owner in loader:
        logits.append(image_logits(net(x.float()), owner, len(y)).double().numpy())
        labels.append(y.numpy().astype(int))
        seen += len(y)
        if limit is not None and seen >= limit:
            break
    if not logits:
        return np.zeros(0), np.zeros(0, dtype=int)
    return np.concatenate(logits)[:limit], np.concatenate(labels)[:limit]


def torch_scorer(net: Any, spec: InputSpec, temperature: float) -> Callable[[bytes], float]:
    """Encoded image -> calibrated AI probability, through the stem and the torch network."""

    @torch.no_grad()
    def score(data: bytes) -> float:
        crops = torch.from_numpy(prepare(data, spec).crops)
        logit = aggregate(net(crops).double().numpy())
        return float(calibrated_probs(np.array([logit]), temperature)[0])

    return score


def evaluate(
    module: AiOrNotModule, datamodule: pl.LightningDataModule, out: Path
) -> dict[str, Any]:
    """Write metrics.json and plots (ROC, reliability, confusion, robustness); log to W&B.

    Calibration and the threshold are fitted on validation exactly as export fits them, so
    these figures are the bundle's, up to the parity gate's tolerance.
    """
    out.mkdir(parents=True, exist_ok=True)
    datamodule.prepare_data()
    datamodule.setup("validate")
    datamodule.setup("test")
    net = module.net.eval()
    logits = {
        "val": torch_logits(net, datamodule.val_dataloader()),
        "test": torch_logits(net, datamodule.test_dataloader()),
    }
    calibration = calibrate(*logits["val"])
    threshold = calibration.pop("threshold")
    temperature = calibration["temperature"]
    probs = {split: calibrated_probs(z, temperature) for split, (z, _) in logits.items()}
    metrics: dict[str, Any] = {
        split: binary_metrics(probs[split], logits[split][1], threshold) for split in SPLITS
    }
    metrics["calibration"] = {**calibration, "threshold": threshold}
    metrics["robustness"] = robustness.robustness_report(
        torch_scorer(net, datamodule.input_spec, temperature),
        datamodule.split_records("test"),  # the test loader's order (the parity gate checks it)
        threshold,
        probs["test"],  # the clean tier: already scored above
    )
    staging = out / ".metrics.json.partial"  # renamed into place: never a torn metrics.json
    staging.write_text(json.dumps(metrics, indent=2) + "\n")
    os.replace(staging, out / "metrics.json")
    predictions = {
        split: (torch.from_numpy(probs[split]).float(), torch.from_numpy(logits[split][1]))
        for split in SPLITS
    }
    plots = {
        "roc": plot_roc(predictions, out / "roc.png"),
        "reliability": plot_reliability(*predictions["test"], out / "reliability.png"),
        "confusion_matrix": plot_confusion(
            metrics["test"]["confusion_matrix"], out / "confusion_matrix.png"
        ),
        "robustness": plot_robustness(metrics["robustness"], out / "robustness.png"),
    }
    _log_to_wandb(metrics, plots)
    return metrics


def _log_to_wandb(metrics: dict[str, dict[str, Any]], plots: dict[str, Path]) -> None:
    import wandb

    if wandb.run is None:
        return
    scalars = {
        f"eval/{split}/{key}": value
        for split in SPLITS
        for key, value in metrics[split].items()
        if isinstance(value, float)
    }
    scalars |= {
        f"eval/robustness/{tier}/accuracy": values["accuracy"]
        for tier, values in metrics["robustness"]["tiers"].items()
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
    path = resolve_checkpoint(checkpoint)
    module, meta = load_checkpoint(path)
    datamodule = load_datamodule(path, batch_size, num_workers)
    run = _resume_run(meta) if wandb_log else None
    try:
        metrics = evaluate(module, datamodule, Path(out))
    finally:
        if run is not None:
            run.finish()
    for split in SPLITS:
        values = metrics[split]
        shown = ", ".join(f"{k}={v:.4f}" for k, v in values.items() if isinstance(v, float))
        print(f"{split} (n={values['n']}): {shown}")
    print(robustness.render(metrics["robustness"]))
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
        project=project, id=run_id_from_path(run_path), resume="allow", dir=tracking_dir()
    )


if __name__ == "__main__":
    from jsonargparse import CLI

    CLI(main)
