"""Training faults through the real CLI: SIGKILL mid-epoch, and files going bad mid-epoch."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
INTERVAL = 3  # checkpoint interval, in training steps
STEPS_PER_EPOCH = 6
EPOCHS = 2

pytestmark = pytest.mark.slow


def write_folder_dataset(root: Path, per_class: int = 24) -> list[Path]:
    """A folder source (real/, ai/) of small JPEGs; returns the files."""
    files = []
    for label, name in enumerate(("real", "ai")):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            rng = np.random.default_rng(label * 1000 + i)
            pixels = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
            pixels[..., label] //= 2  # a learnable hint
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, format="JPEG", quality=85)
            path = root / name / f"{name}-{i:03d}.jpg"
            path.write_bytes(buffer.getvalue())
            files.append(path)
    return files


def fit_command(data: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "model_training.cli", "fit",
        f"--config={REPO / 'configs' / 'demo.yaml'}",
        "--data.dataset.source=folder", f"--data.dataset.path={data}",
        "--data.crop_size=32", "--data.batch_size=4", "--data.num_workers=0",
        "--data.pixel_cache=null", "--trainer.check_val_every_n_epoch=1",
        "--trainer.logger=lightning.pytorch.loggers.CSVLogger",
        f"--trainer.logger.save_dir={out}",
        f"--trainer.max_epochs={EPOCHS}",
        f"--trainer.limit_train_batches={STEPS_PER_EPOCH}", "--trainer.limit_val_batches=1",
        f"--trainer.default_root_dir={out}", f"--checkpoint.dirpath={out / 'checkpoints'}",
        *extra,
    ]  # fmt: skip


def run_env() -> dict[str, str]:
    return {**os.environ, "WANDB_MODE": "disabled", "PYTHONPATH": str(REPO)}


def global_step(path: Path) -> int:
    return int(torch.load(path, map_location="cpu", weights_only=False)["global_step"])


@dataclass
class Scenario:
    """One interrupted run, resumed while a third of its images go bad."""

    files: list[Path]
    checkpoints: Path
    killed_at_step: int
    saved_step: int
    resumed: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """SIGKILL a real `cli fit` mid-epoch; resume it with files turning bad at once.

    Two processes instead of three: the resumed run is also the corrupt-data run.
    """
    tmp_path = tmp_path_factory.mktemp("training-faults")
    files = write_folder_dataset(tmp_path / "data")
    out = tmp_path / "run"
    ckpts = out / "checkpoints"
    command = fit_command(
        tmp_path / "data",
        out,
        f"--last_checkpoint.every_n_train_steps={INTERVAL}",
        # a marker per step (kept out of resume): how far training really got before the kill
        "--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint",
        f"--trainer.callbacks.dirpath={out / 'progress'}",
        "--trainer.callbacks.every_n_train_steps=1",
        "--trainer.callbacks.save_top_k=-1",
        "--trainer.callbacks.filename={step}",  # -> step=N.ckpt
        "--trainer.callbacks.save_weights_only=true",
    )
    kill_after = INTERVAL + 2  # step 5 of a 6-step epoch: mid-epoch, past one checkpoint
    killer = {
        "class_path": "tests.hardening.training_callbacks.KillAtStep",
        "init_args": {"step": kill_after},
    }
    killed = subprocess.run(
        [*command, f"--trainer.callbacks+={json.dumps(killer)}"], cwd=REPO, env=run_env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=240, check=False,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, "training was not killed at the kill point"
    reached = max(int(p.stem.split("=")[1].split("-")[0]) for p in (out / "progress").iterdir())
    saved = global_step(ckpts / "last.ckpt")  # loads: never a half-written checkpoint

    victims = tmp_path / "victims.txt"
    victims.write_text("\n".join(str(p) for p in files[::3]))  # a third of all files
    corrupt = {
        "class_path": "tests.hardening.training_callbacks.CorruptFilesAtStep",
        "init_args": {"victims": str(victims), "step": 0},
    }
    resumed = subprocess.run(
        fit_command(tmp_path / "data", out, f"--resume={ckpts / 'last.ckpt'}",
                    f"--last_checkpoint.every_n_train_steps={INTERVAL}",
                    f"--trainer.callbacks+={json.dumps(corrupt)}"),
        cwd=REPO, env=run_env(), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    return Scenario(files, ckpts, reached, saved, resumed)


def test_a_run_killed_mid_epoch_loses_less_than_one_checkpoint_interval(
    scenario: Scenario,
) -> None:
    print(json.dumps({"killed_at": scenario.killed_at_step, "saved": scenario.saved_step}))
    assert scenario.killed_at_step < STEPS_PER_EPOCH  # the kill did land mid-epoch
    assert scenario.saved_step > 0 and scenario.saved_step % INTERVAL == 0
    assert scenario.killed_at_step - scenario.saved_step < INTERVAL  # less than one interval


def test_the_killed_run_resumes_from_its_last_checkpoint_and_finishes(scenario: Scenario) -> None:
    log = scenario.resumed.stdout + scenario.resumed.stderr
    assert scenario.resumed.returncode == 0, log[-4000:]
    assert f"Resuming from {scenario.checkpoints / 'last.ckpt'}" in log
    assert global_step(scenario.checkpoints / "last.ckpt") == EPOCHS * STEPS_PER_EPOCH


def test_images_that_go_bad_mid_epoch_are_skipped_by_name_without_a_crash(
    scenario: Scenario,
) -> None:
    log = scenario.resumed.stdout + scenario.resumed.stderr
    assert scenario.resumed.returncode == 0, log[-4000:]
    named = [p.stem for p in scenario.files[::3] if p.stem in log]
    assert named, log[-4000:]
