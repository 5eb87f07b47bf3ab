"""Multi-process training is configuration only: a real 2-process DDP run on CPU (gloo)."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from model_training.data import AiOrNotDataModule
from model_training.data.config import DataConfig

REPO = Path(__file__).resolve().parents[2]
DATASET = {"demo_max_side": 128, "demo_samples_per_photo": 4}
DATA = {"crop_size": 32, "batch_size": 16, "num_workers": 0, "pixel_cache": None}


def test_two_process_ddp_run_shards_the_data_and_writes_a_checkpoint(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    demo_root = tmp_path_factory.getbasetemp() / "demo-data"  # the session's shared demo cache
    dataset = DataConfig(source="demo", path=str(demo_root), **DATASET)
    datamodule = AiOrNotDataModule(dataset, **DATA)  # builds it once
    n_train = len(datamodule.split_records("train"))
    args = [f"--data.dataset.{key}={value}" for key, value in DATASET.items()]
    args += [f"--data.{key}={'null' if value is None else value}" for key, value in DATA.items()]
    command = [
        sys.executable, "-m", "model_training.cli", "fit",
        f"--config={REPO / 'configs' / 'demo.yaml'}",
        f"--data.dataset.path={demo_root}", *args,
        "--trainer.accelerator=cpu", "--trainer.devices=2", "--trainer.strategy=ddp",
        "--trainer.max_epochs=1", "--trainer.limit_val_batches=1",
        "--trainer.check_val_every_n_epoch=1",
        f"--trainer.default_root_dir={tmp_path}",
        f"--trainer.logger.init_args.save_dir={tmp_path}",
        f"--checkpoint.dirpath={tmp_path / 'checkpoints'}",
    ]  # fmt: skip
    env = {**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=420)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    ranks = set(re.findall(r"GLOBAL_RANK: (\d), MEMBER: \d/2", output))
    assert ranks == {"0", "1"}, output[-4000:]

    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    per_rank_batches = math.ceil(math.ceil(n_train / 2) / DATA["batch_size"])
    assert checkpoint["global_step"] == per_rank_batches  # each rank saw half of the data
    assert per_rank_batches < math.ceil(n_train / DATA["batch_size"])
