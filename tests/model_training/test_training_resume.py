"""Resume is exact, and continues the same W&B run, from a local file or a W&B artifact."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch
import wandb

from model_training.cli import AiOrNotCLI, main
from tests.model_training.training_args import tiny_fit_args
from tests.model_training.wandb_records import artifacts


def two_epoch_args(out: Path, demo_root: Path, *extra: str) -> list[str]:
    """Two short epochs of the demo config on CPU, deterministic, outputs under `out`."""
    short = ["--trainer.max_epochs=2", "--trainer.limit_train_batches=3"]
    return tiny_fit_args(out, demo_root, *short, "--trainer.limit_val_batches=2", *extra)


class DisconnectAfterFirstEpoch(pl.Callback):
    """Dies the way a dropped notebook does: after epoch 1's checkpoint, before epoch 2."""

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.current_epoch == 1:
            raise RuntimeError("simulated disconnect")


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key].double(), b[key].double(), rtol=1e-6, atol=1e-7), key


def test_a_run_stopped_after_epoch_one_and_resumed_ends_with_the_uninterrupted_weights(
    tmp_path: Path, demo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_MODE", "disabled")
    main(two_epoch_args(tmp_path / "straight", demo_root))

    interrupted = tmp_path / "interrupted"
    crash = {"callbacks": [DisconnectAfterFirstEpoch()]}
    with pytest.raises(RuntimeError, match="simulated disconnect"):
        AiOrNotCLI(args=two_epoch_args(interrupted, demo_root), trainer_defaults=crash)
    last = interrupted / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["epoch"] == 0  # only epoch 1 (index 0) is done
    main(two_epoch_args(interrupted, demo_root, f"--resume={last}"))

    sessions = tmp_path / "sessions"  # a planned stop: --stop_at_epoch, then --resume
    main(two_epoch_args(sessions, demo_root, "--stop_at_epoch=1"))
    planned = sessions / "checkpoints" / "last.ckpt"
    assert torch.load(planned, weights_only=True)["epoch"] == 0
    main(two_epoch_args(sessions, demo_root, f"--resume={planned}"))

    straight_last = tmp_path / "straight" / "checkpoints" / "last.ckpt"
    for path in (straight_last, last, planned):  # last.ckpt is the final state, best or not
        assert torch.load(path, weights_only=True)["global_step"] == 6  # 2 epochs x 3 batches
    assert_same_weights(weights(straight_last), weights(last))
    assert_same_weights(weights(straight_last), weights(planned))


class RecordRestoredState(pl.Callback):
    """What the resumed process starts from, read inside it, before it trains a step."""

    def __init__(self) -> None:
        self.seen: dict[str, Any] = {}

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self.seen:
            return
        optimizer = trainer.optimizers[0]
        steps = {float(state["step"]) for state in optimizer.state.values()}
        self.seen = {
            "global_step": trainer.global_step,
            "epoch": trainer.current_epoch,
            "optimizer_steps": steps,
            "scheduler_step": trainer.lr_scheduler_configs[0].scheduler.last_epoch,
            "sampler_epoch": trainer.train_dataloader.sampler.epoch,  # type: ignore[union-attr]
        }


def test_the_resumed_process_starts_from_the_checkpoints_state_not_from_zero(
    tmp_path: Path, demo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Training is deterministic, so a silent restart from step 0 would end with the same
    weights: check the state restored in the resumed process itself (issue 14)."""
    monkeypatch.setenv("WANDB_MODE", "disabled")
    crash = {"callbacks": [DisconnectAfterFirstEpoch()]}
    with pytest.raises(RuntimeError, match="simulated disconnect"):
        AiOrNotCLI(args=two_epoch_args(tmp_path, demo_root), trainer_defaults=crash)
    last = tmp_path / "checkpoints" / "last.ckpt"
    recorder = RecordRestoredState()
    try:
        AiOrNotCLI(
            args=two_epoch_args(tmp_path, demo_root, f"--resume={last}"),
            trainer_defaults={"callbacks": [recorder]},
        )
    finally:  # as `main` does: a run left open would be reused by the next test's logger
        if wandb.run is not None:
            wandb.finish()
    assert recorder.seen["global_step"] == 3  # epoch 1's three batches are not redone
    assert recorder.seen["epoch"] == 1
    assert recorder.seen["optimizer_steps"] == {3.0}  # AdamW's moments came back, step 3
    assert recorder.seen["scheduler_step"] == 3  # the LR schedule continues, not restarts
    assert recorder.seen["sampler_epoch"] == 1  # the data order of epoch 2, not epoch 1's


class ArtifactServedLocally:
    """Stands in for `wandb.Api()`: the W&B server cannot be reached here, so the artifact
    is served from the offline run's checkpoint; the download code path is the real one."""

    def __init__(self, checkpoint: Path, calls: list[str]) -> None:
        self.checkpoint, self.calls = checkpoint, calls

    def artifact(self, name: str, type: str | None = None) -> Any:
        self.calls.append(name)
        checkpoint = self.checkpoint

        class _Artifact:
            def download(self, root: str) -> str:
                Path(root).mkdir(parents=True, exist_ok=True)
                shutil.copy(checkpoint, Path(root) / "model.ckpt")
                return root

        return _Artifact()


def test_offline_wandb_run_logs_checkpoint_artifacts_and_resume_continues_the_run(
    tmp_path: Path, demo_root: Path, offline_wandb: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # downloads land in ./artifacts/downloads
    main(two_epoch_args(tmp_path, demo_root, "--trainer.max_epochs=1"))

    last = tmp_path / "checkpoints" / "last.ckpt"
    run_path = torch.load(last, weights_only=True)["aiornot"]["wandb_run"]
    assert run_path.startswith("aiornot/")  # offline: project/run_id, no entity
    run_id = run_path.split("/")[-1]
    run_dirs = list((tmp_path / "wandb").glob(f"offline-run-*-{run_id}"))
    assert len(run_dirs) == 1, run_dirs
    logged = [a for a in artifacts(tmp_path / "wandb") if a.name == f"model-{run_id}"]
    assert logged and all(a.type == "model" for a in logged)  # ready for `wandb sync`
    assert "latest" in logged[-1].aliases
    assert [e.path for e in logged[-1].manifest.contents] == ["model.ckpt"]
    staged = list(offline_wandb.rglob("artifacts/staging/*"))
    assert any(p.read_bytes() == last.read_bytes() for p in staged)

    calls: list[str] = []
    monkeypatch.setattr("wandb.Api", lambda: ArtifactServedLocally(last, calls))
    ref = f"wandb-artifact://me/aiornot/model-{run_id}:latest"
    main(two_epoch_args(tmp_path, demo_root, f"--resume={ref}"))
    assert calls == [f"me/aiornot/model-{run_id}:latest"]
    assert list((tmp_path / "artifacts" / "downloads").rglob("model.ckpt"))
    assert len(list((tmp_path / "wandb").glob(f"offline-run-*-{run_id}"))) == 2  # same run id
    assert torch.load(last, weights_only=True)["epoch"] == 1
