"""A real browser (Debian's headless Chromium) uploads an image and sees the verdict rendered."""

from __future__ import annotations

import base64
import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from frontend.app import EXAMPLES_DIR
from tests.frontend.conftest import RunningFrontend

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
REPO = Path(__file__).resolve().parents[2]
# Every run keeps its screenshot under artifacts/; AIORNOT_UPDATE_SCREENSHOT=1 refreshes
# the README's picture (docs/images/frontend.png) from the same test.
SCREENSHOT = (
    REPO / "docs" / "images" / "frontend.png"
    if os.environ.get("AIORNOT_UPDATE_SCREENSHOT") == "1"
    else REPO / "artifacts" / "screenshots" / "frontend.png"
)
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
)
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
)


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WebDriver]:
    monkeypatch.setenv("SE_OFFLINE", "true")  # never let Selenium Manager reach the network
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_browser_upload_renders_verdict_heatmap_and_model_note(
    frontend: RunningFrontend, browser: WebDriver
) -> None:
    wait = WebDriverWait(browser, 60)
    browser.get(frontend.url)
    upload = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "input[type=file]")))
    example = EXAMPLES_DIR / "ai-motorcycle.jpg"
    upload.send_keys(str(example))
    wait.until(ec.text_to_be_present_in_element((By.ID, "verdict"), "Verdict:"))
    wait.until(ec.text_to_be_present_in_element((By.ID, "details"), "round trip"))
    wait.until(ec.text_to_be_present_in_element((By.ID, "model-note"), "synthetic demo data"))
    bars = browser.find_element(By.ID, "probs").text
    assert "AI-generated" in bars and "Real" in bars and "%" in bars
    overlay_width = wait.until(
        lambda d: d.execute_script(
            "const img = document.querySelector('#heatmap img');"
            "return img && img.complete ? img.naturalWidth : 0;"
        )
    )
    with Image.open(example) as shown:
        assert overlay_width == shown.width  # the heatmap drawn over the image at its own size
    save_full_page(browser, SCREENSHOT)
    with Image.open(SCREENSHOT) as shot:
        assert shot.width >= 1000 and shot.height >= 900


def save_full_page(driver: WebDriver, path: Path) -> None:
    """A PNG of the whole page, below the fold too (Chrome DevTools Protocol), kept small."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    page = Image.open(io.BytesIO(base64.b64decode(shot["data"]))).convert("RGB")
    small = page.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    path.parent.mkdir(parents=True, exist_ok=True)
    small.save(path, optimize=True)  # a 256-colour PNG: a third of the size, same look
