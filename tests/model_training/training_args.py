"""Command lines for training tests: the demo config shrunk to seconds."""

from __future__ import annotations

from pathlib import Path

DEMO_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "demo.yaml"


def tiny_fit_args(out: Path, demo_root: Path, *extra: str) -> list[str]:
    """`fit` on 32 px demo images, 4 crops per photo, every output under `out`."""
    return [
        "fit",
        f"--config={DEMO_CONFIG}",
        f"--data.dataset.path={demo_root}",
        "--data.crop_size=32",
        "--data.dataset.demo_max_side=128",
        "--data.dataset.demo_samples_per_photo=4",
        "--data.pixel_cache=null",
        "--trainer.check_val_every_n_epoch=1",
        "--data.batch_size=16",
        "--data.num_workers=0",
        f"--trainer.default_root_dir={out}",
        f"--trainer.logger.init_args.save_dir={out}",
        f"--checkpoint.dirpath={out / 'checkpoints'}",
        *extra,
    ]
