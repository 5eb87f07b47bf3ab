"""Evaluate rebuilds the held-out split from a checkpoint alone and writes metrics and plots."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import wandb
from PIL import Image

from model_training.checkpoints import load_checkpoint
from model_training.cli import main as train
from model_training.evaluate import datamodule_from_metadata, evaluate
from model_training.evaluate import main as evaluate_cli

REPO = Path(__file__).resolve().parents[2]
METRIC_KEYS = {"accuracy", "auroc", "log_loss", "ece", "f1", "confusion_matrix", "n"}
PLOTS = ("roc.png", "reliability.png", "confusion_matrix.png")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A demo model trained for a few steps (quality is not the point here)."""
    out = tmp_path_factory.mktemp("evaluate-train")
    demo_root = tmp_path_factory.getbasetemp() / "demo-data"
    threads = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WANDB_MODE", "disabled")
        train(
            [
                "fit",
                f"--config={REPO / 'configs' / 'demo.yaml'}",
                f"--data.path={demo_root}",
                "--data.image_size=32",
                "--data.demo_samples_per_photo=4",
                "--data.batch_size=16",
                "--data.num_workers=0",
                "--trainer.max_epochs=1",
                "--trainer.limit_train_batches=4",
                f"--trainer.default_root_dir={out}",
                f"--trainer.logger.init_args.save_dir={out}",
                f"--checkpoint.dirpath={out / 'checkpoints'}",
            ]
        )
    torch.use_deterministic_algorithms(False)  # set globally by Trainer(deterministic=True)
    torch.set_num_threads(threads)  # and by the demo config's torch_threads
    yield out / "checkpoints" / "last.ckpt"


def test_evaluate_writes_metrics_for_both_held_out_splits_and_three_plots(
    checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_MODE", "disabled")
    evaluate_cli(checkpoint=str(checkpoint), out=tmp_path)

    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert set(metrics) == {"val", "test"}
    _, meta = load_checkpoint(checkpoint)
    datamodule = datamodule_from_metadata(meta)
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


def test_evaluate_logs_metrics_and_plots_as_images_into_an_active_wandb_run(
    checkpoint: Path, tmp_path: Path, offline_wandb: Path
) -> None:
    module, meta = load_checkpoint(checkpoint)
    run = wandb.init(project="aiornot", dir=str(tmp_path))
    try:
        metrics = evaluate(module, datamodule_from_metadata(meta), tmp_path / "eval")
        summary_accuracy = run.summary["eval/test/accuracy"]
    finally:
        run.finish()
    assert summary_accuracy == pytest.approx(metrics["test"]["accuracy"])
    images = list(Path(run.dir).glob("media/images/eval/*.png"))
    assert {p.name.split("_")[0] for p in images} == {"roc", "reliability", "confusion"}
