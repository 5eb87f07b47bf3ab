"""Security: no secrets or image bytes in logs, bandit on our code, pip-audit on serving deps.

Least privilege of the function's IAM policy is already proven by tests/infra/
test_inference_function.py (GetObject on the pinned prefix only, ListBucket conditioned on
it, no wildcard actions, no managed policies).
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from PIL import Image, PngImagePlugin

from tests.support.http_server import UvicornServer

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "hardening-SECRET-key-9f3b2c71d4"
MARKER = "ZEBRA-PAYLOAD-51c0ffee"
SCANNED = ["lambda_fn", "model_training", "infra", "ops", "frontend", "scripts", "app.py"]
# Medium/high bandit findings we accept, each with its reason: (file, test id) -> why.
ACCEPTED_BANDIT = {
    ("model_training/data/sources.py", "B615"): (
        "datasets.load_dataset: the parquet call reads local files (no Hub download); the Hub "
        "call names a dataset chosen by the operator - pinning a revision is recommended "
        "(docs/security.md), not a remote-code risk (no trust_remote_code)"
    ),
    ("ops/image.py", "B108"): (
        "`--tmpfs /tmp:...` mounts a fresh, private tmpfs at the container's /tmp, as Lambda "
        "gives each sandbox; no file in this machine's /tmp is created or read"
    ),
}


def png_with_marker() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", MARKER * 4)
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 200, 30)).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def test_request_logs_hold_no_api_key_image_bytes_or_base64(hard_server: UvicornServer) -> None:
    png = png_with_marker()
    b64 = base64.b64encode(png).decode()
    headers = {"x-api-key": API_KEY, "authorization": f"Bearer {API_KEY}"}
    url = f"{hard_server.url}/predict"
    sent = [
        httpx.post(url, content=png, headers={**headers, "content-type": "image/png"}),
        httpx.post(url, json={"image": b64, "explain": True}, headers=headers),
        httpx.post(url, files={"file": ("x.png", png, "image/png")}, headers=headers),
        httpx.post(url, content=png[:80], headers={**headers, "content-type": "image/png"}),
        httpx.post(url, json={"image": b64 + "!", "k": MARKER}, headers=headers),
        httpx.post(url, json={"image": MARKER}, headers=headers),
        httpx.post(url, content=MARKER.encode(), headers={**headers, "content-type": "text/x"}),
    ]
    assert [r.status_code for r in sent] == [200, 200, 200, 400, 422, 415, 415]
    output = hard_server.output()
    assert sum('"message":"request"' in line.replace(" ", "") for line in hard_server.lines) >= 7
    for secret in (API_KEY, MARKER, b64[:40], b64[-40:], png[:60].hex()):
        assert secret not in output, secret
    assert "\\x89PNG" not in output and "iVBORw0KGgo" not in output  # PNG magic, raw or base64


def bandit_findings() -> list[dict[str, object]]:
    command = [sys.executable, "-m", "bandit", "-c", "bandit.yaml", "-r", *SCANNED]
    result = subprocess.run(
        [*command, "-f", "json", "-q", "--severity-level", "medium"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(result.stdout)
    assert not report["errors"], report["errors"]
    return report["results"]


def test_bandit_finds_no_unjustified_medium_or_high_issue() -> None:
    pytest.importorskip("bandit", reason="pip install bandit")
    unexpected = [
        f"{r['filename']}:{r['line_number']} {r['test_id']} {r['issue_text']}"
        for r in bandit_findings()
        if (str(r["filename"]), r["test_id"]) not in ACCEPTED_BANDIT
    ]
    assert not unexpected


def test_serving_requirements_have_no_known_vulnerabilities() -> None:
    pytest.importorskip("pip_audit", reason="pip install pip-audit")
    ignored = [
        line.split("#", 1)[0].strip()
        for line in (ROOT / ".pip-audit-ignore").read_text().splitlines()
        if line.split("#", 1)[0].strip()
    ]
    command = [sys.executable, "-m", "pip_audit", "-r", "lambda_fn/requirements.txt"]
    command += ["--no-deps", "--disable-pip", "-f", "json", "--progress-spinner", "off"]
    for vuln_id in ignored:
        command += ["--ignore-vuln", vuln_id]
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, check=False, timeout=300
    )
    if not result.stdout.strip():
        pytest.skip(
            f"pip-audit could not run (vulnerability service unreachable?): "
            f"{result.stderr.strip()[-300:]}"
        )
    dependencies = json.loads(result.stdout)["dependencies"]
    skipped = [d for d in dependencies if d.get("skip_reason")]
    if len(skipped) == len(dependencies):
        pytest.skip(
            "the vulnerability database is unreachable from here (pip-audit: "
            f"{skipped[0]['skip_reason']!r} for all {len(skipped)} packages)"
        )
    assert not skipped, [d["skip_reason"] for d in skipped]
    found = {d["name"]: [v["id"] for v in d["vulns"]] for d in dependencies if d.get("vulns")}
    assert not found, f"unjustified vulnerabilities (justify in .pip-audit-ignore): {found}"
