"""Bounded loopback load test: N requests at concurrency C against a real uvicorn server.

    python -m bench.load_test --requests 5000 --concurrency 16 [--model-uri artifacts/bundle]
    python -m bench.load_test --test-bundle       # a random-weight tiny ResNet, no training
    python -m bench.load_test --url http://127.0.0.1:8000 --pid 1234   # an already running one

Starts `lambda_fn.app:app` under uvicorn (one worker) unless --url is given, warms it up,
then sends a mix of raw JPEG, JSON base64 PNG and explain=true requests. Prints one JSON
object: errors, latency percentiles (ms), throughput, and the server's resident memory
(VmRSS after warm-up and at the end, peak VmHWM) from /proc. Exit status 1 on any error
or when RSS grew more than --max-rss-growth (default 10 %).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class LoadResult:
    requests: int
    concurrency: int
    errors: int
    error_samples: list[str]
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    seconds: float
    requests_per_second: float
    rss_after_warmup_kib: int | None
    rss_end_kib: int | None
    rss_peak_kib: int | None
    rss_growth: float | None  # (end - after warm-up) / after warm-up


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def request_mix(seed: int = 0) -> list[dict[str, object]]:
    """httpx.post keyword sets: a 512 px JPEG raw, a 200 px PNG as JSON, a JPEG with heatmap."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)
    jpeg, png = io.BytesIO(), io.BytesIO()
    Image.fromarray(pixels).save(jpeg, format="JPEG", quality=90)
    Image.fromarray(pixels[:200, :200]).save(png, format="PNG")
    raw = {"content": jpeg.getvalue(), "headers": {"content-type": "image/jpeg"}}
    as_json = {"json": {"image": base64.b64encode(png.getvalue()).decode()}}
    return [raw, as_json, {**raw, "params": {"explain": "true"}}]


async def _fire(url: str, total: int, concurrency: int) -> tuple[list[float], list[str]]:
    mix = request_mix()
    latencies: list[float] = []
    errors: list[str] = []
    next_index = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def worker() -> None:
            nonlocal next_index
            while next_index < total:
                kwargs = mix[next_index % len(mix)]
                next_index += 1
                start = time.perf_counter()
                try:
                    response = await client.post("/predict", **kwargs)  # type: ignore[arg-type]
                    if response.status_code != 200:
                        errors.append(f"{response.status_code} {response.text[:200]}")
                except httpx.HTTPError as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                latencies.append((time.perf_counter() - start) * 1000)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


def run_load(
    url: str, *, requests: int, concurrency: int, pid: int | None, warmup: int = 200
) -> LoadResult:
    """Warm up, reset the peak, then the measured run."""
    asyncio.run(_fire(url, warmup, concurrency))
    before = None
    if pid is not None:
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        before = rss_kib(pid)
    start = time.perf_counter()
    latencies, errors = asyncio.run(_fire(url, requests, concurrency))
    seconds = time.perf_counter() - start
    end = rss_kib(pid) if pid is not None else None
    peak = rss_kib(pid, "VmHWM") if pid is not None else None
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
    return LoadResult(
        requests=requests,
        concurrency=concurrency,
        errors=len(errors),
        error_samples=errors[:5],
        p50_ms=round(float(p50), 2),
        p95_ms=round(float(p95), 2),
        p99_ms=round(float(p99), 2),
        max_ms=round(max(latencies), 2),
        seconds=round(seconds, 2),
        requests_per_second=round(requests / seconds, 1),
        rss_after_warmup_kib=before,
        rss_end_kib=end,
        rss_peak_kib=peak,
        rss_growth=round((end - before) / before, 4) if before and end else None,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--model-uri", default=os.environ.get("MODEL_URI", "artifacts/bundle"))
    parser.add_argument(
        "--test-bundle",
        action="store_true",
        help="serve a random-weight tiny ResNet exported to build/load-test-bundle (no training)",
    )
    parser.add_argument("--url", help="an already running server (else one is started)")
    parser.add_argument("--pid", type=int, help="its process id, for the memory figures")
    parser.add_argument("--max-rss-growth", type=float, default=0.10)
    args = parser.parse_args(argv)
    if args.url:
        result = run_load(
            args.url, requests=args.requests, concurrency=args.concurrency, pid=args.pid
        )
    else:
        sys.path.insert(0, str(ROOT))
        from tests.support.http_server import UvicornServer

        if args.test_bundle:
            from tests.support.bundles import export_tiny_resnet

            args.model_uri = str(ROOT / "build" / "load-test-bundle")
            export_tiny_resnet(Path(args.model_uri))

        env = {"MODEL_URI": args.model_uri}
        with UvicornServer(env=env) as server:
            assert server._process is not None
            result = run_load(
                server.url,
                requests=args.requests,
                concurrency=args.concurrency,
                pid=server._process.pid,
            )
    report = {**asdict(result), "load_average": os.getloadavg(), "cpus": os.cpu_count()}
    print(json.dumps(report, indent=1))
    growth_ok = result.rss_growth is None or result.rss_growth <= args.max_rss_growth
    return 0 if result.errors == 0 and growth_ok else 1


if __name__ == "__main__":
    sys.exit(main())
