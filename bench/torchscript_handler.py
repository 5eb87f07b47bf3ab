"""The comparison: a TorchScript Lambda handler as the FSDL text recognizer serves its model.

torch.jit.load at import, PIL decode, torch preprocessing (resize the shorter side,
centre crop, normalise), one forward. Only the benchmark uses it.
"""

from __future__ import annotations

import base64
import io
import json
import os
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
torch.set_num_threads(int(os.environ.get("TS_THREADS", "1")))
_model: torch.jit.ScriptModule | None = None


def load(path: str | None = None) -> torch.jit.ScriptModule:
    """Load once per process, as the FSDL handler does at import."""
    global _model
    _model = torch.jit.load(path or os.environ["TS_MODEL"], map_location="cpu").eval()
    return _model


def preprocess(image: Image.Image, size: int) -> torch.Tensor:
    x = torch.frombuffer(bytearray(image.convert("RGB").tobytes()), dtype=torch.uint8)
    x = x.view(image.height, image.width, 3).permute(2, 0, 1).float().div_(255)
    scale = size / min(image.height, image.width)
    h, w = round(image.height * scale), round(image.width * scale)
    x = F.interpolate(x[None], size=(h, w), mode="bilinear", align_corners=False, antialias=True)
    top, left = (h - size) // 2, (w - size) // 2
    return ((x[0, :, top : top + size, left : left + size] - MEAN) / STD)[None]


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """API Gateway proxy event with a base64 image body -> the AI probability."""
    model = _model or load()
    data = base64.b64decode(event["body"]) if event.get("isBase64Encoded") else event["body"]
    x = preprocess(Image.open(io.BytesIO(data)), int(os.environ.get("TS_SIZE", "64")))
    with torch.inference_mode():
        logit, _ = model(x)
    probability = torch.sigmoid(logit)[0].item()
    return {"statusCode": 200, "body": json.dumps({"ai_probability": probability})}
