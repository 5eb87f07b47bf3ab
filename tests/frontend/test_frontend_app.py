"""The launched app, driven by gradio_client, against the real API under uvicorn."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from frontend.app import EXAMPLES_DIR
from tests.frontend.conftest import RunningFrontend
from tests.support.http_server import UvicornServer

EXAMPLE = EXAMPLES_DIR / "real-motorcycle.jpg"


@pytest.fixture(scope="module")
def client(frontend: RunningFrontend) -> Iterator[Client]:
    yield Client(frontend.url, verbose=False)


def test_prediction_shows_label_confidences_heatmap_and_model_version(client: Client) -> None:
    headline, label, heatmap, details = client.predict(
        handle_file(str(EXAMPLE)), api_name="/predict"
    )
    confidences = {c["label"]: c["confidence"] for c in label["confidences"]}
    assert set(confidences) == {"AI-generated", "Real"}
    assert sum(confidences.values()) == pytest.approx(1.0)
    verdict = "AI-generated" if confidences["AI-generated"] >= 0.5 else "Real"  # threshold 0.5
    assert headline.startswith(f"## Verdict: {verdict}\n")
    assert f"P(AI-generated) = {confidences['AI-generated']:.3f}" in headline
    with Image.open(EXAMPLE) as original, Image.open(heatmap) as overlay:
        assert overlay.size == original.size
    assert "aiornot-test-tiny" in details
    assert "round trip" in details and "1 attempt(s)" in details


def test_corrupt_image_reads_as_a_message_not_a_crash(client: Client, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(EXAMPLE.read_bytes()[:1500])
    headline, label, heatmap, details = client.predict(
        handle_file(str(truncated)), api_name="/predict"
    )
    assert heatmap is None and not label.get("confidences")
    assert headline == "### Could not check this image"
    assert details.startswith("The image could not be read")


def test_model_unavailable_reads_as_a_message_after_retrying(
    frontend_without_model: RunningFrontend,
) -> None:
    client = Client(frontend_without_model.url, verbose=False)
    _, _, heatmap, details = client.predict(handle_file(str(EXAMPLE)), api_name="/predict")
    assert heatmap is None
    assert details.startswith("The model is unavailable right now")
    assert "model_unavailable" not in details.split("the API said")[0]
    note = client.predict(api_name="/model_note")
    assert "Model details are unavailable right now (503" in note


def test_model_note_is_honest_about_demo_data(client: Client) -> None:
    note = client.predict(api_name="/model_note")
    assert "aiornot-test-tiny" in note and "demo:v1:seed=0:size=64" in note
    assert "trained on the project's synthetic demo data" in note
    assert "never resized: up to 4x4 crops of 64x64 pixels" in note
    assert "heatmap covers the whole image" in note


def test_flagging_a_wrong_prediction_saves_a_csv_row_and_the_image(
    frontend: RunningFrontend,
) -> None:
    client = Client(frontend.url, verbose=False)  # its own session: State is per session
    headline, *_ = client.predict(handle_file(str(EXAMPLE)), api_name="/predict")
    assert headline.startswith("## Verdict:")
    status = client.predict("ai", "looks generated to me", api_name="/flag")
    assert status.startswith("Thank you: saved as")
    rows = list(csv.DictReader((frontend.settings.flag_dir / "flags.csv").open()))
    row = rows[-1]
    assert (row["correct_label"], row["comment"]) == ("ai", "looks generated to me")
    assert row["model_version"] and row["predicted_label"] in ("ai", "real")
    assert (frontend.settings.flag_dir / row["image_file"]).read_bytes() == EXAMPLE.read_bytes()


def test_upload_over_the_byte_limit_is_shrunk_when_the_api_takes_no_uploads(
    client: Client, api: UvicornServer, tmp_path: Path
) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (1500, 1500, 3), dtype=np.uint8)
    big = tmp_path / "big.png"
    Image.fromarray(pixels).save(big)
    direct = httpx.post(
        f"{api.url}/predict", content=big.read_bytes(), headers={"content-type": "image/png"}
    )
    assert direct.status_code == 413  # what the API says to the raw file
    headline, label, heatmap, details = client.predict(handle_file(str(big)), api_name="/predict")
    assert headline.startswith("## Verdict:") and label["confidences"] and heatmap is not None
    assert "This API takes no uploads (its UPLOADS_BUCKET is not set)." in details
    assert "was converted to a 1500x1500 JPEG" in details
