"""Training building blocks in isolation: schedule, metrics, one shared step, references, traces."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch

from model_training.checkpoints import (
    load_checkpoint,
    load_datamodule,
    parse_wandb_ref,
    resolve_checkpoint,
)
from model_training.lit_module import AiOrNotModule, warmup_cosine
from model_training.metrics import BinaryLogLoss, classification_metrics
from model_training.models import PRESETS


def test_schedule_warms_up_linearly_then_decays_to_the_floor() -> None:
    lr = [warmup_cosine(s, warmup_steps=10, total_steps=100, min_ratio=0.01) for s in range(101)]
    assert lr[0] == pytest.approx(0.1)
    assert lr[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in itertools.pairwise(lr[10:]))  # monotone decay
    assert lr[55] == pytest.approx(0.01 + 0.99 * 0.5)  # halfway through the cosine
    assert lr[100] == pytest.approx(0.01)


def test_log_loss_matches_the_competition_formula_and_clips_certain_mistakes() -> None:
    probs = torch.tensor([0.9, 0.2, 0.6, 0.5])
    targets = torch.tensor([1, 0, 0, 1])
    expected = -(math.log(0.9) + math.log(0.8) + math.log(0.4) + math.log(0.5)) / 4
    assert float(BinaryLogLoss()(probs, targets)) == pytest.approx(expected, rel=1e-6)
    certain_and_wrong = float(BinaryLogLoss()(torch.tensor([1.0]), torch.tensor([0])))
    assert certain_and_wrong == pytest.approx(-math.log(1e-15), rel=1e-3)


def test_metric_keys_are_namespaced_by_split() -> None:
    values = classification_metrics("val/")(torch.tensor([0.8, 0.3]), torch.tensor([1, 0]))
    assert set(values) == {"val/accuracy", "val/auroc", "val/f1", "val/log_loss", "val/ece"}
    assert float(values["val/accuracy"]) == 1.0


def test_model_step_returns_loss_probabilities_and_targets_per_image() -> None:
    module = AiOrNotModule(net=replace(PRESETS["tiny"], widths=(8, 16, 32)))
    x, y = torch.randn(6, 3, 16, 16), torch.tensor([0.0, 1.0, 1.0, 0.0])
    owner = torch.tensor([0, 1, 1, 2, 3, 3])  # images 1 and 3 have two crops each
    loss, probs, targets = module.model_step((x, y, owner))
    with torch.no_grad():
        crop_logits = module(x)
    expected_logit = (crop_logits[1] + crop_logits[2]) / 2
    torch.testing.assert_close(probs[1], torch.sigmoid(expected_logit), rtol=1e-4, atol=1e-5)
    assert loss.ndim == 0 and loss.requires_grad
    assert probs.shape == (4,) and ((probs >= 0) & (probs <= 1)).all()
    assert targets.tolist() == [0, 1, 1, 0]
    expected = torch.nn.functional.binary_cross_entropy(probs, y)
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-4, atol=1e-5)


def test_network_config_reaches_the_resnet_and_comes_back_from_a_checkpoint(
    tmp_path: Path,
) -> None:
    # as YAML gives it: a mapping with lists
    module = AiOrNotModule(net={"layers": [1, 1, 1], "widths": [8, 16, 24], "dropout": 0.2})
    assert module.net.num_features == 24
    assert module.net.config.dropout == 0.2
    path = tmp_path / "custom.ckpt"
    torch.save(lightning_checkpoint(module, dict(module.hparams)), path)
    restored, _ = load_checkpoint(path)
    assert restored.net_config == module.net_config
    assert restored.net_config.widths == (8, 16, 24)
    for name, tensor in module.state_dict().items():
        torch.testing.assert_close(restored.state_dict()[name], tensor)


def test_checkpoint_from_before_the_net_config_is_refused_clearly(tmp_path: Path) -> None:
    module = AiOrNotModule()
    path = tmp_path / "old.ckpt"
    old_hparams = {"preset": "tiny", "widths": None, "lr": 3e-3}  # before model.net
    torch.save(lightning_checkpoint(module, old_hparams), path)
    with pytest.raises(ValueError, match=r"moved under model\.net"):
        load_checkpoint(path)


def lightning_checkpoint(module: AiOrNotModule, hparams: dict[str, Any]) -> dict[str, Any]:
    """The keys `load_from_checkpoint` reads, as `Trainer.save_checkpoint` writes them."""
    return {
        "state_dict": module.state_dict(),
        module.CHECKPOINT_HYPER_PARAMS_KEY: hparams,
        "pytorch-lightning_version": pl.__version__,
        "aiornot": {},
    }


def test_wandb_reference_is_parsed_into_entity_project_name_version() -> None:
    ref = parse_wandb_ref("wandb-artifact://me/aiornot/model-1a2b3c:v7")
    assert ref is not None
    assert ref.api_path == "me/aiornot/model-1a2b3c:v7"
    latest = parse_wandb_ref("wandb-artifact://me/aiornot/model-1a2b3c")
    assert latest is not None and latest.version == "latest"
    assert parse_wandb_ref("artifacts/checkpoints/last.ckpt") is None
    with pytest.raises(ValueError, match="ENTITY/PROJECT/NAME"):
        parse_wandb_ref("wandb-artifact://aiornot/model-1a2b3c:v7")


def test_local_references_resolve_to_a_file_or_the_one_checkpoint_in_a_directory(
    tmp_path: Path,
) -> None:
    ckpt = tmp_path / "run" / "model.ckpt"
    ckpt.parent.mkdir()
    ckpt.write_bytes(b"stand-in")
    assert resolve_checkpoint(ckpt) == ckpt
    assert resolve_checkpoint(ckpt.parent) == ckpt  # how a downloaded artifact directory looks
    with pytest.raises(FileNotFoundError):
        resolve_checkpoint(tmp_path / "missing.ckpt")


def test_a_checkpoint_from_before_the_typed_data_config_is_refused_clearly(tmp_path: Path) -> None:
    """Its DataModule saved `source=`... at the top level: say so, instead of a TypeError."""
    old = tmp_path / "old.ckpt"
    legacy = {"source": "demo", "path": None, "crop_size": 64, "demo_samples_per_photo": 60}
    torch.save({"datamodule_hyper_parameters": legacy, "pytorch-lightning_version": "2.6.6"}, old)
    with pytest.raises(ValueError, match=r"moved under data\.dataset"):
        load_datamodule(old)
