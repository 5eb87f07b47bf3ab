"""`make smoke URL=... [KEY=...]`: does this deployment (or `make serve`) really work?

    python -m ops.smoke https://abc.execute-api.eu-west-1.amazonaws.com/dev/ --key KEY

Checks /health, one real prediction on a JPEG made here, that a broken image is answered
4xx (never 5xx), and, when a key is given, that a request without it is refused.
Exit status 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from PIL import Image, ImageDraw

# The API's labels. Smoke checks a deployment from outside, as a client does, so it keeps
# its own copy (pinned to lambda_fn.manifest.LABELS by tests/test_copies_stay_in_step.py).
LABELS = frozenset({"real", "ai"})

BROKEN_IMAGE = b"\xff\xd8\xff\xe0 this is not really a JPEG"


@dataclass(frozen=True)
class Check:
    """The outcome of one smoke check, with a detail a person can act on."""

    name: str
    passed: bool
    detail: str


def sample_jpeg(size: int = 96) -> bytes:
    """A small, valid JPEG with some structure (a gradient and a shape)."""
    ramp = Image.linear_gradient("L").resize((size, size))
    flat = Image.new("L", (size, size), 128)
    image = Image.merge("RGB", (ramp, ramp.transpose(Image.Transpose.ROTATE_90), flat))
    quarter = size // 4
    ImageDraw.Draw(image).ellipse((quarter, quarter, 3 * quarter, 3 * quarter), fill="white")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _error_code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return f"no contract error body: {response.text[:120]!r}"


def check_health(client: httpx.Client, base: str) -> Check:
    response = client.get(f"{base}/health")
    body = response.json() if response.status_code == 200 else {}
    ok = response.status_code == 200 and body.get("status") == "ok"
    model = body.get("model", {}) if ok else {}
    detail = f"{response.status_code} model={model.get('name')}:{model.get('version')}"
    return Check("health", ok, detail if ok else f"{response.status_code} {response.text[:200]}")


def check_prediction(client: httpx.Client, base: str) -> Check:
    response = client.post(
        f"{base}/predict", content=sample_jpeg(), headers={"Content-Type": "image/jpeg"}
    )
    if response.status_code != 200:
        return Check("predict", False, f"{response.status_code} {response.text[:200]}")
    body = response.json()
    probability = body.get("ai_probability")
    ok = body.get("label") in LABELS and isinstance(probability, int | float)
    ok = ok and 0.0 <= probability <= 1.0
    version = (body.get("model") or {}).get("version")
    return Check("predict", ok, f"200 label={body.get('label')} p={probability} model={version}")


def check_bad_image(client: httpx.Client, base: str) -> Check:
    response = client.post(
        f"{base}/predict", content=BROKEN_IMAGE, headers={"Content-Type": "image/jpeg"}
    )
    ok = 400 <= response.status_code < 500
    return Check("bad-image-is-4xx", ok, f"{response.status_code} {_error_code(response)}")


def check_key_required(base: str, timeout: float) -> Check:
    response = httpx.get(f"{base}/health", timeout=timeout)
    ok = response.status_code == 403
    return Check("key-required", ok, f"{response.status_code} without the key (want 403)")


def run_smoke(url: str, key: str | None = None, *, timeout: float = 30.0) -> list[Check]:
    """Run every check; a network failure fails that check instead of aborting the rest."""
    base = url.rstrip("/")
    headers = {"x-api-key": key} if key else {}
    checks: list[Check] = []
    with httpx.Client(timeout=timeout, headers=headers) as client:
        steps: list[tuple[str, Callable[[], Check]]] = [
            ("health", lambda: check_health(client, base)),
            ("predict", lambda: check_prediction(client, base)),
            ("bad-image-is-4xx", lambda: check_bad_image(client, base)),
        ]
        if key:
            steps.append(("key-required", lambda: check_key_required(base, timeout)))
        for name, step in steps:
            try:
                checks.append(step())
            except (httpx.HTTPError, ValueError, TypeError, AttributeError) as exc:
                checks.append(Check(name, False, f"{type(exc).__name__}: {exc}"))
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.smoke", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("url", help="API base URL (the ApiUrl output, or http://127.0.0.1:8000)")
    parser.add_argument("--key", default=os.environ.get("AIORNOT_API_KEY") or None)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    args = parser.parse_args(argv)
    checks = run_smoke(args.url, args.key, timeout=args.timeout)
    for check in checks:
        print(f"{'PASS' if check.passed else 'FAIL'}  {check.name:<18} {check.detail}")
    failed = [check.name for check in checks if not check.passed]
    verdict = f"FAILED: {', '.join(failed)}" if failed else "all checks passed"
    print(f"smoke {args.url}: {len(checks) - len(failed)}/{len(checks)} ok, {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
