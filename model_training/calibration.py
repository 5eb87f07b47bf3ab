"""Temperature scaling, a decision threshold, and the metrics that justify both.

Fitted on the validation split only; the test split then measures the result.
The metrics are the training metrics' own definitions (`model_training.metrics`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from scipy.special import expit, log_expit
from torchmetrics.functional.classification import (
    binary_accuracy,
    binary_auroc,
    binary_calibration_error,
    binary_confusion_matrix,
    binary_f1_score,
)

from model_training.metrics import CALIBRATION_BINS, BinaryLogLoss

THRESHOLD_RULE = "youden_j"  # maximise TPR - FPR (balanced accuracy) on validation
LOG_TEMPERATURE_BOUNDS = (-4.0, 4.0)  # T in [0.018, 54.6]


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean binary log loss of sigmoid(logit / T), computed stably in log space."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    y = np.asarray(labels, dtype=np.float64)
    return float(-np.mean(y * log_expit(z) + (1 - y) * log_expit(-z)))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature minimising validation log loss (1.0 when one class is missing)."""
    if len(np.unique(labels)) < 2:
        return 1.0
    result = minimize_scalar(
        lambda log_t: nll(logits, labels, float(np.exp(log_t))),
        bounds=LOG_TEMPERATURE_BOUNDS,
        method="bounded",
        options={"xatol": 1e-6},
    )
    return float(np.exp(result.x))


def calibrated_probs(logits: np.ndarray, temperature: float) -> np.ndarray:
    return expit(np.asarray(logits, dtype=np.float64) / temperature)


def choose_threshold(probs: np.ndarray, labels: np.ndarray) -> float:
    """Youden's J on validation: the cut (predict AI when p >= t) best separating the classes.

    Ties go to the cut nearest 0.5; cuts sit midway between neighbouring probabilities.
    """
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels).astype(int)
    positives, negatives = labels.sum(), (1 - labels).sum()
    if positives == 0 or negatives == 0:
        return 0.5
    unique = np.unique(probs)
    candidates = np.concatenate([[0.0], (unique[:-1] + unique[1:]) / 2, [1.0]])
    tpr = np.array([(probs[labels == 1] >= t).mean() for t in candidates])
    fpr = np.array([(probs[labels == 0] >= t).mean() for t in candidates])
    j = tpr - fpr
    best = np.flatnonzero(np.isclose(j, j.max()))
    return float(candidates[best[np.argmin(np.abs(candidates[best] - 0.5))]])


def binary_metrics(probs: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, Any]:
    """Accuracy and F1 at the threshold, AUROC, log loss, ECE, confusion matrix, n."""
    p = torch.as_tensor(np.asarray(probs, dtype=np.float32))
    y = torch.as_tensor(np.asarray(labels)).long()
    log_loss = BinaryLogLoss()
    log_loss.update(p, y)
    both_classes = len(torch.unique(y)) == 2
    return {
        "accuracy": float(binary_accuracy(p, y, threshold=threshold)),
        "auroc": float(binary_auroc(p, y)) if both_classes else None,
        "f1": float(binary_f1_score(p, y, threshold=threshold)),
        "log_loss": float(log_loss.compute()),
        "ece": float(binary_calibration_error(p, y, n_bins=CALIBRATION_BINS, norm="l1")),
        "confusion_matrix": binary_confusion_matrix(p, y, threshold=threshold).tolist(),
        "n": int(y.numel()),
    }


def calibrate(val_logits: np.ndarray, val_labels: np.ndarray) -> dict[str, Any]:
    """Fit T and the threshold on validation; report ECE and log loss before and after."""
    temperature = fit_temperature(val_logits, val_labels)
    before = calibrated_probs(val_logits, 1.0)
    after = calibrated_probs(val_logits, temperature)
    threshold = choose_threshold(after, val_labels)
    ece = {
        name: float(
            binary_calibration_error(
                torch.as_tensor(p, dtype=torch.float32),
                torch.as_tensor(val_labels).long(),
                n_bins=CALIBRATION_BINS,
                norm="l1",
            )
        )
        for name, p in (("before", before), ("after", after))
    }
    return {
        "temperature": temperature,
        "ece_before": ece["before"],
        "ece_after": ece["after"],
        "log_loss_before": nll(val_logits, val_labels, 1.0),
        "log_loss_after": nll(val_logits, val_labels, temperature),
        "method": "temperature scaling, minimising validation log loss",
        "fitted_on": "val",
        "n": len(val_labels),
        "threshold": threshold,
        "threshold_rule": THRESHOLD_RULE,
    }
