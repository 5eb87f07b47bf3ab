"""Suite-wide settings: no test talks to W&B's servers or reads a developer's credentials."""

from __future__ import annotations

import os

# Set before any test imports wandb; tests of W&B itself switch to offline explicitly.
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
