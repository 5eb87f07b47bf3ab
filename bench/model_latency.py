"""Model latency, one thread: ONNX Runtime fp32 and int8 vs PyTorch eager, plus the fp32 peak.

Engines are timed round-robin (a block of calls each, several rounds) so a noisy neighbour
hurts them alike; the figures are medians over every timed call.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import Preset, export_bundle, median_ms, quantize, run_python

PEAK_CODE = """
import time, numpy as np, onnx, onnxruntime as ort
from onnx import helper, TensorProto
def best(fn, reps):
    fn(); out = []
    for _ in range(reps):
        t = time.perf_counter(); fn(); out.append(time.perf_counter() - t)
    return min(out)
np_best = ort_best = 0.0
for n in {sizes}:
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
    np_best = max(np_best, 2 * n**3 / best(lambda: a @ b, {reps}) / 1e9)
    g = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["c"])], "mm",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n])],
        [helper.make_tensor_value_info("c", TensorProto.FLOAT, [n, n])],
        [onnx.numpy_helper.from_array(b, "b")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    o = ort.SessionOptions(); o.intra_op_num_threads = 1; o.inter_op_num_threads = 1
    s = ort.InferenceSession(m.SerializeToString(), o, providers=["CPUExecutionProvider"])
    ort_best = max(ort_best, 2 * n**3 / best(lambda: s.run(None, {{"a": a}}), {reps}) / 1e9)
core = "unknown"
try:  # the OpenBLAS kernel numpy runs: OPENBLAS_CORETYPE would change it
    import ctypes, glob, os
    lib = glob.glob(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs", "*openblas*.so"))
    f = ctypes.CDLL(lib[0]).scipy_openblas_get_corename64_
    f.restype = ctypes.c_char_p
    core = f().decode()
except Exception:
    pass
print(np_best, ort_best, core)
"""


def measure_peak(sizes: tuple[int, ...] = (512, 1024), reps: int = 20) -> dict[str, Any]:
    """Single-thread sgemm GFLOP/s (best call of `reps` per size), numpy/OpenBLAS and ORT's MLAS.

    The best call, not the median: on a shared machine a neighbour can only slow a call down,
    and short calls (512: ~3 ms) often fit between its time slices.

    Run in a fresh process with one BLAS thread. OPENBLAS_CORETYPE/L2_SIZE (set on some
    machines for old OpenBLAS builds) would select a slower kernel, so both are unset there.
    """
    env = {
        k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    }
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = run_python(PEAK_CODE.format(sizes=list(sizes), reps=reps), env)
    numpy_text, ort_text, core = out.split()
    numpy_gflops, ort_gflops = float(numpy_text), float(ort_text)
    peak = max(numpy_gflops, ort_gflops)
    return {
        "numpy": numpy_gflops,
        "ort": ort_gflops,
        "peak": peak,
        "sizes": "/".join(map(str, sizes)),
        "openblas_core": core,
    }


def model_flops(net: Any, size: int, batch: int) -> int:
    """FLOPs of one forward_with_cam (torch's counter: 2 per multiply-add)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        net.forward_with_cam(torch.zeros(batch, 3, size, size))
    return int(counter.get_total_flops())


def ort_session(path: Path, profile_prefix: str | None = None) -> Any:
    import onnxruntime as ort

    from lambda_fn.ort_session import session_options

    options = session_options(1, 1)
    if profile_prefix:
        options.enable_profiling = True
        options.profile_file_prefix = profile_prefix
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def measure_preset(preset: Preset, work: Path, *, rounds: int, block: int) -> list[dict[str, Any]]:
    """Rows for batch 1 and 8: median ms per engine, FLOPs, GFLOP/s."""
    import torch

    from model_training.models.resnet import build_resnet

    torch.set_num_threads(1)
    bundle = export_bundle(work / f"bundle-{preset.name}", preset)
    net = build_resnet(preset.preset).eval()
    net.load_state_dict(torch.load(bundle / "weights.pt"))
    int8_path = quantize(bundle, preset.size, 8 if block <= 2 else 32)
    sessions = {"ort_fp32": ort_session(bundle / "model.onnx"), "ort_int8": ort_session(int8_path)}
    rows = []
    for batch in (1, 8):
        x = np.random.default_rng(batch).standard_normal((batch, 3, preset.size, preset.size))
        x = x.astype(np.float32)
        xt = torch.from_numpy(x)
        engines = {
            name: (lambda s=s, x=x: s.run(None, {"image": x})) for name, s in sessions.items()
        }

        def eager(xt: torch.Tensor = xt) -> None:
            with torch.inference_mode():
                net.forward_with_cam(xt)

        engines["torch_eager"] = eager
        times: dict[str, list[float]] = {name: [] for name in engines}
        for fn in engines.values():
            fn()
        for _ in range(rounds):
            for name, fn in engines.items():
                for _ in range(block if batch == 1 else max(1, block // 2)):
                    start = time.perf_counter()
                    fn()
                    times[name].append(time.perf_counter() - start)
        flops = model_flops(net, preset.size, batch)
        ms = {name: median_ms(t) for name, t in times.items()}
        rows.append(
            {
                "preset": preset.name,
                "model": f"{preset.preset} {preset.size}px",
                "batch": batch,
                "ms": ms,
                "best_ms": {name: min(t) * 1000 for name, t in times.items()},
                "n": {name: len(t) for name, t in times.items()},
                "gflop": flops / 1e9,
                "gflops": {name: flops / 1e9 / (v / 1000) for name, v in ms.items()},
            }
        )
    return rows


def profile_ort(preset: Preset, work: Path, runs: int = 20) -> list[tuple[str, float]]:
    """ONNX Runtime's profiler on fp32 batch 1: share of kernel time per op type."""
    import json

    bundle = export_bundle(work / f"bundle-{preset.name}", preset)
    with tempfile.TemporaryDirectory() as scratch:
        session = ort_session(bundle / "model.onnx", profile_prefix=f"{scratch}/ort")
        x = np.zeros((1, 3, preset.size, preset.size), np.float32)
        for _ in range(runs):
            session.run(None, {"image": x})
        events = json.loads(Path(session.end_profiling()).read_text())
    totals: dict[str, float] = {}
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            op = event.get("args", {}).get("op_name", "?")
            totals[op] = totals.get(op, 0.0) + event["dur"]
    whole = sum(totals.values()) or 1.0
    return sorted(((op, us / whole) for op, us in totals.items()), key=lambda kv: -kv[1])
