"""Per-request inference cost of the native-resolution contract, beside the old resize path.

For uploads of typical sizes, the serving path (`lambda_fn.predictor.infer`: decode, the
stem's grid of crops, ONNX Runtime, mean logit) against the contract it replaced: a
reduced-size JPEG decode, the shorter side resized to the model's old input, one centre
crop, one model call. The old path is re-created here only, as the baseline.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.common import Preset, export_bundle, jpeg, median_ms, time_calls

UPLOADS: dict[str, tuple[int, int]] = {
    "512x512": (512, 512),
    "1024x768": (1024, 768),
    "4032x3024 phone photo": (4032, 3024),
}


def old_resize_input(data: bytes, size: int) -> np.ndarray:
    """Format-1 preprocessing: draft decode, shorter side to `size`, centre crop, normalise."""
    from lambda_fn.stem import InputSpec, normalise

    image = Image.open(io.BytesIO(data))
    image.draft("RGB", (size, size))
    image = image.convert("RGB")
    scale = size / min(image.size)
    image = image.resize(
        (max(size, round(image.width * scale)), max(size, round(image.height * scale)))
    )
    left, top = (image.width - size) // 2, (image.height - size) // 2
    crop = np.asarray(image.crop((left, top, left + size, top + size)))[None]
    return normalise(crop, InputSpec(crop_size=size))


def measure(preset: Preset, work: Path, repeats: int) -> list[dict[str, Any]]:
    """One row per upload size: crops, model and request ms for both contracts, and ratios."""
    import onnxruntime as ort

    from lambda_fn.manifest import read_manifest
    from model_training.onnx_export import open_session

    native = export_bundle(work / f"bundle-{preset.name}", preset)
    old = export_bundle(
        work / f"bundle-{preset.name}-resize{preset.resize_size}",
        Preset(preset.name, preset.preset, preset.resize_size, 1, preset.resize_size),
    )
    spec = read_manifest(native).input_spec()
    session: ort.InferenceSession = open_session(native / "model.onnx")
    old_session: ort.InferenceSession = open_session(old / "model.onnx")
    return [
        _row(preset, name, jpeg(size, seed=3), session, old_session, spec, repeats)
        for name, size in UPLOADS.items()
    ]


def _row(
    preset: Preset,
    upload: str,
    data: bytes,
    session: Any,
    old_session: Any,
    spec: Any,
    repeats: int,
) -> dict[str, Any]:
    from lambda_fn.image_contract import DEFAULT_MAX_PIXELS
    from lambda_fn.predictor import infer
    from lambda_fn.stem import prepare

    crops = prepare(data, spec).crops
    old_input = old_resize_input(data, preset.resize_size)
    model = median_ms(time_calls(lambda: session.run(["logit"], {"image": crops}), repeats))
    request = median_ms(
        time_calls(
            lambda: infer(session, data, spec, max_pixels=DEFAULT_MAX_PIXELS, explain=False),
            repeats,
        )
    )
    old_model = median_ms(
        time_calls(lambda: old_session.run(["logit"], {"image": old_input}), repeats)
    )
    old_request = median_ms(
        time_calls(
            lambda: old_session.run(
                ["logit"], {"image": old_resize_input(data, preset.resize_size)}
            ),
            repeats,
        )
    )
    return {
        "preset": preset.name,
        "model": f"{preset.preset}, {preset.size} px crops, grid <= {preset.max_grid}",
        "upload": upload,
        "crops": len(crops),
        "model_ms": model,
        "request_ms": request,
        "old_model_ms": old_model,
        "old_request_ms": old_request,
        "old_input": f"{preset.resize_size} px, 1 crop",
        "cost_vs_old": request / old_request,
        "request_over_model": request / model,
    }
