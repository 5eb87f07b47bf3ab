"""Image work the browser cannot do for us: fit uploads to the API's limits, draw the heatmap."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# What the API accepts (DESIGN.md, the HTTP API contract): Pillow format -> Content-Type.
API_FORMATS: dict[str, str] = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
}
# A diverging map for per-region AI probability: blue (looks real), white (no evidence either
# way, p = 0.5), red (looks AI-generated); the anchors of ColorBrewer's RdBu, reversed.
_COLORMAP = np.array(
    [(33, 102, 172), (103, 169, 207), (247, 247, 247), (239, 138, 98), (178, 24, 43)],
    dtype=np.float32,
)


# What Pillow raises for bytes it cannot (or will not) open as an image.
UNREADABLE = (
    UnidentifiedImageError,
    OSError,
    ValueError,
    SyntaxError,
    Image.DecompressionBombError,
)


@dataclass(frozen=True)
class Upload:
    """The bytes to POST, their Content-Type, and what (if anything) was done to them."""

    data: bytes
    content_type: str
    note: str = ""


def original_content_type(data: bytes, *, max_pixels: int) -> str | None:
    """The Content-Type to send these bytes unchanged as, or None when they must be shrunk
    (a format or pixel count the API refuses) or Pillow cannot read them."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, (width, height) = img.format or "", img.size
    except UNREADABLE:
        return None
    return API_FORMATS.get(fmt) if width * height <= max_pixels else None


def prepare_upload(data: bytes, *, max_bytes: int, max_pixels: int, max_side: int) -> Upload:
    """Send the original file when the API can take it; otherwise shrink it into a JPEG that fits.

    The original is preferred because re-encoding changes exactly the traces a detector reads.
    Bytes Pillow cannot open go out unchanged, so the API (the one judge of images) explains why.
    """
    content_type = original_content_type(data, max_pixels=max_pixels)
    if content_type and len(data) <= max_bytes:
        return Upload(data, content_type)
    fmt = ""
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, (width, height) = img.format or "", img.size
            img.draft("RGB", (max_side, max_side))  # JPEG: decode at reduced scale, cheaply
            img.load()
            shrunk = shrink_to_jpeg(img, max_bytes=max_bytes, max_side=max_side)
    except UNREADABLE:
        return Upload(data, API_FORMATS.get(fmt, "application/octet-stream"))
    with Image.open(io.BytesIO(shrunk)) as out:
        new_size = out.size
    note = (
        f"Your {fmt or 'image'} ({width}x{height}, {len(data) / 2**20:.1f} MiB) was converted to "
        f"a {new_size[0]}x{new_size[1]} JPEG ({len(shrunk) / 2**20:.2f} MiB) to fit the API's "
        f"limits; re-encoding can change the answer."
    )
    return Upload(shrunk, "image/jpeg", note)


def shrink_to_jpeg(img: Image.Image, *, max_bytes: int, max_side: int) -> bytes:
    """Upright RGB, longer side <= `max_side`, JPEG quality lowered (then size halved) to fit."""
    img = ImageOps.exif_transpose(img)
    if img.mode in ("RGBA", "LA", "P"):
        img = img.convert("RGBA")
        background = Image.new("RGB", img.size, (255, 255, 255))
        background.paste(img, mask=img.getchannel("A"))
        img = background
    img = img.convert("RGB")
    img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    while True:
        for quality in (92, 85, 75, 65):
            buffer = io.BytesIO()
            img.save(buffer, format="JPEG", quality=quality, optimize=True)
            if buffer.tell() <= max_bytes:
                return buffer.getvalue()
        if max(img.size) <= 16:
            raise ValueError(f"cannot fit the image into {max_bytes} bytes")
        img = img.resize(
            (max(1, img.width // 2), max(1, img.height // 2)), Image.Resampling.LANCZOS
        )


def colorize(values: np.ndarray) -> np.ndarray:
    """Map probabilities in [0, 1] to RGB uint8: blue for real, white at 0.5, red for AI."""
    scaled = np.clip(values, 0.0, 1.0) * (len(_COLORMAP) - 1)
    low = np.floor(scaled).astype(int).clip(0, len(_COLORMAP) - 2)
    frac = (scaled - low)[..., None]
    rgb = _COLORMAP[low] * (1 - frac) + _COLORMAP[low + 1] * frac
    return rgb.round().astype(np.uint8)


def overlay_heatmap(
    image: Image.Image,
    heatmap: list[list[float]],
    *,
    center_crop: bool = False,
    max_alpha: float = 0.7,
) -> Image.Image:
    """Tint each region by its AI probability, more strongly the further it is from 0.5.

    A region with no evidence either way keeps its own pixels, so a flat map looks flat.
    Today's models map the whole image (native-resolution crops laid out like it). An API
    serving an older bundle ("shorter side, then centre crop") maps only the centred
    square: with `center_crop` the map goes there and the margins it never saw are dimmed.
    """
    image.draft("RGB", (768, 768))  # a JPEG decodes at reduced scale; others are unaffected
    base = ImageOps.exif_transpose(image).convert("RGB")
    base.thumbnail((768, 768), Image.Resampling.LANCZOS)
    width, height = base.size
    side = min(width, height) if center_crop else 0
    box = (
        ((width - side) // 2, (height - side) // 2, (width + side) // 2, (height + side) // 2)
        if center_crop
        else (0, 0, width, height)
    )
    cam = np.asarray(heatmap, dtype=np.float32)
    if cam.ndim != 2 or cam.size == 0:
        raise ValueError(f"heatmap must be a non-empty 2-D grid, got shape {cam.shape}")
    region_size = (box[2] - box[0], box[3] - box[1])
    cam_img = Image.fromarray(np.clip(cam, 0.0, 1.0))
    probs = np.asarray(cam_img.resize(region_size, Image.Resampling.BILINEAR))
    alpha = (max_alpha * np.clip(np.abs(probs - 0.5) * 2.0, 0.0, 1.0))[..., None]
    region = np.asarray(base.crop(box), dtype=np.float32)
    tinted = region * (1 - alpha) + colorize(probs).astype(np.float32) * alpha
    out = Image.blend(base, Image.new("RGB", base.size, (0, 0, 0)), 0.5)  # dim the unseen
    out.paste(Image.fromarray(tinted.round().astype(np.uint8)), box[:2])
    return out
