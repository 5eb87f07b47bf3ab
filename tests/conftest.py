"""Suite-wide settings: no test talks to W&B's servers, reads a developer's credentials, or
fetches an `image_url` from anywhere but this machine."""

from __future__ import annotations

import os
from typing import Any

# Set before any test imports wandb; tests of W&B itself switch to offline explicitly.
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Every app a test starts (in-process or a uvicorn child) refuses image_url hosts other than
# these before any DNS lookup, so fuzzed URLs never leave the machine. Forced, not defaulted.
os.environ["URL_FETCH_ALLOWED_HOSTS"] = "127.0.0.1"


AUDIT_TEST = "test_serving_requirements_have_no_known_vulnerabilities"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say loudly, once, when the dependency audit could not run: a skip is easy to miss."""
    for report in terminalreporter.stats.get("skipped", []):
        if AUDIT_TEST in getattr(report, "nodeid", ""):
            terminalreporter.write_line(
                "SECURITY AUDIT NOT RUN: pip-audit could not reach a vulnerability service "
                "from this machine (the SKIPPED line below says why); run it where PyPI or "
                "OSV is reachable, as docs/security.md shows",
                red=True,
                bold=True,
            )
