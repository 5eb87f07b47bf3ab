"""Serving package: image contract, model bundles, ONNX Runtime predictor, HTTP app (torch-free)."""
