"""The LightningModule: loss, metrics per split, optimiser and schedule around a plain ResNet."""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import lightning.pytorch as pl
import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

from model_training.data.dataset import Batch, image_logits
from model_training.metrics import classification_metrics
from model_training.models import PRESETS, ResNet, ResNetConfig
from model_training.tracking import wandb_run_path

DATASET_KEYS = ("source", "path", "seed", "val_fraction", "test_fraction")  # for lineage


def warmup_cosine(step: int, *, warmup_steps: int, total_steps: int, min_ratio: float) -> float:
    """LR multiplier: linear warmup from ~0 to 1, then cosine decay to `min_ratio`."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class AiOrNotModule(pl.LightningModule):
    """Binary AI-vs-real classifier; label 1 = AI, the logit's sigmoid is the AI probability."""

    def __init__(
        self,
        net: ResNetConfig = PRESETS["tiny"],
        lr: float = 3e-3,
        weight_decay: float = 0.05,
        betas: tuple[float, float] = (0.9, 0.999),
        warmup_fraction: float = 0.05,
        min_lr_ratio: float = 0.01,
        channels_last: bool = True,
    ) -> None:
        """The network comes in as one typed config, saved with plain types, so
        `load_from_checkpoint` rebuilds it from the checkpoint alone.

        Args:
            net: the network's shape (`ResNetConfig`, whose fields are `model.net.*`);
                the default is the tiny preset
            lr: peak AdamW learning rate
            weight_decay: AdamW decoupled weight decay (not applied to norms and biases)
            betas: AdamW betas
            warmup_fraction: share of all optimizer steps spent warming up linearly
            min_lr_ratio: final learning rate as a fraction of `lr` after cosine decay
            channels_last: NHWC memory format; applied only on CUDA, where it is faster
        """
        super().__init__()
        self.net_config = net if isinstance(net, ResNetConfig) else ResNetConfig(**net)
        # Plain types only, so a checkpoint loads with weights_only=True.
        self.save_hyperparameters(
            {
                "net": self.net_config.to_dict(),
                "lr": lr,
                "weight_decay": weight_decay,
                "betas": tuple(betas),
                "warmup_fraction": warmup_fraction,
                "min_lr_ratio": min_lr_ratio,
                "channels_last": channels_last,
            }
        )
        self.net = ResNet(self.net_config)
        self.loss_fn = nn.BCEWithLogitsLoss()
        self.train_metrics = classification_metrics("train/")
        self.val_metrics = classification_metrics("val/")
        self.test_metrics = classification_metrics("test/")
        self.run_config: dict[str, Any] | None = None  # the CLI's full config, for checkpoints
        self._channels_last = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) crops -> crop logits (N,)."""
        return self.net(x)

    def setup(self, stage: str) -> None:
        if self.hparams.channels_last and self.trainer.strategy.root_device.type == "cuda":
            self.net.to(memory_format=torch.channels_last)  # strides survive the move to GPU
            self._channels_last = True

    def model_step(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The one step all splits share: loss, AI probabilities, integer targets (per image)."""
        x, y, owner = batch  # (N, 3, S, S) crops, (B,) of 0./1., (N,) image of each crop
        if self._channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        logits = image_logits(self(x).float(), owner, len(y))  # (B,); float32 under AMP
        loss = self.loss_fn(logits, y.float())
        return loss, torch.sigmoid(logits.detach()), y.long()

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor | None:
        if batch[1].numel() == 0:  # every image of the batch was corrupt and dropped
            return None  # Lightning skips the optimizer step
        loss, probs, targets = self.model_step(batch)
        self.train_metrics.update(probs, targets)
        self.log("train/loss", loss, on_step=True, on_epoch=False, prog_bar=True)
        self.log_dict(self.train_metrics, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._eval_step(batch, self.val_metrics, "val")

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._eval_step(batch, self.test_metrics, "test")

    def _eval_step(self, batch: Batch, metrics: Any, split: str) -> None:
        if batch[1].numel() == 0:
            return
        loss, probs, targets = self.model_step(batch)
        metrics.update(probs, targets)
        self.log(f"{split}/loss", loss, batch_size=len(targets), sync_dist=True)
        self.log_dict(metrics, on_step=False, on_epoch=True, prog_bar=split == "val")

    def configure_optimizers(self) -> dict[str, Any]:
        """AdamW (no decay on norms and biases), per-step linear warmup then cosine decay."""
        hp = self.hparams
        decay = [p for p in self.parameters() if p.ndim > 1]
        no_decay = [p for p in self.parameters() if p.ndim <= 1]
        optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": hp.weight_decay}, {"params": no_decay}],
            lr=hp.lr,
            betas=tuple(hp.betas),
            weight_decay=0.0,
        )
        total = max(1, int(self.trainer.estimated_stepping_batches))
        schedule = partial(
            warmup_cosine,
            warmup_steps=max(1, round(total * hp.warmup_fraction)),
            total_steps=total,
            min_ratio=hp.min_lr_ratio,
        )
        scheduler = LambdaLR(optimizer, schedule)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Everything export and evaluate need to rebuild data and preprocessing from one file."""
        checkpoint["aiornot"] = checkpoint_metadata(self)


def checkpoint_metadata(module: AiOrNotModule) -> dict[str, Any]:
    """The `aiornot` block of a checkpoint (see the agreed interface); plain types only."""
    trainer = module._trainer
    datamodule = getattr(trainer, "datamodule", None) if trainer is not None else None
    spec = getattr(datamodule, "input_spec", None)
    config = getattr(datamodule, "config", None)  # the DataModule's DataConfig
    dataset: dict[str, Any] = {"id": getattr(datamodule, "dataset_id", None)}
    for key in DATASET_KEYS:
        value = getattr(config, key, None)
        dataset[key] = str(value) if value is not None and key == "path" else value
    dataset["crop_size"] = spec.crop_size if spec is not None else None
    dataset["max_grid"] = spec.max_grid if spec is not None else None
    return {
        "input_spec": spec.to_dict() if spec is not None else None,
        "dataset": dataset,
        "wandb_run": wandb_run_path(trainer) if trainer is not None else None,
        "config": module.run_config,
    }
