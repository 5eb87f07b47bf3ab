"""Requests through the real app under uvicorn on loopback: latency split and throughput,
for the served int8 graph and for fp32 (`MODEL_VARIANT=fp32`) side by side, one bundle."""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import Preset, export_bundle, percentile
from tests.support.http_server import UvicornServer

HEADERS = {"content-type": "image/jpeg"}
VARIANTS = ("fp32", "int8")


def server_env(bundle: Path, work: Path) -> dict[str, str]:
    return {
        "MODEL_URI": str(bundle),
        "MODEL_CACHE_DIR": str(work / "model-cache"),
        "LOG_LEVEL": "WARNING",  # the per-request log line is not what is measured
    }


def latency(client: httpx.Client, url: str, body: bytes, n: int, warmup: int = 3) -> dict[str, Any]:
    """Client wall time p50/p99 and the server's own split (medians) over `n` requests."""
    for _ in range(warmup):
        client.post(url, content=body, headers=HEADERS).raise_for_status()
    walls, parts = [], []
    for _ in range(n):
        start = time.perf_counter()
        response = client.post(url, content=body, headers=HEADERS)
        walls.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
        parts.append(response.json()["timings_ms"])
    split = {
        k: statistics.median(p[k] for p in parts) for k in ("decode", "preprocess", "inference")
    }
    p50 = statistics.median(walls)
    split["rest"] = p50 - sum(split.values())
    return {
        "n": n,
        "bytes": len(body),
        "p50": p50,
        "p99": percentile(walls, 99),
        "split": split,
        "ratio_to_inference": p50 / split["inference"],
    }


async def _load(url: str, body: bytes, concurrency: int, total: int) -> dict[str, Any]:
    """`total` requests from `concurrency` workers; errors are counted, not raised."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    counts = {"ok": 0, "errors": 0}
    remaining = iter(range(total))
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def worker() -> None:
            for _ in remaining:
                try:
                    response = await client.post(url, content=body, headers=HEADERS)
                    counts["ok" if response.status_code == 200 else "errors"] += 1
                except httpx.HTTPError:
                    counts["errors"] += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return {"concurrency": concurrency, "n": total, **counts, "rps": counts["ok"] / elapsed}


def measure(
    preset: Preset,
    work: Path,
    images: dict[str, bytes],
    *,
    n_small: int,
    n_big: int,
    throughput_n: int,
    levels: tuple[int, ...] = (1, 4, 16),
) -> dict[str, Any]:
    """Per variant, on its own live server: latency for each image, then throughput."""
    bundle = export_bundle(work / f"bundle-{preset.name}-int8", preset, int8=True)
    result: dict[str, Any] = {
        "preset": preset.name,
        "threads": os.environ.get("ORT_INTRA_OP_THREADS", "default (CPUs usable)"),
        "variants": {},
    }
    for variant in VARIANTS:
        env = server_env(bundle, work) | {"MODEL_VARIANT": variant}
        with UvicornServer(env=env) as server, httpx.Client(timeout=60) as client:
            served = client.get(f"{server.url}/model").json()["serving_variant"]
            if served != variant:  # a fallback would make the comparison a lie
                raise RuntimeError(f"asked the server for {variant}, it serves {served}")
            url = f"{server.url}/predict"
            result["variants"][variant] = {
                "latency": {
                    "512x512 JPEG": latency(client, url, images["small"], n_small),
                    "~4 MB photo": latency(client, url, images["big"], n_big),
                },
                "throughput": [
                    asyncio.run(_load(url, images["small"], c, throughput_n)) for c in levels
                ],
            }
    return result
