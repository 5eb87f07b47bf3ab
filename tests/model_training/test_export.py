"""Export end to end: a tiny ResNet trained on demo data becomes a verified, measured bundle."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pytest

from lambda_fn.loader import load_bundle
from lambda_fn.manifest import verify_bundle
from lambda_fn.stem import InputSpec
from model_training.calibration import calibrated_probs
from model_training.data import AiOrNotDataModule
from model_training.data.config import DataConfig
from model_training.export import RobustnessGateError, export_bundle, main
from model_training.lit_module import AiOrNotModule
from model_training.onnx_export import ParityError, open_session, serving_logits
from model_training.robustness import TIERS
from tests.model_training.wandb_records import artifacts

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def trained(
    tiny_demo_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, AiOrNotDataModule]:
    """A checkpoint written the way the training CLI writes one (with its `aiornot` block)."""
    dataset = DataConfig(
        source="demo", path=str(tiny_demo_root), demo_max_side=128, demo_samples_per_photo=3
    )
    loader = {"crop_size": 32, "batch_size": 16, "num_workers": 0, "augment": "none"}
    data = {"dataset": asdict(dataset), **loader}  # as the CLI's config records it
    pl.seed_everything(0, verbose=False)
    dm = AiOrNotDataModule(dataset, **loader)
    net = {
        "layers": [1, 1, 1],
        "widths": [16, 32, 64],
        "stem": "cifar",
        "stem_width": 16,
        "input_filter": "highpass",
        "space_to_depth": 2,
    }  # fmt: skip  (the tiny preset, as YAML has it)
    module = AiOrNotModule(net=net, lr=3e-3)
    module.run_config = {"data": data, "model": {"net": net}}
    trainer = pl.Trainer(
        max_steps=24,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
    )
    trainer.fit(module, datamodule=dm)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.ckpt"
    trainer.save_checkpoint(path)
    return path, dm


@pytest.fixture(scope="module")
def bundle_dir(
    trained: tuple[Path, AiOrNotDataModule], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    checkpoint, _ = trained
    root = tmp_path_factory.mktemp("export")
    evaluated = {"test": {"accuracy": 0.5, "n": 18}, "val": {"accuracy": 0.5, "n": 18}}
    (root / "metrics.json").write_text(json.dumps(evaluated))
    argv = ["--checkpoint", str(checkpoint), "--out", str(root / "bundle")]
    argv += ["--min-clean-accuracy", "0"]  # 24 steps of training: quality is not the point
    assert main([*argv, "--metrics", str(root / "metrics.json"), "--int8", "--no-wandb"]) == 0
    return root / "bundle"


def test_export_writes_a_bundle_that_verifies_and_loads(bundle_dir: Path, tmp_path: Path) -> None:
    bundle = load_bundle(str(bundle_dir), tmp_path)
    manifest = bundle.manifest
    assert {"model.onnx", "MODEL_CARD.md"} <= set(manifest.files)
    assert manifest.name == "aiornot-tiny"
    assert manifest.input_spec() == InputSpec(crop_size=32)
    assert [o.name for o in manifest.outputs] == ["logit", "cam"]
    assert manifest.outputs[1].shape == ["N", 4, 4]  # 32 px: 2x2 blocks folded, two strides
    assert not list(bundle_dir.parent.glob(".*partial"))  # staging cleaned up


def test_manifest_metrics_are_the_served_models_measured_numbers(
    bundle_dir: Path, trained: tuple[Path, AiOrNotDataModule]
) -> None:
    _, dm = trained
    manifest = verify_bundle(bundle_dir)
    records = dm.split_records("test")
    logits = serving_logits(open_session(bundle_dir / "model.onnx"), records, dm.input_spec)
    probs = calibrated_probs(logits, manifest.calibration.temperature)
    labels = np.array([r.label for r in records])
    accuracy = float(((probs >= manifest.threshold) == labels).mean())
    assert manifest.metrics["test"]["accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert manifest.metrics["test"]["n"] == len(records)
    assert manifest.metrics["val"]["n"] == len(dm.split_records("val"))
    assert manifest.metrics["evaluate"]["test"]["n"] == 18  # evaluate's file, carried verbatim
    parity = manifest.metrics["parity"]
    assert parity["n"] == len(records) and parity["max_abs_diff"] <= 1e-4


def test_manifest_carries_a_fitted_calibration_and_threshold(bundle_dir: Path) -> None:
    manifest = verify_bundle(bundle_dir)
    calibration = manifest.calibration.model_dump()
    assert calibration["temperature"] != 1.0
    assert 0.0 <= calibration["ece_after"] <= 1.0 and 0.0 <= calibration["ece_before"] <= 1.0
    assert calibration["log_loss_after"] <= calibration["log_loss_before"] + 1e-9
    assert calibration["fitted_on"] == "val" and calibration["threshold_rule"] == "youden_j"
    assert 0.0 <= manifest.threshold <= 1.0


def test_manifest_records_lineage(
    bundle_dir: Path, trained: tuple[Path, AiOrNotDataModule]
) -> None:
    checkpoint, dm = trained
    lineage = verify_bundle(bundle_dir).lineage.model_dump()
    assert lineage["dataset"] == dm.dataset_id
    assert lineage["split"]["seed"] == 0 and lineage["split"]["calibration"] == "val"
    assert lineage["config"]["data"]["crop_size"] == 32
    assert lineage["wandb_run"] is None and lineage["checkpoint"] == str(checkpoint)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False
    )
    if head.returncode != 0:
        pytest.skip("not a git checkout with commits, so there is no commit to record")
    assert re.fullmatch(r"[0-9a-f]{40}", lineage["git_commit"])
    assert lineage["git_commit"] == head.stdout.strip()  # the checkout that exported it
    assert isinstance(lineage["git_dirty"], bool)


def test_int8_measurements_are_in_the_manifest_whether_or_not_kept(bundle_dir: Path) -> None:
    manifest = verify_bundle(bundle_dir)
    report = manifest.metrics["int8"]
    assert report["drop_points"] == pytest.approx(
        (report["fp32_accuracy"] - report["int8_accuracy"]) * 100, abs=1e-4
    )
    gate = report.get("robustness_gate")  # judged only once the accuracy bar is passed
    assert (gate is not None) is (report["drop_points"] <= 0.5)
    assert report["kept"] is (report["drop_points"] <= 0.5 and gate is not None and gate["passed"])
    assert ("int8" in manifest.variants) is report["kept"]
    assert (bundle_dir / "model.int8.onnx").exists() is report["kept"]
    faster = report["kept"] and report["speed"]["faster"]  # timed only once kept
    assert manifest.serving_variant == ("int8" if faster else "fp32")


def test_int8_that_misses_the_robustness_floor_is_not_shipped(
    trained: tuple[Path, AiOrNotDataModule], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The accuracy bar passes (forced here); the held-out floor then refuses it."""
    checkpoint, _ = trained
    monkeypatch.setattr("model_training.quantize.keep_int8", lambda fp32, int8: (True, 0.0))
    manifest = export_bundle(
        str(checkpoint), tmp_path / "bundle", int8=True, wandb_log=False, min_clean_accuracy=0,
        int8_min_speedup=0,
    )  # fmt: skip
    assert manifest.serving_variant == "int8"  # floor 0 and no speed bar: passes
    refused = export_bundle(
        str(checkpoint), tmp_path / "refused", int8=True, wandb_log=False, min_clean_accuracy=0,
        int8_min_clean_accuracy=1.01, int8_min_speedup=0,
    )  # fmt: skip
    gate = refused.metrics["int8"]["robustness_gate"]
    assert gate["passed"] is False and gate["floor"] == 1.01
    assert refused.metrics["int8"]["kept"] is False
    assert refused.serving_variant == "fp32" and "int8" not in refused.variants
    assert not (tmp_path / "refused" / "model.int8.onnx").exists()


def test_int8_that_is_not_faster_here_is_kept_but_fp32_serves(
    trained: tuple[Path, AiOrNotDataModule], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both gates pass (the accuracy bar forced); a speed bar no graph can clear then leaves
    int8 in the bundle, for MODEL_VARIANT=int8, with fp32 serving, and the timings recorded."""
    checkpoint, _ = trained
    monkeypatch.setattr("model_training.quantize.keep_int8", lambda fp32, int8: (True, 0.0))
    manifest = export_bundle(
        str(checkpoint), tmp_path / "bundle", int8=True, wandb_log=False, min_clean_accuracy=0,
        int8_min_clean_accuracy=0, int8_min_speedup=1000.0,
    )  # fmt: skip
    speed = manifest.metrics["int8"]["speed"]
    assert speed["fp32_ms"] > 0 and speed["int8_ms"] > 0 and speed["min_speedup"] == 1000.0
    assert speed["speedup"] == pytest.approx(speed["fp32_ms"] / speed["int8_ms"], rel=1e-2)
    assert speed["faster"] is False and speed["crops"] == manifest.input_spec().max_grid ** 2
    assert "int8" in manifest.variants and (tmp_path / "bundle" / "model.int8.onnx").exists()
    assert manifest.serving_variant == "fp32"


def test_model_card_states_use_data_metrics_and_limitations(bundle_dir: Path) -> None:
    card = (bundle_dir / "MODEL_CARD.md").read_text()
    manifest = verify_bundle(bundle_dir)
    for heading in ("## Intended use", "## Data", "## Metrics", "## Limitations"):
        assert heading in card
    assert "not a real AI-image detector" in card
    assert "generator drift" in card
    assert manifest.version in card


def test_export_fails_the_parity_gate_on_mismatched_preprocessing(
    trained: tuple[Path, AiOrNotDataModule], tmp_path: Path
) -> None:
    checkpoint, dm = trained
    serving = InputSpec(crop_size=32, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    with pytest.raises(ParityError, match="parity gate failed") as info:
        export_bundle(
            str(checkpoint), tmp_path / "bad", serving_spec=serving, wandb_log=False,
            min_clean_accuracy=0,
        )  # fmt: skip
    first_test_file = dm.split_records("test")[0]
    assert first_test_file.id in str(info.value)
    assert not (tmp_path / "bad").exists()
    assert not list(tmp_path.iterdir())  # no staging directory left behind


def test_the_parity_gate_checks_the_code_that_serves(
    trained: tuple[Path, AiOrNotDataModule], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Change only the server's aggregation (max instead of mean): the gate must refuse."""
    checkpoint, _ = trained
    monkeypatch.setattr("lambda_fn.predictor.aggregate", lambda logits: float(max(logits)))
    with pytest.raises(ParityError, match="training vs serving path"):
        export_bundle(str(checkpoint), tmp_path / "bad", wandb_log=False, min_clean_accuracy=0)
    assert not (tmp_path / "bad").exists()


def test_manifest_carries_the_robustness_report_and_its_gate(bundle_dir: Path) -> None:
    manifest = verify_bundle(bundle_dir)
    report = manifest.metrics["robustness"]
    assert set(report["tiers"]) == set(TIERS)
    assert set(report["size"]) <= {"<=96", "97-256", "257-512", ">512"}
    assert sum(group["n"] for group in report["size"].values()) == report["n"]
    assert sum(group["n"] for group in report["jpeg_quality"].values()) == report["n"]
    assert set(report["resized_after_generation"]) <= {"yes", "no"}
    gate = manifest.metrics["robustness_gate"]
    assert gate["floor"] == 0 and gate["value"] == report["tiers"]["clean"]["accuracy"]
    assert "## Robustness" in (bundle_dir / "MODEL_CARD.md").read_text()


def test_export_refuses_a_bundle_below_the_robustness_floor(
    trained: tuple[Path, AiOrNotDataModule], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checkpoint, _ = trained
    argv = ["--checkpoint", str(checkpoint), "--out", str(tmp_path / "b"), "--no-wandb"]
    assert main([*argv, "--min-clean-accuracy", "1.01"]) == 1
    assert "robustness gate failed" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()
    with pytest.raises(RobustnessGateError):
        export_bundle(str(checkpoint), tmp_path / "c", wandb_log=False, min_clean_accuracy=1.01)


def test_export_refuses_to_overwrite_an_existing_bundle(
    trained: tuple[Path, AiOrNotDataModule], bundle_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    checkpoint, _ = trained
    assert main(["--checkpoint", str(checkpoint), "--out", str(bundle_dir), "--no-wandb"]) == 1
    assert "is not empty" in capsys.readouterr().err


def test_export_records_the_bundle_as_a_prod_ready_artifact(
    trained: tuple[Path, AiOrNotDataModule],
    tmp_path: Path,
    offline_wandb: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Offline, as here (no W&B server): the artifact `wandb sync` would publish is in the run."""
    checkpoint, _ = trained
    out = tmp_path / "bundle"
    manifest = export_bundle(str(checkpoint), out, min_clean_accuracy=0)
    assert "wandb sync" in capsys.readouterr().out
    (artifact,) = artifacts(offline_wandb / "wandb")
    assert (artifact.name, artifact.type) == ("bundle-aiornot-tiny", "model-bundle")
    assert {"prod-ready", "latest", manifest.version} <= set(artifact.aliases)
    entries = {entry.path: entry for entry in artifact.manifest.contents}
    assert set(entries) == {*manifest.files, "model.json"}
    assert Path(entries["model.json"].local_path).read_bytes() == (out / "model.json").read_bytes()


def test_reading_a_bundle_does_not_import_torch(bundle_dir: Path) -> None:
    code = (
        "import sys; from lambda_fn.manifest import verify_bundle; "
        f"verify_bundle({str(bundle_dir)!r}); assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


EXPORT_DIES_WRITING_MODEL_JSON = """
import os, signal, sys
from pathlib import Path
from model_training.export import export_bundle
write_text = Path.write_text
def torn(self, data, *args, **kwargs):
    if self.name == "model.json":
        write_text(self, data[: len(data) // 2], *args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)
    return write_text(self, data, *args, **kwargs)
Path.write_text = torn
export_bundle(sys.argv[1], Path(sys.argv[2]), overwrite=True, wandb_log=False,
              min_clean_accuracy=0)
"""


def test_an_export_killed_while_writing_its_manifest_leaves_the_previous_bundle_whole(
    trained: tuple[Path, AiOrNotDataModule], bundle_dir: Path, tmp_path: Path
) -> None:
    """A torn `model.json` stays in the export's staging directory: the bundle at OUT is the
    previous one, whole, and the next export replaces the leftovers."""
    checkpoint, _ = trained
    out = tmp_path / "bundle"
    shutil.copytree(bundle_dir, out)
    before = verify_bundle(out)
    child = subprocess.run(
        [sys.executable, "-c", EXPORT_DIES_WRITING_MODEL_JSON, str(checkpoint), str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert child.returncode == -9, child.stderr
    assert (tmp_path / ".bundle.partial" / "model.json").is_file()  # the torn one, set aside
    assert verify_bundle(out) == before
    manifest = export_bundle(
        str(checkpoint), out, overwrite=True, wandb_log=False, min_clean_accuracy=0
    )
    assert verify_bundle(out) == manifest != before
    assert not (tmp_path / ".bundle.partial").exists()
