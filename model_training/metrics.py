"""Classification metrics shared by training (per split) and evaluation: one definition each."""

from __future__ import annotations

import torch
from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import (
    BinaryAccuracy,
    BinaryAUROC,
    BinaryCalibrationError,
    BinaryF1Score,
)

# Probabilities are clipped like the aiornot competition's scorer (sklearn's log_loss),
# so one over-confident mistake costs a large but finite amount.
LOG_LOSS_EPS = 1e-15
CALIBRATION_BINS = 15


class BinaryLogLoss(Metric):
    """Mean binary cross-entropy of probabilities: the aiornot competition metric."""

    is_differentiable = False
    higher_is_better = False
    full_state_update = False

    def __init__(self, eps: float = LOG_LOSS_EPS) -> None:
        super().__init__()
        self.eps = eps
        self.add_state(
            "total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum"
        )
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        probs = preds.detach().to(torch.float64).clamp(self.eps, 1 - self.eps)
        target = target.to(torch.float64)
        losses = -(target * probs.log() + (1 - target) * (1 - probs).log())
        self.total += losses.sum()
        self.count += losses.numel()

    def compute(self) -> torch.Tensor:
        return (self.total / self.count.clamp(min=1)).to(torch.float32)


def classification_metrics(prefix: str) -> MetricCollection:
    """Accuracy, AUROC, F1, log loss and calibration error under keys like `val/auroc`."""
    return MetricCollection(
        {
            "accuracy": BinaryAccuracy(),
            "auroc": BinaryAUROC(),
            "f1": BinaryF1Score(),
            "log_loss": BinaryLogLoss(),
            "ece": BinaryCalibrationError(n_bins=CALIBRATION_BINS, norm="l1"),
        },
        prefix=prefix,
    )
