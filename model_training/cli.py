"""Config-driven training CLI: `python -m model_training.cli fit --config configs/demo.yaml`.

LightningCLI (jsonargparse) makes every field overridable (`--trainer.max_epochs=3`) and
lists them all in `--help`. Extra switches for `fit`: `--resume REF` (local checkpoint or
W&B artifact, continuing the same W&B run), `--stop_at_epoch N` (end this session early,
schedule unchanged, for notebooks that end sessions), `--memorize` and `--profile`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from jsonargparse import ActionYesNo, Namespace
from jsonargparse.typing import PositiveInt
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint, RichProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.profilers import PyTorchProfiler
from lightning.pytorch.utilities import rank_zero_info

from model_training.checkpoints import read_metadata, resolve_checkpoint
from model_training.lit_module import AiOrNotModule
from model_training.tracking import (
    WandbSaveConfig,
    ensure_wandb_mode,
    run_id_from_path,
    wandb_run,
)
from model_training.troubleshoot import FixedBatchDataModule, MemorizationCheck, report_profile

SWITCHES = ("resume", "memorize", "profile")


class AiOrNotCLI(LightningCLI):
    """LightningCLI plus the project's callbacks, W&B mode choice and troubleshooting switches."""

    def __init__(self, datamodule_class: type[pl.LightningDataModule] | None = None, **kwargs: Any):
        if datamodule_class is None:
            from model_training.data import AiOrNotDataModule

            datamodule_class = AiOrNotDataModule
        kwargs.setdefault("save_config_callback", WandbSaveConfig)
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})
        kwargs.setdefault("seed_everything_default", 0)
        self.memorization: MemorizationCheck | None = None
        self._profile_started = 0.0
        super().__init__(AiOrNotModule, datamodule_class, auto_configure_optimizers=False, **kwargs)

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # Two checkpoint callbacks: the best by validation log loss, and `last.ckpt` every
        # epoch (Lightning's save_last only refreshes it when a new best is saved).
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults(
            {
                "checkpoint.dirpath": "artifacts/checkpoints",
                "checkpoint.filename": "best-epoch={epoch:02d}-val_log_loss={val/log_loss:.4f}",
                "checkpoint.auto_insert_metric_name": False,
                "checkpoint.monitor": "val/log_loss",
                "checkpoint.mode": "min",
            }
        )
        parser.add_lightning_class_args(ModelCheckpoint, "last_checkpoint")
        parser.set_defaults(
            {
                "last_checkpoint.filename": "last",
                "last_checkpoint.monitor": None,
                "last_checkpoint.enable_version_counter": False,
            }
        )
        parser.link_arguments("checkpoint.dirpath", "last_checkpoint.dirpath")
        parser.add_lightning_class_args(LearningRateMonitor, "lr_monitor")
        parser.set_defaults({"lr_monitor.logging_interval": "step"})
        parser.add_lightning_class_args(RichProgressBar, "progress_bar")
        parser.add_argument(
            "--torch_threads",
            type=int | None,
            default=None,
            help="PyTorch intra-op CPU threads (torch.set_num_threads); null = one per core",
        )
        parser.add_argument(
            "--resume",
            type=str | None,
            default=None,
            help="fit: continue from a checkpoint path or "
            "wandb-artifact://ENTITY/PROJECT/NAME:VERSION, in the same W&B run",
        )
        parser.add_argument(
            "--stop_at_epoch",
            type=PositiveInt | None,
            default=None,
            help="fit: end this session after epoch N with the schedule left as configured, so "
            "--resume continues as if it never stopped (notebooks that end sessions)",
        )
        parser.add_argument(
            "--memorize",
            action=ActionYesNo,
            default=False,
            help="fit: train on one fixed batch; exit 1 unless loss < memorize_threshold in time",
        )
        parser.add_argument("--memorize_steps", type=int, default=300, help="bound on steps")
        parser.add_argument("--memorize_threshold", type=float, default=0.05)
        parser.add_argument(
            "--profile",
            action=ActionYesNo,
            default=False,
            help="fit: profile a few training steps, write a Chrome trace, print top operators",
        )
        parser.add_argument("--profile_steps", type=int, default=5, help="steps recorded")
        parser.add_argument("--profile_dir", type=str, default="artifacts/profile")

    def before_instantiate_classes(self) -> None:
        ensure_wandb_mode()
        config = self.config[self.subcommand]
        if config.get("torch_threads"):
            torch.set_num_threads(config.torch_threads)
        used = [name for name in SWITCHES if config.get(name)]
        if config.get("stop_at_epoch") and self.subcommand != "fit":
            self.parser.error("--stop_at_epoch only applies to `fit`")
        if used and self.subcommand != "fit":
            self.parser.error(f"--{used[0]} only applies to `fit`")
        if len(used) > 1:
            self.parser.error(f"use one of --{', --'.join(used)} at a time")
        if config.get("resume"):
            self._prepare_resume(config)
        if config.get("memorize"):
            _prepare_short_run(config, config.memorize_steps)
        elif config.get("profile"):
            _prepare_short_run(config, config.profile_steps + 2)  # + wait and warmup steps

    def _prepare_resume(self, config: Namespace) -> None:
        """Point `ckpt_path` at the checkpoint and the W&B logger at the run it came from."""
        if config.get("ckpt_path"):
            self.parser.error("give either --resume or --ckpt_path, not both")
        path = resolve_checkpoint(config.resume)
        config.ckpt_path = str(path)
        run_path = read_metadata(path).get("wandb_run")
        rank_zero_info(f"Resuming from {path} (W&B run: {run_path or 'none'})")
        if run_path:
            loggers = config.trainer.get("logger")
            for logger in loggers if isinstance(loggers, list) else [loggers]:
                if isinstance(logger, Namespace) and logger.class_path.endswith("WandbLogger"):
                    logger.init_args.id = run_id_from_path(run_path)
                    logger.init_args.version = None

    def instantiate_trainer(self, **kwargs: Any) -> pl.Trainer:
        config = self.config[self.subcommand] if self.subcommand else self.config
        extra: list[pl.Callback] = []
        if config.get("stop_at_epoch"):
            extra.append(StopAtEpoch(config.stop_at_epoch))
        if config.get("memorize"):
            self.memorization = MemorizationCheck(config.memorize_threshold)
            extra.append(self.memorization)
        elif config.get("profile"):
            kwargs["profiler"] = PyTorchProfiler(
                dirpath=config.profile_dir,
                filename="profile",
                export_to_chrome=True,
                row_limit=30,
                sort_by_key="cpu_time_total",  # the saved table; the printed one is by self time
                schedule=torch.profiler.schedule(
                    wait=1, warmup=1, active=config.profile_steps, repeat=1
                ),
            )
        if extra:
            configured = self._get(self.config_init, "trainer").get("callbacks") or []
            configured = configured if isinstance(configured, list) else [configured]
            kwargs["callbacks"] = [*configured, *extra]
        return super().instantiate_trainer(**kwargs)

    def after_instantiate_classes(self) -> None:
        self.model.run_config = getattr(self, "config_dump", None)

    def before_fit(self) -> None:
        config = self.config.fit
        if config.memorize:
            self.datamodule = FixedBatchDataModule.from_datamodule(
                self.datamodule, config.memorize_steps
            )
        self._profile_started = time.time()

    def after_fit(self) -> None:
        config = self.config.fit
        if self.memorization is not None and self.trainer.is_global_zero:
            print(self.memorization.report(), flush=True)
            if self.memorization.reached_at is None:
                raise SystemExit(1)
        if config.profile and self.trainer.is_global_zero:
            events = getattr(self.trainer.profiler, "function_events", None)
            report_profile(
                Path(config.profile_dir), self._profile_started, wandb_run(self.trainer), events
            )


class StopAtEpoch(pl.Callback):
    """Ends fit after epoch `epoch` (1-based), its checkpoints written; `max_epochs`, and so
    the LR schedule, stay as configured, unlike stopping with a smaller `max_epochs`."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch + 1 >= self.epoch:
            rank_zero_info(f"Stopping after epoch {self.epoch} (--stop_at_epoch); --resume goes on")
            trainer.should_stop = True


def _prepare_short_run(config: Namespace, steps: int) -> None:
    """A few training steps only: no validation, no checkpoints written or uploaded."""
    trainer = config.trainer
    trainer.max_steps = steps
    trainer.max_epochs = -1
    trainer.limit_train_batches = None
    trainer.val_check_interval = None
    trainer.limit_val_batches = 0
    trainer.num_sanity_val_steps = 0
    trainer.fast_dev_run = False
    config.checkpoint.save_top_k = 0
    config.checkpoint.save_last = False
    config.last_checkpoint.save_top_k = 0


def main(args: list[str] | None = None) -> None:
    """Run the CLI, then close the W&B run so offline files are complete."""
    try:
        AiOrNotCLI(args=args)
    finally:
        import wandb

        if wandb.run is not None:
            wandb.finish()


if __name__ == "__main__":
    main()
