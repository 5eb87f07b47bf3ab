"""An honest note on the served model, written from its manifest (GET /model)."""

from __future__ import annotations

import threading
from typing import Any

try:
    from frontend.api_client import ApiClient, ApiError
except ImportError:  # deployed alone: a Space holds frontend/'s files at its root
    from api_client import ApiClient, ApiError  # type: ignore[no-redef]

CAVEAT = (
    "It is a teaching-scale reference model, not a forensic tool: it can be confidently "
    "wrong, above all on generators, edits and compression it never saw in training. "
    "Do not use its answer to judge a person or their work."
)
DEMO_WARNING = (
    "**This model was trained on the project's synthetic demo data**: photographs that ship "
    "with scikit-image against upsampled copies of them standing in for AI images. It has "
    "never seen an image from a real generator, so its answers on your pictures say nothing "
    "about whether they are AI-generated; it shows the pipeline working end to end."
)


def is_demo_model(manifest: dict[str, Any]) -> bool:
    """A model trained on the embedded demo dataset (its dataset id starts with "demo")."""
    dataset = str((manifest.get("lineage") or {}).get("dataset") or "")
    return dataset.startswith("demo")


def describe(manifest: dict[str, Any]) -> str:
    """What the model is, what it looks at, how it scored, and (for demo data) what it is not."""
    spec = manifest.get("input") or {}
    size = spec.get("size", "?")
    dataset = (manifest.get("lineage") or {}).get("dataset") or "an unrecorded dataset"
    lines = [
        f"**About the model.** `{manifest.get('name', '?')}` "
        f"version `{manifest.get('version', '?')}` is a ResNet trained from scratch on "
        f"`{dataset}`. It sees your image as a "
        f"{size}x{size} square (shorter side resized, then centre-cropped; the heatmap shows "
        "that square) and returns a calibrated probability that it is AI-generated.",
    ]
    test = (manifest.get("metrics") or {}).get("test") or {}
    scored = [f"{k} {test[k]:.3f}" for k in ("accuracy", "auroc") if isinstance(test.get(k), float)]
    if scored:
        n = f" of {test['n']} images" if test.get("n") else ""
        lines.append(f"On its held-out test split{n}: {', '.join(scored)}.")
    if is_demo_model(manifest):
        lines.append(DEMO_WARNING)
    lines.append(CAVEAT)
    return "\n\n".join(lines)


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
        """Whether the model saw the centred square (the contract's default) or the whole image."""
        try:
            manifest = self.manifest((prediction.get("model") or {}).get("version"))
        except ApiError:
            return True
        return "center_crop" in str((manifest.get("input") or {}).get("resize", "center_crop"))
