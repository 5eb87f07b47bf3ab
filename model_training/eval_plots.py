"""Evaluation plots as PNG files, drawn without pyplot so no display or global state is needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from torchmetrics.functional.classification import binary_auroc, binary_roc

from lambda_fn.manifest import LABELS

RELIABILITY_BINS = 10


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plot_roc(predictions: dict[str, tuple[torch.Tensor, torch.Tensor]], path: Path) -> Path:
    """ROC curves, one per split, with their AUROC in the legend."""
    fig = Figure(figsize=(4.5, 4.5))
    ax = fig.subplots()
    for split, (probs, targets) in predictions.items():
        fpr, tpr, _ = binary_roc(probs, targets)
        auroc = float(binary_auroc(probs, targets))
        ax.plot(fpr.numpy(), tpr.numpy(), label=f"{split} (AUROC {auroc:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (positive = ai)")
    ax.legend(loc="lower right")
    return _save(fig, path)


def reliability_bins(
    probs: torch.Tensor, targets: torch.Tensor, bins: int = RELIABILITY_BINS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per equal-width bin of predicted P(ai): mean prediction, observed AI fraction, count."""
    p, y = probs.double().numpy(), targets.double().numpy()
    index = np.clip((p * bins).astype(int), 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_pred = np.bincount(index, weights=p, minlength=bins) / counts
        observed = np.bincount(index, weights=y, minlength=bins) / counts
    return mean_pred, observed, counts


def plot_reliability(probs: torch.Tensor, targets: torch.Tensor, path: Path) -> Path:
    """Reliability diagram: observed AI fraction against predicted P(ai); the diagonal is ideal."""
    mean_pred, observed, counts = reliability_bins(probs, targets)
    filled = counts > 0
    fig = Figure(figsize=(4.5, 4.5))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfectly calibrated")
    ax.plot(mean_pred[filled], observed[filled], marker="o", label="model")
    for x, y, n in zip(mean_pred[filled], observed[filled], counts[filled], strict=True):
        ax.annotate(str(n), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.05), xlabel="predicted P(ai)")
    ax.set_ylabel("observed fraction ai")
    ax.set_title("Reliability (test; labels = images per bin)")
    ax.legend(loc="lower right")
    return _save(fig, path)


def plot_confusion(matrix: list[list[int]], path: Path) -> Path:
    """Confusion matrix at threshold 0.5: rows are true labels, columns predictions."""
    data = np.asarray(matrix)
    fig = Figure(figsize=(4, 3.6))
    ax = fig.subplots()
    ax.imshow(data, cmap="Blues")
    for (row, col), value in np.ndenumerate(data):
        color = "white" if value > data.max() / 2 else "black"
        ax.text(col, row, str(value), ha="center", va="center", color=color)
    ax.set(xticks=[0, 1], yticks=[0, 1], xticklabels=LABELS, yticklabels=LABELS)
    ax.set(xlabel="predicted", ylabel="true", title="Confusion matrix (test)")
    return _save(fig, path)


def plot_robustness(report: dict[str, Any], path: Path) -> Path:
    """Accuracy per tier (clean, web, hard) and per size bucket at JPEG >= 70, as bars."""
    fig = Figure(figsize=(8, 3.6))
    left, right = fig.subplots(1, 2, sharey=True)
    for ax, groups, title in (
        (left, report["tiers"], "tiers"),
        (right, report["size_at_jpeg_70_or_better"], "size buckets, JPEG >= 70"),
    ):
        names = list(groups)
        values = [groups[name]["accuracy"] for name in names]
        bars = ax.bar(names, values, color="#4575b4")
        for bar, name in zip(bars, names, strict=True):
            ax.annotate(
                f"{groups[name]['accuracy']:.3f}\nn={groups[name]['n']}",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=7,
            )
        ax.set(ylim=(0, 1.15), title=title)
    left.set_ylabel("accuracy (held-out test images)")
    return _save(fig, path)
