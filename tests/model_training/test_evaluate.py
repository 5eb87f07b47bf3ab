"""Evaluate rebuilds the held-out split from a checkpoint alone and writes metrics and plots."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import wandb
from PIL import Image

from lambda_fn.stem import prepare
from model_training.checkpoints import load_checkpoint, load_datamodule
from model_training.cli import main as train
from model_training.evaluate import evaluate
from model_training.evaluate import main as evaluate_cli
from tests.model_training.training_args import tiny_fit_args

REPO = Path(__file__).resolve().parents[2]
METRIC_KEYS = {"accuracy", "auroc", "log_loss", "ece", "f1", "confusion_matrix", "n"}
PLOTS = ("roc.png", "reliability.png", "confusion_matrix.png", "robustness.png")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A demo model trained for a few steps (quality is not the point here)."""
    out = tmp_path_factory.mktemp("evaluate-train")
    demo_root = tmp_path_factory.getbasetemp() / "demo-data"
    threads = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WANDB_MODE", "disabled")
        train(
            tiny_fit_args(
                out, demo_root, "--trainer.max_epochs=1", "--trainer.limit_train_batches=4"
            )
        )
    torch.use_deterministic_algorithms(False)  # set globally by Trainer(deterministic=True)
    torch.set_num_threads(threads)  # and by the demo config's torch_threads
    yield out / "checkpoints" / "last.ckpt"


def test_the_training_runs_datamodule_is_restored_from_the_checkpoint(checkpoint: Path) -> None:
    """Lightning's own restore: the same data, split and crop as in training, new loaders."""
    _, meta = load_checkpoint(checkpoint)
    datamodule = load_datamodule(checkpoint, batch_size=7, num_workers=0)
    assert datamodule.dataset_id == meta["dataset"]["id"]
    assert datamodule.dataset_id.startswith("demo:") and "per_photo=4" in datamodule.dataset_id
    assert datamodule.input_spec.to_dict() == meta["input_spec"]
    assert (datamodule.batch_size, datamodule.num_workers) == (7, 0)


def test_evaluate_writes_metrics_for_both_held_out_splits_and_four_plots(
    checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_MODE", "disabled")
    evaluate_cli(checkpoint=str(checkpoint), out=tmp_path)

    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert set(metrics) == {"val", "test", "calibration", "robustness"}
    datamodule = load_datamodule(checkpoint)
    for split in ("val", "test"):
        values = metrics[split]
        assert set(values) == METRIC_KEYS
        assert values["n"] == len(datamodule.split_records(split))  # the checkpoint's own split
        assert sum(map(sum, values["confusion_matrix"])) == values["n"]
        for key in ("accuracy", "auroc", "f1", "ece"):
            assert 0.0 <= values[key] <= 1.0
        assert values["log_loss"] > 0
    for name in PLOTS:
        with Image.open(tmp_path / name) as image:
            assert image.format == "PNG" and image.width > 200


def test_evaluate_scores_calibrated_probabilities_of_the_served_rule(
    checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recompute test accuracy and log loss independently: the stem's grid, the mean crop
    logit, sigmoid(logit / T) against the threshold. Logits in place of probabilities, or
    another aggregation, would not match."""
    monkeypatch.setenv("WANDB_MODE", "disabled")
    module, _ = load_checkpoint(checkpoint)
    datamodule = load_datamodule(checkpoint)
    metrics = evaluate(module, datamodule, tmp_path)
    temperature = metrics["calibration"]["temperature"]
    threshold = metrics["calibration"]["threshold"]
    probs, labels = [], []
    with torch.no_grad():
        for record in datamodule.split_records("test"):
            crops = torch.from_numpy(prepare(record.read_bytes(), datamodule.input_spec).crops)
            probs.append(float(torch.sigmoid(module.net(crops).mean() / temperature)))
            labels.append(record.label)
    p, y = np.array(probs), np.array(labels)
    assert metrics["test"]["accuracy"] == pytest.approx(float(((p >= threshold) == y).mean()))
    eps = 1e-15
    log_loss = -np.mean(y * np.log(np.clip(p, eps, 1)) + (1 - y) * np.log(np.clip(1 - p, eps, 1)))
    assert metrics["test"]["log_loss"] == pytest.approx(log_loss, rel=1e-4)
    clean = metrics["robustness"]["tiers"]["clean"]
    assert clean["accuracy"] == pytest.approx(metrics["test"]["accuracy"])
    assert clean["n"] == len(labels)


def test_evaluate_logs_metrics_and_plots_as_images_into_an_active_wandb_run(
    checkpoint: Path, tmp_path: Path, offline_wandb: Path
) -> None:
    module, _ = load_checkpoint(checkpoint)
    run = wandb.init(project="aiornot", dir=str(tmp_path))
    try:
        metrics = evaluate(module, load_datamodule(checkpoint), tmp_path / "eval")
        summary_accuracy = run.summary["eval/test/accuracy"]
    finally:
        run.finish()
    assert summary_accuracy == pytest.approx(metrics["test"]["accuracy"])
    images = list(Path(run.dir).glob("media/images/eval/*.png"))
    assert {p.name.split("_")[0] for p in images} == {
        "roc",
        "reliability",
        "confusion",
        "robustness",
    }


EVALUATE_DIES_WRITING_METRICS = """
import os, signal, sys
from pathlib import Path
from model_training.evaluate import main
write_text = Path.write_text
def torn(self, data, *args, **kwargs):
    if "metrics.json" in self.name:
        write_text(self, data[: len(data) // 2], *args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)
    return write_text(self, data, *args, **kwargs)
Path.write_text = torn
main(checkpoint=sys.argv[1], out=Path(sys.argv[2]), wandb_log=False)
"""


def test_an_evaluation_killed_while_writing_metrics_leaves_the_previous_file_whole(
    checkpoint: Path, tmp_path: Path
) -> None:
    """The export reads metrics.json into the model card: a torn one must never replace it."""
    previous = '{"test": {"accuracy": 0.5}}\n'
    (tmp_path / "metrics.json").write_text(previous)
    child = subprocess.run(
        [sys.executable, "-c", EVALUATE_DIES_WRITING_METRICS, str(checkpoint), str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert child.returncode == -9, child.stderr
    assert (tmp_path / "metrics.json").read_text() == previous
