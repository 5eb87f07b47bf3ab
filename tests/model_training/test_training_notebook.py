"""notebooks/train_aiornot.ipynb runs top to bottom, and calls only the project's commands.

nbclient executes it in a real IPython kernel, on CPU, with the demo config and a tiny
budget, from a scratch directory that links to this checkout (so its `artifacts/` land
there). What stands in for the cloud: W&B runs offline (its server is unreachable here),
so the resume reads the checkpoint that W&B's artifact holds from local disk; the
publish goes to moto's S3 server over HTTP.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import nbformat
import pytest
import torch
from nbclient import NotebookClient

from tests.model_training.training_args import tiny_fit_args
from tests.support.s3_server import S3Server, s3_bucket, s3_server

__all__ = ["s3_bucket", "s3_server"]  # fixtures used below

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "train_aiornot.ipynb"
LINKED = ("pyproject.toml", "model_training", "lambda_fn", "configs")

pytestmark = pytest.mark.slow


def code_cells() -> list[str]:
    return [c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells if c.cell_type == "code"]


def outputs(nb: nbformat.NotebookNode) -> str:
    texts = [o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    return "".join(texts)


def test_the_notebook_trains_loses_the_runtime_resumes_evaluates_exports_and_publishes(
    tmp_path: Path,
    demo_root: Path,
    s3_server: S3Server,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    for name in LINKED:
        (work / name).symlink_to(REPO / name)
    fit = tiny_fit_args(work / "artifacts", demo_root, "--trainer.max_epochs=2")
    budget = [
        arg
        for arg in fit[2:]
        if not arg.startswith(("--trainer.default_root_dir", "--trainer.logger", "--checkpoint"))
    ]
    budget += ["--trainer.limit_train_batches=3", "--trainer.limit_val_batches=2"]
    monkeypatch.setenv("AIORNOT_NB_CONFIG", "configs/demo.yaml")
    monkeypatch.setenv("AIORNOT_NB_TRAIN_ARGS", shlex.join(budget))
    # 6 steps of training: quality is not the point, so the accuracy floor is off.
    monkeypatch.setenv("AIORNOT_NB_EXPORT_ARGS", "--int8 --min-clean-accuracy 0")
    monkeypatch.setenv("AIORNOT_NB_BUCKET", s3_bucket)
    monkeypatch.setenv("AIORNOT_NB_ENDPOINT_URL", s3_server.endpoint_url)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb-home"))
    for name in ("WANDB_API_KEY", "HF_TOKEN", "AIORNOT_NB_RESUME_RUN"):
        monkeypatch.delenv(name, raising=False)

    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(work)}}
    ).execute()

    printed = outputs(nb)
    last = work / "artifacts" / "checkpoints" / "last.ckpt"
    state = torch.load(last, map_location="cpu", weights_only=True)
    assert (state["epoch"], state["global_step"]) == (1, 6)  # resumed to the end: 2 x 3 steps
    assert "Weights & Biases: offline" in printed
    assert f"resuming from {Path('artifacts/checkpoints/last.ckpt')}" in printed
    metrics = json.loads((work / "artifacts" / "eval" / "metrics.json").read_text())
    assert metrics
    manifest = json.loads((work / "artifacts" / "bundle" / "model.json").read_text())
    listed = s3_server.client().list_objects_v2(Bucket=s3_bucket)["Contents"]
    keys = {o["Key"] for o in listed}
    assert any(k.startswith("models/") and k.endswith("/model.json") for k in keys), keys
    assert manifest


def test_the_notebook_runs_only_commands_the_makefile_runs() -> None:
    """It stays in step with the CLI: each `run(...)` names a module `make` also runs."""
    makefile = (REPO / "Makefile").read_text()
    called = {m for cell in code_cells() for m in re.findall(r'\brun\(\s*"([\w.]+)"', cell)}
    assert called == {
        "model_training.cli",
        "model_training.evaluate",
        "model_training.export",
        "model_training.registry",
    }
    for module in called:
        assert f"$(PY) -m {module} " in makefile, module
    imports = {
        m for cell in code_cells() for m in re.findall(r"from (model_training\S*) import", cell)
    }
    assert imports == {"model_training.checkpoints"}  # read_metadata, to find the run to resume
