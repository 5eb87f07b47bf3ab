"""Cold start: fresh process -> handler imported -> model ready -> first response.

Each run is a new interpreter; the parent notes the wall clock just before starting it and
the child prints the wall clock at each stage. The bundle is a local directory and its
optimised-graph cache is warm (the issue's "bundle cached locally"); the OS file cache is
warm too, which favours neither side.

Our handler and the floor run twice: from this development virtualenv, and as Lambda runs
them, from the assembled task root (`ops/task_root.py`, this machine's Python) with
`python -S`, awslambdaric beside it as in /var/runtime, and the image's ENV lines. The
virtualenv holds some 250 distributions and an editable install, which cost start-up
time that the image does not have.

Our package's bytecode is compiled first in both places, as the image's `compileall` does:
these machines set PYTHONDONTWRITEBYTECODE, so without it every start compiled our source
(about 25 ms of the demo's first response, measured side by side).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from bench.common import ROOT, Preset, export_bundle, jpeg

OURS = """
import json, sys, time
marks = {"interpreter": time.time()}
import lambda_fn.app
marks["imported"] = time.time()
import lambda_fn.handler as h
marks["model_ready"] = time.time()
from awslambdaric.lambda_context import LambdaContext
event = json.load(open(sys.argv[1]))
arn = "arn:aws:lambda:us-east-1:123456789012:function:aiornot"
context = LambdaContext("req-1", None, None, 2_000_000_000_000, arn)
out = h.handler(event, context)
marks["first_response"] = time.time()
assert out["statusCode"] == 200, out
print(json.dumps(marks))
"""

# The floor: a fresh process importing only the libraries the first response cannot do
# without (FastAPI for the HTTP contract, numpy, onnxruntime, Pillow), none of our code.
FLOOR = """
import json, time
marks = {"interpreter": time.time()}
import fastapi, numpy, onnxruntime, PIL.Image
marks["imported"] = marks["model_ready"] = marks["first_response"] = time.time()
print(json.dumps(marks))
"""
FLOOR_NAME = "libraries only (floor)"
OURS_NAME = "onnxruntime (ours)"
FROM_TASK_ROOT = ", from the task root"
DOCKERFILE = ROOT / "lambda_fn" / "Dockerfile"

TORCHSCRIPT = """
import json, sys, time
marks = {"interpreter": time.time()}
import bench.torchscript_handler as h
marks["imported"] = time.time()
h.load()
marks["model_ready"] = time.time()
out = h.handler(json.load(open(sys.argv[1])), None)
marks["first_response"] = time.time()
assert out["statusCode"] == 200, out
print(json.dumps(marks))
"""


def script_model(bundle: Path, preset: Preset) -> Path:
    """The same weights as TorchScript (traced forward_with_cam), beside the bundle."""
    import torch

    from model_training.models.resnet import build_resnet

    path = bundle.parent / f"{bundle.name}.torchscript.pt"
    if not path.is_file():
        net = build_resnet(preset.preset).eval()
        net.load_state_dict(torch.load(bundle / "weights.pt"))

        class WithCam(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.net = net

            def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
                return self.net.forward_with_cam(x)

        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(WithCam().eval(), torch.zeros(1, 3, preset.size, preset.size))
        traced.save(str(path))
    return path


def image_env() -> dict[str, str]:
    """The `ENV NAME=value` lines of lambda_fn/Dockerfile: what the image sets."""
    return dict(re.findall(r"^ENV (\w+)=(\S+)$", DOCKERFILE.read_text(), flags=re.MULTILINE))


def lambda_paths(work: Path) -> tuple[Path, Path]:
    """The task root for this machine's Python (assembled by `ops.task_root`, reused while
    its requirements are unchanged) and a stand-in /var/runtime holding awslambdaric, which
    the Lambda base image provides."""
    from tests.support.lambda_rie import copy_distributions

    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    task_root = ROOT / "build" / f"bench-task-root-py{version.replace('.', '')}"
    command = [sys.executable, "-m", "ops.task_root", "--python-version", "local"]
    subprocess.run([*command, "--out", str(task_root)], cwd=ROOT, check=True, capture_output=True)
    runtime = work / "var-runtime"
    if not runtime.is_dir():
        copy_distributions(["awslambdaric", "simplejson", "snapshot-restore-py"], runtime)
    return task_root, runtime


def compile_package(package: Path) -> None:
    """Our .pyc, as lambda_fn/Dockerfile's `python -m compileall` writes them."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)


def _run(
    code: str,
    event_path: Path,
    env: dict[str, str],
    *,
    lambda_layout: tuple[Path, Path] | None = None,
) -> dict[str, float]:
    """One fresh process; with `lambda_layout` (task root, runtime) it imports only from
    there and the standard library, started in the task root as Lambda starts it."""
    flags, cwd = [], ROOT
    if lambda_layout is not None:
        task_root, runtime = lambda_layout
        flags, cwd = ["-S"], task_root
        env = {**env, "PYTHONPATH": f"{task_root}{os.pathsep}{runtime}"}
    start = time.time()
    out = subprocess.run(
        [sys.executable, *flags, "-c", code, str(event_path)],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    marks = json.loads(out.stdout.strip().splitlines()[-1])
    return {k: (v - start) * 1000 for k, v in marks.items()}


def import_breakdown(module: str, env: dict[str, str]) -> dict[str, float]:
    """Self import time (ms) per top-level package, from `python -X importtime` (one run)."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    totals: dict[str, float] = {}
    for line in out.stderr.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[0].startswith("import time:") or "self" in parts[0]:
            continue
        top = parts[2].strip().split(".")[0]
        totals[top] = totals.get(top, 0.0) + int(parts[0].split(":")[1]) / 1000
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def measure(preset: Preset, work: Path, repeats: int, *, task_root: bool) -> dict[str, Any]:
    """Median stage times (ms since process start) for both handlers and the floor, runs
    interleaved; with `task_root`, ours and the floor again as Lambda starts them."""
    from tests.support.apigw_events import rest_event

    bundle = export_bundle(work / f"bundle-{preset.name}", preset)
    ts_path = script_model(bundle, preset)
    event_path = work / "cold-event.json"
    event = rest_event(
        "POST",
        "/predict",
        body=jpeg((512, 512)),
        headers={"content-type": "image/jpeg"},
        binary=True,
    )
    event_path.write_text(json.dumps(event))
    ours_env = {
        "MODEL_URI": str(bundle),
        "MODEL_CACHE_DIR": str(work / "model-cache"),
        "ORT_INTRA_OP_THREADS": "1",
        "LOG_LEVEL": "WARNING",
        "AWS_LAMBDA_FUNCTION_NAME": "aiornot-bench",
        "POWERTOOLS_METRICS_NAMESPACE": "aiornot",
    }
    ts_env = {"TS_MODEL": str(ts_path), "TS_SIZE": str(preset.size), "TS_THREADS": "1"}
    compile_package(ROOT / "lambda_fn")
    _run(OURS, event_path, ours_env)  # fills the optimised-graph cache: "cached locally"
    layout = lambda_paths(work) if task_root else None
    in_image = image_env()
    root_env = in_image | ours_env
    if layout is not None:
        compile_package(layout[0] / "lambda_fn")
    runs: dict[str, list[dict[str, float]]] = {OURS_NAME: [], "torchscript": [], FLOOR_NAME: []}
    if layout is not None:
        runs |= {OURS_NAME + FROM_TASK_ROOT: [], FLOOR_NAME + FROM_TASK_ROOT: []}
    for _ in range(repeats):
        runs[OURS_NAME].append(_run(OURS, event_path, ours_env))
        runs["torchscript"].append(_run(TORCHSCRIPT, event_path, ts_env))
        runs[FLOOR_NAME].append(_run(FLOOR, event_path, {}))
        if layout is not None:
            ours = _run(OURS, event_path, root_env, lambda_layout=layout)
            floor = _run(FLOOR, event_path, in_image, lambda_layout=layout)
            runs[OURS_NAME + FROM_TASK_ROOT].append(ours)
            runs[FLOOR_NAME + FROM_TASK_ROOT].append(floor)
    stages = ("interpreter", "imported", "model_ready", "first_response")
    return {
        "imports": {
            OURS_NAME: import_breakdown("lambda_fn.handler", ours_env),
            "torchscript": import_breakdown("bench.torchscript_handler", ts_env),
        },
        "preset": preset.name,
        "repeats": repeats,
        "handlers": {
            name: {s: statistics.median(r[s] for r in rs) for s in stages}
            for name, rs in runs.items()
        },
    }
