"""The Gradio page: upload, paste or photograph an image; see the verdict and where it looked.

`build_app(settings)` returns the UI; `python -m frontend.app` (or `python app.py` on a Space)
launches it. It talks to the aiornot API over HTTP only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image

from frontend.api_client import Answer, ApiClient, ApiError, UploadTooLarge
from frontend.flagging import FlagStore
from frontend.imaging import original_content_type, overlay_heatmap, prepare_upload
from frontend.messages import readable_message
from frontend.model_note import ModelNotes
from frontend.settings import MIB, ConfigError, Settings

EXAMPLES_DIR = Path(__file__).parent / "examples"
CSS = "#details, #model-note {font-size: 0.95em} footer {display: none !important}"
INTRO = (
    "# AI or not?\n"
    "Upload, paste or photograph an image. The model estimates how likely it is to be "
    "AI-generated and shows where in the picture its evidence came from."
)
FAILED = "### Could not check this image"
Outputs = tuple[str, dict[str, float], Image.Image | None, str, dict[str, Any] | None]


def build_app(
    settings: Settings, client: ApiClient | None = None, flags: FlagStore | None = None
) -> gr.Blocks:
    """Build the page; nothing here calls the API, so building works while the API is cold."""
    client = client or ApiClient(settings)
    flags = flags or FlagStore(settings.flag_dir, settings.flag_s3_uri)
    notes = ModelNotes(client)

    def predict(image_path: str | None) -> Outputs:
        if not image_path:
            return "", {}, None, "Upload, paste or take a picture first.", None
        try:
            answer, sent_note = send(Path(image_path).read_bytes())
        except ApiError as exc:
            return FAILED, {}, None, readable_message(exc, settings), None
        body = answer.body
        overlay, overlay_note = _overlay(image_path, body.get("heatmap"), notes.center_crop(body))
        p_ai = float(body["ai_probability"])
        record = {
            "image": image_path,
            "prediction": {k: v for k, v in body.items() if k != "heatmap"},
        }
        details = "\n\n".join(
            line for line in (_provenance(answer), sent_note, overlay_note) if line
        )
        confidences = {"AI-generated": p_ai, "Real": 1.0 - p_ai}
        return _headline(body), confidences, overlay, details, record

    def send(data: bytes) -> tuple[Answer, str]:
        """The original file when the API can take it: in the request body up to the request
        limit, through an S3 upload above it. Shrunk only when neither way can carry it."""
        fallback = ""
        content_type = original_content_type(data, max_pixels=settings.max_pixels)
        if content_type and len(data) > settings.max_upload_bytes:
            try:
                answer = client.predict_uploaded(data, content_type, explain=True)
                return answer, f"Sent at full size ({len(data) / MIB:.1f} MiB) through an upload."
            except UploadTooLarge as exc:
                fallback = f"It is over the API's upload limit ({exc.max_bytes / MIB:.0f} MiB)."
            except ApiError as exc:
                if exc.code != "uploads_disabled":
                    raise
                fallback = "This API takes no uploads (its UPLOADS_BUCKET is not set)."
        upload = prepare_upload(
            data,
            max_bytes=settings.max_upload_bytes,
            max_pixels=settings.max_pixels,
            max_side=settings.max_side,
        )
        answer = client.predict(upload.data, upload.content_type, explain=True)
        return answer, " ".join(part for part in (fallback, upload.note) if part)

    def flag(record: dict[str, Any] | None, correct: str | None, comment: str) -> str:
        if not record:
            return "Check an image first; then flag the answer if it is wrong."
        if correct not in ("real", "ai"):
            return "Choose the correct answer (real or AI-generated) before flagging."
        result = flags.save(Path(record["image"]), record["prediction"], correct, comment or "")
        where = f"saved as `{result.flag_id}`"
        if result.s3_keys:
            where += f" and copied to `{settings.flag_s3_uri}`"
        elif result.s3_error:
            where += f" locally (the S3 copy failed: {result.s3_error})"
        return f"Thank you: {where}."

    with gr.Blocks(title="AI or not?", analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        with gr.Row(equal_height=False):
            with gr.Column():
                image = gr.Image(
                    type="filepath",  # the original file, so nothing is re-encoded needlessly
                    image_mode=None,
                    sources=["upload", "clipboard", "webcam"],
                    label="Your image",
                    height=380,
                )
                with gr.Row():
                    gr.ClearButton([image], value="Clear")
                    submit = gr.Button("Check image", variant="primary", elem_id="check")
                if examples := example_images():
                    gr.Examples(
                        examples,
                        inputs=[image],
                        label="Examples made by this project: each photo crop (real), "
                        "then its upsampled copy (AI)",
                    )
            with gr.Column():
                headline = gr.Markdown(elem_id="verdict")
                label = gr.Label(
                    num_top_classes=2, label="Probabilities", show_heading=False, elem_id="probs"
                )
                heatmap = gr.Image(
                    type="pil",
                    label="Where the model looked: red looks AI-generated, blue looks real",
                    interactive=False,
                    height=380,
                    elem_id="heatmap",
                )
                details = gr.Markdown(elem_id="details")
        with gr.Accordion("Wrong answer? Flag it", open=False):
            correct = gr.Radio(
                [("Real", "real"), ("AI-generated", "ai")], label="The correct answer is"
            )
            comment = gr.Textbox(label="Comment (optional)", max_lines=3)
            flag_button = gr.Button("Flag this prediction")
            flag_status = gr.Markdown()
        note = gr.Markdown(elem_id="model-note")
        record = gr.State(None)
        outputs = [headline, label, heatmap, details, record]
        submit.click(predict, [image], outputs, api_name="predict")
        image.upload(predict, [image], outputs, api_visibility="private")
        flag_button.click(flag, [record, correct, comment], [flag_status], api_name="flag")
        demo.load(notes.markdown, None, [note], api_name="model_note")
    demo.queue(default_concurrency_limit=8)  # handlers mostly wait on the API, not the CPU
    return demo


def _headline(body: dict[str, Any]) -> str:
    """The verdict as the API decided it (threshold included), not the larger bar."""
    verdict = "AI-generated" if body.get("label") == "ai" else "Real"
    p_ai, threshold = float(body["ai_probability"]), float(body.get("threshold", 0.5))
    return (
        f"## Verdict: {verdict}\n"
        f"P(AI-generated) = {p_ai:.3f}, calibrated; the model says AI at P ≥ {threshold:.2f}."
    )


def _provenance(answer: Answer) -> str:
    """Which model answered and what it cost, as the server and this app measured it."""
    model, timings = answer.body.get("model") or {}, answer.body.get("timings_ms") or {}
    return (
        f"Model `{model.get('name', '?')}` version `{model.get('version', '?')}` · "
        f"server {timings.get('total', float('nan')):.0f} ms "
        f"(inference {timings.get('inference', float('nan')):.0f} ms) · "
        f"round trip {answer.round_trip_ms:.0f} ms, {answer.attempts} attempt(s)"
    )


def example_images() -> list[str]:
    """The committed examples, each real crop followed by its AI copy ("real-x", "ai-x")."""
    paths = EXAMPLES_DIR.glob("*.jpg")
    return [
        str(p) for p in sorted(paths, key=lambda p: (p.stem.split("-", 1)[-1], p.stem[:3] == "ai-"))
    ]


def _overlay(
    image_path: str, heatmap: list[list[float]] | None, center_crop: bool
) -> tuple[Image.Image | None, str]:
    """The heatmap over the image, or why there is none (the verdict stands either way)."""
    if not heatmap:
        return None, "The API sent no heatmap for this image."
    try:
        with Image.open(image_path) as img:
            return overlay_heatmap(img, heatmap, center_crop=center_crop), ""
    except (OSError, ValueError) as exc:
        return None, f"The heatmap could not be drawn here: {exc}"


def launch(demo: gr.Blocks, **kwargs: Any) -> Any:
    """Launch with the page's look; host and port come from GRADIO_SERVER_NAME/PORT or kwargs."""
    options: dict[str, Any] = {"theme": gr.themes.Soft(), "css": CSS, "max_file_size": "50mb"}
    options.update(kwargs)
    return demo.launch(**options)


def main() -> None:
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        raise SystemExit(f"aiornot frontend: {exc}") from None
    launch(build_app(settings))


if __name__ == "__main__":
    main()
