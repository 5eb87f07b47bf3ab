"""The test bundles: real bundles, built from scratch, that tests, bench and the load test share.

- `export_tiny_resnet`: the demo ResNet with random weights, exported to ONNX (needs torch);
- `make_tiny_bundle`: a torch-free two-node graph whose outputs tests can predict;
- `with_int8`: a copy of a bundle with a static int8 variant, served by its manifest;
- `tampered_copy`: a bundle altered after its manifest was written.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from lambda_fn.manifest import Manifest
from lambda_fn.stem import InputSpec
from model_training.bundle_writer import write_manifest

IMAGE_SIZE = 64
TEMPERATURE = 1.5


def export_tiny_resnet(directory: Path, *, size: int = IMAGE_SIZE, seed: int = 0) -> Manifest:
    """A random-weight tiny ResNet as a real bundle: `image` in, `logit` and `cam` out."""
    import torch

    from model_training.models.resnet import build_resnet
    from model_training.onnx_export import export_onnx

    torch.manual_seed(seed)
    directory.mkdir(parents=True, exist_ok=True)
    outputs = export_onnx(build_resnet("tiny").eval(), directory / "model.onnx", size, dynamo=False)
    (directory / "MODEL_CARD.md").write_text("# aiornot test bundle\n\nRandom weights.\n")
    return write_manifest(
        directory,
        name="aiornot-test-tiny",
        input_spec=InputSpec(crop_size=size),
        outputs=outputs,
        calibration={"temperature": TEMPERATURE},
        threshold=0.5,
        metrics={"test": {"accuracy": 0.5}},
        lineage={"git_commit": None, "wandb_run": None, "dataset": "none", "split": None},
    )


def with_int8(bundle: Path, destination: Path, *, graph: bytes | None = None) -> Manifest:
    """A copy of `bundle` plus `model.int8.onnx` (static QDQ, or `graph` as given), listed
    and hashed in a new manifest whose `serving_variant` is int8."""
    import numpy as np

    from lambda_fn.manifest import read_manifest
    from model_training.quantize import INT8_NAME, quantize_int8

    shutil.copytree(bundle, destination)
    manifest = read_manifest(destination)
    if graph is None:
        size = manifest.input_spec().crop_size
        crops = np.random.default_rng(0).normal(0, 1, (32, 3, size, size)).astype(np.float32)
        quantize_int8(destination / "model.onnx", destination / INT8_NAME, crops)
    else:
        (destination / INT8_NAME).write_bytes(graph)
    fields = manifest.model_dump()
    return write_manifest(
        destination,
        name=manifest.name,
        input_spec=manifest.input_spec(),
        outputs=fields["outputs"],
        calibration=fields["calibration"],
        threshold=manifest.threshold,
        metrics=fields["metrics"],
        lineage=fields["lineage"],
        variants={"int8": {"file": INT8_NAME, "kept": True}},
        serving_variant="int8",
    )


def tampered_copy(bundle: Path, destination: Path) -> Path:
    """A copy of `bundle` whose model.onnx changed after its manifest was written."""
    shutil.copytree(bundle, destination)
    with (destination / "model.onnx").open("r+b") as handle:
        handle.seek(100)
        handle.write(b"\x00\x01\x02\x03")
    return destination


def make_tiny_bundle(directory: Path, *, size: int = 8, name: str = "aiornot-test") -> Manifest:
    """A real, torch-free bundle: a two-node ONNX graph with the contract's input and outputs.

    `logit` is the mean pixel value and `cam` the channel mean, so tests can predict outputs.
    """
    from onnx import TensorProto, helper, save_model

    directory.mkdir(parents=True, exist_ok=True)
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["image"], ["logit"], axes=[1, 2, 3], keepdims=0),
            helper.make_node("ReduceMean", ["image"], ["cam"], axes=[1], keepdims=0),
        ],
        "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, size, size])],
        [
            helper.make_tensor_value_info("logit", TensorProto.FLOAT, ["N"]),
            helper.make_tensor_value_info("cam", TensorProto.FLOAT, ["N", size, size]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    save_model(model, str(directory / "model.onnx"))
    (directory / "MODEL_CARD.md").write_text("# Test bundle\n\nNot a detector.\n")
    return write_manifest(
        directory,
        name=name,
        input_spec=InputSpec(crop_size=size),
        outputs=[{"name": "logit", "shape": ["N"]}, {"name": "cam", "shape": ["N", size, size]}],
        calibration={"temperature": 1.0, "ece_before": None, "ece_after": None},
        threshold=0.5,
        metrics={"test": {"accuracy": 0.5, "auroc": 0.5}},
        lineage={"git_commit": None, "wandb_run": None, "dataset": "test", "split": "test"},
    )
