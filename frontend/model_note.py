"""An honest note on the served model, written from its manifest (GET /model)."""

from __future__ import annotations

import threading
from typing import Any

from frontend.api_client import ApiClient, ApiError

CAVEAT = (
    "It is a teaching-scale reference model, not a forensic tool: it can be confidently "
    "wrong, above all on generators, edits and compression it never saw in training. "
    "Do not use its answer to judge a person or their work."
)
DEMO_WARNING = (
    "**This model was trained on the project's synthetic demo data**: photographs that ship "
    "with scikit-image and matplotlib, against copies re-made by small stand-in decoders and "
    "upsampling kernels standing in for AI images. It has never seen an image from a real "
    "generator, so its answers on your pictures say little about whether they are "
    "AI-generated; it shows the pipeline working end to end."
)


def is_demo_model(manifest: dict[str, Any]) -> bool:
    """A model trained on the embedded demo dataset (its dataset id starts with "demo")."""
    dataset = str((manifest.get("lineage") or {}).get("dataset") or "")
    return dataset.startswith("demo")


def describe(manifest: dict[str, Any]) -> str:
    """What the model is, what it looks at, how it scored, and (for demo data) what it is not."""
    dataset = (manifest.get("lineage") or {}).get("dataset") or "an unrecorded dataset"
    lines = [
        f"**About the model.** `{manifest.get('name', '?')}` "
        f"version `{manifest.get('version', '?')}` is a ResNet trained from scratch on "
        f"`{dataset}`. {_what_it_sees(manifest.get('input') or {})} It returns a calibrated "
        "probability that the image is AI-generated.",
    ]
    metrics = manifest.get("metrics") or {}
    test = metrics.get("test") or {}
    scored = [f"{k} {test[k]:.3f}" for k in ("accuracy", "auroc") if isinstance(test.get(k), float)]
    if scored:
        n = f" of {test['n']} images" if test.get("n") else ""
        lines.append(f"On its held-out test split{n}: {', '.join(scored)}.")
    tiers = (metrics.get("robustness") or {}).get("tiers") or {}
    if tiers:
        accuracies = ", ".join(f"{t} {v['accuracy']:.3f}" for t, v in tiers.items())
        lines.append(
            f"Accuracy after a trip through the web (web: at most 768 px, JPEG quality 60; "
            f"hard: 512 px, quality 40): {accuracies}."
        )
    if is_demo_model(manifest):
        lines.append(DEMO_WARNING)
    lines.append(CAVEAT)
    return "\n\n".join(lines)


def _what_it_sees(spec: dict[str, Any]) -> str:
    if "crop_size" in spec:  # format 2: native-resolution crops
        size, grid = spec["crop_size"], spec.get("max_grid", "?")
        return (
            f"It looks at your image at its native resolution, never resized: up to "
            f"{grid}x{grid} crops of {size}x{size} pixels spread over it, whose answers are "
            "averaged; the heatmap covers the whole image."
        )
    size = spec.get("size", "?")
    return (
        f"It sees your image as a {size}x{size} square (shorter side resized, then "
        "centre-cropped; the heatmap shows that square)."
    )


class ModelNotes:
    """Fetches the manifest once per served version, so notes follow a redeploy."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self._manifests: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def manifest(self, version: str | None = None) -> dict[str, Any]:
        with self._lock:
            if version is not None and version in self._manifests:
                return self._manifests[version]
        body = self.client.model().body
        with self._lock:
            self._manifests[str(body.get("version"))] = body
        return body

    def markdown(self) -> str:
        """The note for the page; an unreachable API gets a note instead of an error."""
        try:
            return describe(self.manifest())
        except ApiError as exc:
            return (
                f"_Model details are unavailable right now ({exc.status or 'no answer'}: "
                f"{exc.message}); {CAVEAT}_"
            )

    def center_crop(self, prediction: dict[str, Any]) -> bool:
        """Whether the model saw only a centred square: bundles before format 2 resized and
        cropped; today's look at the whole image in native-resolution crops."""
        try:
            manifest = self.manifest((prediction.get("model") or {}).get("version"))
        except ApiError:
            return False
        return "center_crop" in str((manifest.get("input") or {}).get("resize", ""))
