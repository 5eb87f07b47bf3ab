"""Checkpoint -> model bundle: ONNX graph, parity gate, calibration, robustness gate, int8, card.

    python -m model_training.export --checkpoint CKPT --out DIR [--metrics metrics.json] [--int8]
        [--min-clean-accuracy 0.9]

CKPT is a local path or `wandb-artifact://ENTITY/PROJECT/NAME:VERSION`. The bundle is built
in a staging directory and renamed into place only when every check passed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from lambda_fn.image_contract import DEFAULT_MAX_PIXELS
from lambda_fn.manifest import CARD_NAME, FP32, MODEL_NAME, Manifest, verify_bundle
from lambda_fn.ort_session import check_session_io
from lambda_fn.predictor import infer
from lambda_fn.stem import InputSpec
from model_training import model_card, robustness
from model_training.bundle_writer import bundle_version, write_manifest
from model_training.calibration import binary_metrics, calibrate, calibrated_probs
from model_training.checkpoints import load_checkpoint, load_datamodule, resolve_checkpoint
from model_training.lineage import lineage_for, log_bundle_artifact
from model_training.models import preset_name
from model_training.onnx_export import (
    PARITY_TOLERANCE,
    ParityError,
    export_onnx,
    open_session,
    parity_gate,
    serving_logits,
)
from model_training.quantize import INT8_NAME, MIN_SPEEDUP, build_int8_variant, speed_check

DEFAULT_MIN_CLEAN_ACCURACY = 0.9


class RobustnessGateError(RuntimeError):
    """The bundle's clean-tier accuracy on held-out images is below the floor: not shipped."""


def measure(
    net: Any, dm: Any, session: Any, spec: InputSpec, tolerance: float
) -> tuple[dict[str, Any], float, dict[str, Any]]:
    """Parity gate on test, calibration and threshold on val, calibrated metrics on both,
    and the robustness report on test, all through the serving path."""
    test_records = dm.split_records("test")
    parity, test_logits = parity_gate(
        net, dm.test_dataloader(), test_records, session, spec, tolerance
    )
    val_records = dm.split_records("val")
    val_labels = np.array([r.label for r in val_records])
    val_logits = serving_logits(session, val_records, spec)
    calibration = calibrate(val_logits, val_labels)
    threshold = calibration.pop("threshold")
    t = calibration["temperature"]
    test_labels = np.array([r.label for r in test_records])
    score = serving_scorer(session, spec, t)
    test_probs = calibrated_probs(test_logits, t)  # already the serving path's (parity gate)
    metrics = {
        "val": binary_metrics(calibrated_probs(val_logits, t), val_labels, threshold),
        "test": binary_metrics(test_probs, test_labels, threshold),
        "parity": parity,
        "robustness": robustness.robustness_report(score, test_records, threshold, test_probs),
    }
    return calibration, threshold, metrics


def serving_scorer(session: Any, spec: InputSpec, temperature: float) -> robustness.Scorer:
    """Encoded image -> calibrated AI probability, through the serving path."""

    def score(data: bytes) -> float:
        logit = infer(session, data, spec, max_pixels=DEFAULT_MAX_PIXELS, explain=False).logit
        return float(calibrated_probs(np.array([logit]), temperature)[0])

    return score


def int8_robustness_gate(
    directory: Path,
    test_records: Any,
    spec: InputSpec,
    temperature: float,
    threshold: float,
    floor: float,
) -> dict[str, Any]:
    """The fp32 model's robustness floor, applied to the int8 graph through the serving path.

    Quantization can cost more on recompressed or small images than on validation's, so
    int8 must clear the same clean-tier floor on held-out images; its tiers are recorded.
    """
    score = serving_scorer(open_session(directory / INT8_NAME), spec, temperature)
    report = robustness.robustness_report(score, test_records, threshold)
    value = robustness.clean_accuracy(report)
    return {
        "metric": "clean-tier accuracy, test split",
        "floor": floor,
        "value": value,
        "passed": value >= floor,
        "tiers": {tier: values["accuracy"] for tier, values in report["tiers"].items()},
    }


def robustness_gate(report: dict[str, Any], floor: float) -> dict[str, Any]:
    """Refuse a model whose clean-tier accuracy is below `floor`; the record of the check."""
    value = robustness.clean_accuracy(report)
    if value < floor:
        raise RobustnessGateError(
            f"robustness gate failed: clean-tier accuracy on {report['n']} held-out images is "
            f"{value:.4f}, below the floor {floor:.4f} (--min-clean-accuracy). Train longer or "
            "on more data, or lower the floor knowingly.\n" + robustness.render(report)
        )
    return {"metric": "clean-tier accuracy, test split", "floor": floor, "value": value}


def export_bundle(
    checkpoint: str,
    out: Path,
    *,
    metrics_path: Path | None = None,
    int8: bool = False,
    name: str | None = None,
    serving_spec: InputSpec | None = None,
    tolerance: float = PARITY_TOLERANCE,
    min_clean_accuracy: float = DEFAULT_MIN_CLEAN_ACCURACY,
    int8_min_clean_accuracy: float | None = None,
    int8_min_speedup: float = MIN_SPEEDUP,
    batch_size: int = 64,
    overwrite: bool = False,
    wandb_log: bool = True,
) -> Manifest:
    """Build, check and write a bundle; raise (leaving nothing at `out`) if any check fails.

    `serving_spec` replaces the checkpoint's input spec on the serving side only: the parity
    gate must then catch any difference (tests use it to prove the gate can fail).
    int8 is kept only if it passes the accuracy bar and then the robustness floor
    (`int8_min_clean_accuracy`, by default the fp32 model's), and named the serving variant
    only if it is also at least `int8_min_speedup` times faster than fp32 here.
    """
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"{out} is not empty; choose a new directory or pass --overwrite")
    evaluated = json.loads(Path(metrics_path).read_text()) if metrics_path else None
    path = resolve_checkpoint(checkpoint)
    module, meta = load_checkpoint(path)
    spec = serving_spec or InputSpec.from_dict(meta["input_spec"])
    dm = load_datamodule(path, batch_size=batch_size, num_workers=0)
    dm.prepare_data()
    dm.setup("fit")
    dm.setup("test")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        outputs = export_onnx(module.net, staging / MODEL_NAME, spec.crop_size)
        session = open_session(staging / MODEL_NAME)
        calibration, threshold, metrics = measure(module.net, dm, session, spec, tolerance)
        metrics["robustness_gate"] = robustness_gate(metrics["robustness"], min_clean_accuracy)
        if evaluated is not None:
            metrics["evaluate"] = evaluated
        variants: dict[str, dict[str, Any]] = {}
        int8_floor = (
            min_clean_accuracy if int8_min_clean_accuracy is None else int8_min_clean_accuracy
        )
        if int8:
            metrics["int8"] = build_int8_variant(
                staging,
                dm.split_records("train"),
                spec,
                dm.split_records("val"),
                calibration["temperature"],
                threshold,
            )
            if metrics["int8"]["kept"]:
                gate = int8_robustness_gate(
                    staging,
                    dm.split_records("test"),
                    spec,
                    calibration["temperature"],
                    threshold,
                    int8_floor,
                )
                metrics["int8"]["robustness_gate"] = gate
                if not gate["passed"]:
                    metrics["int8"]["kept"] = False
                    (staging / INT8_NAME).unlink()
            if metrics["int8"]["kept"]:
                metrics["int8"]["speed"] = speed_check(
                    session, staging / INT8_NAME, spec, min_speedup=int8_min_speedup
                )
                variants["int8"] = {"file": INT8_NAME, **metrics["int8"]}
        manifest = _write_card_and_manifest(
            staging,
            name=name or f"aiornot-{preset_name(module.net_config) or 'resnet'}",
            spec=spec,
            outputs=outputs,
            calibration=calibration,
            threshold=threshold,
            metrics=metrics,
            lineage=lineage_for(checkpoint, meta),
            variants=variants,
            serving_variant=(
                "int8" if "int8" in variants and variants["int8"]["speed"]["faster"] else FP32
            ),
        )
        check_session_io(session, manifest)
        verify_bundle(staging)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if wandb_log:
        log_bundle_artifact(out, manifest, meta)
    return manifest


def _write_card_and_manifest(directory: Path, **fields: Any) -> Manifest:
    """Version from the graphs' hashes, then the card (which names it), then model.json."""
    now = datetime.now(UTC)
    version = bundle_version(directory, now)
    card = model_card.render(
        name=fields["name"],
        version=version,
        created_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        input_spec=fields["spec"].to_dict(),
        calibration=fields["calibration"],
        threshold=fields["threshold"],
        metrics=fields["metrics"],
        lineage=fields["lineage"],
        parity=fields["metrics"]["parity"],
        int8=fields["metrics"].get("int8"),
    )
    (directory / CARD_NAME).write_text(card)
    return write_manifest(
        directory,
        name=fields["name"],
        input_spec=fields["spec"],
        outputs=fields["outputs"],
        calibration=fields["calibration"],
        threshold=fields["threshold"],
        metrics=fields["metrics"],
        lineage=fields["lineage"],
        version=version,
        variants=fields["variants"],
        serving_variant=fields["serving_variant"],
        now=now,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_training.export", description=__doc__)
    parser.add_argument("--checkpoint", required=True, help="a .ckpt path or wandb-artifact:// ref")
    parser.add_argument("--out", type=Path, required=True, help="the bundle directory to create")
    parser.add_argument("--metrics", type=Path, help="metrics.json from model_training.evaluate")
    parser.add_argument(
        "--int8",
        action="store_true",
        help="also try a static int8 variant; served if it passes the accuracy bar and the "
        "floor and is faster here",
    )
    parser.add_argument(
        "--int8-min-speedup",
        type=float,
        default=MIN_SPEEDUP,
        help=f"serve int8 only if this much faster than fp32 on this CPU (default {MIN_SPEEDUP})",
    )
    parser.add_argument(
        "--int8-min-clean-accuracy",
        type=float,
        help="int8's held-out clean-tier floor (default: --min-clean-accuracy)",
    )
    parser.add_argument(
        "--name", help="model name (default aiornot-<preset name>, else aiornot-resnet)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    parser.add_argument("--no-wandb", action="store_true", help="never log a W&B artifact")
    parser.add_argument(
        "--min-clean-accuracy",
        type=float,
        default=DEFAULT_MIN_CLEAN_ACCURACY,
        help="refuse the bundle if held-out clean-tier accuracy is below this "
        f"(default {DEFAULT_MIN_CLEAN_ACCURACY})",
    )
    args = parser.parse_args(argv)
    try:
        manifest = export_bundle(
            args.checkpoint,
            args.out,
            metrics_path=args.metrics,
            int8=args.int8,
            name=args.name,
            overwrite=args.overwrite,
            wandb_log=not args.no_wandb,
            min_clean_accuracy=args.min_clean_accuracy,
            int8_min_clean_accuracy=args.int8_min_clean_accuracy,
            int8_min_speedup=args.int8_min_speedup,
        )
    except (ParityError, RobustnessGateError, FileExistsError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    test = manifest.metrics["test"]
    print(
        f"{args.out}: {manifest.name} {manifest.version}  test accuracy {test['accuracy']:.4f}  "
        f"auroc {test['auroc']}  T={manifest.calibration.temperature:.3f}  "
        f"threshold={manifest.threshold:.3f}  variants={sorted(manifest.variants) or '-'}  "
        f"serving={manifest.serving_variant}"
    )
    print(robustness.render(manifest.metrics["robustness"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
