"""POST /predict through a real uvicorn server: every input style, calibration, explain."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import httpx
import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

from lambda_fn.manifest import read_manifest
from lambda_fn.stem import crop_grid, prepare
from tests.lambda_fn.conftest import FORMATS, make_image
from tests.support.bundles import TEMPERATURE
from tests.support.http_server import UvicornServer


def post_raw(
    server: UvicornServer, data: bytes, content_type: str, query: str = ""
) -> httpx.Response:
    return httpx.post(
        f"{server.url}/predict{query}", content=data, headers={"content-type": content_type}
    )


def reference_probability(bundle: Path, data: bytes) -> float:
    """What the contract says: ORT on the stem's crops, their mean logit, sigmoid(logit / T)."""
    spec = read_manifest(bundle).input_spec()
    session = ort.InferenceSession(str(bundle / "model.onnx"), providers=["CPUExecutionProvider"])
    crop_logits = session.run(["logit"], {"image": prepare(data, spec).crops})[0]
    return float(1 / (1 + np.exp(-float(np.mean(crop_logits)) / TEMPERATURE)))


@pytest.mark.parametrize("subtype", sorted(FORMATS))
def test_predict_accepts_raw_bytes_in_every_allowed_format(
    api_server: UvicornServer, images: dict[str, bytes], subtype: str
) -> None:
    response = post_raw(api_server, images[subtype], f"image/{subtype}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"label", "ai_probability", "threshold", "model", "timings_ms"}
    assert 0.0 <= body["ai_probability"] <= 1.0
    assert body["model"]["name"] == "aiornot-test-tiny"
    assert set(body["timings_ms"]) == {"decode", "preprocess", "inference", "total"}


def test_predict_probability_is_the_calibrated_sigmoid_of_the_model_logit(
    api_server: UvicornServer, images: dict[str, bytes], resnet_bundle: Path
) -> None:
    response = post_raw(api_server, images["png"], "image/png")
    assert response.status_code == 200
    expected = reference_probability(resnet_bundle, images["png"])
    assert response.json()["ai_probability"] == pytest.approx(expected, abs=1e-5)


def test_predict_label_follows_the_manifest_threshold(
    api_server: UvicornServer, images: dict[str, bytes]
) -> None:
    body = post_raw(api_server, images["jpeg"], "image/jpeg").json()
    expected = "ai" if body["ai_probability"] >= body["threshold"] else "real"
    assert (body["threshold"], body["label"]) == (0.5, expected)


def test_every_input_style_gives_the_same_answer(
    api_server: UvicornServer, images: dict[str, bytes]
) -> None:
    data = images["png"]
    encoded = base64.b64encode(data).decode()
    responses = [
        post_raw(api_server, data, "image/png"),
        httpx.post(f"{api_server.url}/predict", json={"image": encoded}),
        httpx.post(f"{api_server.url}/predict", json={"image": f"data:image/png;base64,{encoded}"}),
        httpx.post(
            f"{api_server.url}/predict",
            json={"image": base64.urlsafe_b64encode(data).decode().rstrip("=")},
        ),
        httpx.post(f"{api_server.url}/predict", files={"file": ("x.png", data, "image/png")}),
    ]
    assert [r.status_code for r in responses] == [200] * len(responses)
    probabilities = {r.json()["ai_probability"] for r in responses}
    assert len(probabilities) == 1


def test_json_accepts_charset_parameter_and_line_wrapped_base64(
    api_server: UvicornServer, images: dict[str, bytes]
) -> None:
    encoded = base64.encodebytes(images["jpeg"]).decode()  # MIME style: a newline every 76
    response = httpx.post(
        f"{api_server.url}/predict",
        content=json.dumps({"image": encoded}).encode(),
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200, response.text


def test_explain_heatmap_covers_the_whole_image_not_one_crop(
    api_server: UvicornServer, resnet_bundle: Path
) -> None:
    manifest = read_manifest(resnet_bundle)
    data = make_image("PNG", size=(200, 100))  # 4 x 2 crops of 64 px
    response = post_raw(api_server, data, "image/png", "?explain=true")
    assert response.status_code == 200
    heatmap = np.asarray(response.json()["heatmap"])
    grid = crop_grid(200, 100, manifest.input_spec())
    h, w = manifest.outputs[1].shape[1:]
    assert (grid.cols, grid.rows) == (4, 2)
    assert heatmap.shape == (grid.rows * int(h), grid.cols * int(w))
    assert heatmap.min() >= 0.0 and heatmap.max() <= 1.0


def test_explain_in_json_body_adds_the_heatmap_and_is_absent_by_default(
    api_server: UvicornServer, images: dict[str, bytes]
) -> None:
    encoded = base64.b64encode(images["webp"]).decode()
    with_map = httpx.post(f"{api_server.url}/predict", json={"image": encoded, "explain": True})
    without = httpx.post(f"{api_server.url}/predict", json={"image": encoded})
    assert (with_map.status_code, without.status_code) == (200, 200)
    assert "heatmap" in with_map.json()
    assert "heatmap" not in without.json()


def test_predict_answers_a_large_jpeg_from_its_native_pixels(
    api_server: UvicornServer, resnet_bundle: Path
) -> None:
    big = make_image("JPEG", size=(1280, 960))
    response = post_raw(api_server, big, "image/jpeg")
    assert response.status_code == 200
    assert response.json()["ai_probability"] == pytest.approx(
        reference_probability(resnet_bundle, big), abs=1e-5
    )


def _encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def _with_transparent_left_half(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    alpha = np.full((rgba.height, rgba.width), 255, dtype=np.uint8)
    alpha[:, : rgba.width // 2] = 0
    rgba.putalpha(Image.fromarray(alpha))
    return rgba


def _on_white(rgba: Image.Image) -> Image.Image:
    """What a viewer shows on a white page: transparent pixels are white."""
    pixels = np.asarray(rgba, dtype=np.uint16)
    alpha = pixels[..., 3:4]
    rgb = (pixels[..., :3] * alpha + 255 * (255 - alpha) + 127) // 255
    return Image.fromarray(rgb.astype(np.uint8), mode="RGB")


def _odd_images() -> dict[str, tuple[bytes, str, Image.Image]]:
    """name -> (file, content type, the upright RGB picture a viewer would show)."""
    rgb = Image.open(io.BytesIO(make_image("PNG", size=(48, 40)))).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned 90 degrees anticlockwise; displayed turned back clockwise
    stored = rgb.transpose(Image.Transpose.ROTATE_90)
    frames = [rgb.convert("P"), rgb.rotate(90).convert("P")]
    gray = rgb.convert("L")
    gray16 = Image.fromarray(np.asarray(gray, dtype=np.uint16) << 8)  # 8 bits shifted up
    assert gray16.mode == "I;16"
    gray16_shown = np.rint(np.asarray(gray16, dtype=np.float64) / 65535 * 255).astype(np.uint8)
    la = _with_transparent_left_half(gray).convert("LA")
    rgba = _with_transparent_left_half(rgb)
    cmyk_jpeg = _encode(rgb.convert("CMYK"), "JPEG", quality=95)
    return {
        "cmyk-jpeg": (cmyk_jpeg, "image/jpeg", Image.open(io.BytesIO(cmyk_jpeg)).convert("RGB")),
        "exif-rotated-jpeg": (
            _encode(stored, "JPEG", quality=95, exif=exif),
            "image/jpeg",
            Image.open(io.BytesIO(_encode(stored, "JPEG", quality=95))).transpose(
                Image.Transpose.ROTATE_270
            ),
        ),
        "i16-png": (
            _encode(gray16, "PNG"),
            "image/png",
            Image.fromarray(gray16_shown).convert("RGB"),
        ),
        "la-png": (_encode(la, "PNG"), "image/png", _on_white(la.convert("RGBA"))),
        "1bit-bmp": (
            _encode(rgb.convert("1"), "BMP"),
            "image/bmp",
            rgb.convert("1").convert("RGB"),
        ),
        "rgba-webp": (_encode(rgba, "WEBP", lossless=True), "image/webp", _on_white(rgba)),
        "animated-gif": (
            _encode(frames[0], "GIF", save_all=True, append_images=frames[1:]),
            "image/gif",
            frames[0].convert("RGB"),  # the first frame
        ),
        "cmyk-tiff": (
            _encode(rgb.convert("CMYK"), "TIFF"),
            "image/tiff",
            rgb.convert("CMYK").convert("RGB"),
        ),
    }


ODD_IMAGES = _odd_images()


@pytest.mark.parametrize("name", sorted(ODD_IMAGES))
def test_every_pixel_mode_and_orientation_is_read_as_the_picture_a_viewer_shows(
    api_server: UvicornServer, name: str
) -> None:
    """Each file's prediction is exactly that of its upright RGB picture sent as a PNG."""
    data, content_type, shown = ODD_IMAGES[name]
    response = post_raw(api_server, data, content_type)
    assert response.status_code == 200, response.text
    expected = post_raw(api_server, _encode(shown, "PNG"), "image/png").json()
    assert response.json()["ai_probability"] == expected["ai_probability"]
