"""The image contract: decode, validate and preprocess one image, torch-free.

This module is the only implementation of preprocessing. Training (through
`model_training`) and serving both call it, so a model sees the same pixels in
both places.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

# Normalisation constants, written once (ImageNet statistics; the model is trained
# from scratch, but these keep inputs near zero mean and unit variance).
DEFAULT_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
DEFAULT_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

# Pillow format name -> the Content-Type that carries it.
ALLOWED_FORMATS: dict[str, str] = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
}
DEFAULT_MAX_PIXELS = 40_000_000
# Leading bytes of each allowed format: data that starts like one but does not parse is a
# broken image of an accepted type (400 invalid_image), not an unsupported type (415).
SIGNATURES: tuple[bytes, ...] = (
    b"\xff\xd8\xff",
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
)

# Never let Pillow silently pad a truncated file with grey.
ImageFile.LOAD_TRUNCATED_IMAGES = False


class ImageError(ValueError):
    """An image the contract refuses; `code` is the HTTP API's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class InputSpec:
    """Everything preprocessing needs; stored verbatim in the model manifest."""

    size: int = 64
    resize: str = "shorter_side_then_center_crop"
    interpolation: str = "bilinear"
    mean: tuple[float, float, float] = DEFAULT_MEAN
    std: tuple[float, float, float] = DEFAULT_STD
    layout: str = "NCHW"
    dtype: str = "float32"
    color: str = "RGB"
    scale: float = 1 / 255
    reduced_jpeg_decoding: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["mean"], data["std"] = list(self.mean), list(self.std)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputSpec:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key in ("mean", "std"):
            if key in known:
                known[key] = tuple(float(x) for x in known[key])
        return cls(**known)


def sniff_format(data: bytes) -> str:
    """Identify the container format without decoding pixels; raise if not allowed."""
    if not data:
        raise ImageError("invalid_image", "The image is empty (0 bytes).")
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format or ""
    except Image.DecompressionBombError as exc:
        raise ImageError("image_too_large", f"The image has too many pixels: {exc}") from exc
    except UnidentifiedImageError as exc:
        if data.startswith(SIGNATURES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
            raise ImageError(
                "invalid_image", "The image is truncated or corrupt: its header is unreadable."
            ) from exc
        raise ImageError(
            "unsupported_media_type",
            "The data is not an image in a supported format "
            f"({', '.join(sorted(ALLOWED_FORMATS))}).",
        ) from exc
    except Exception as exc:  # Pillow raises many types for malformed headers
        raise ImageError("invalid_image", f"The image header could not be read: {exc}") from exc
    if fmt not in ALLOWED_FORMATS:
        raise ImageError(
            "unsupported_media_type",
            f"Image format {fmt or 'unknown'} is not supported; "
            f"send one of {', '.join(sorted(ALLOWED_FORMATS))}.",
        )
    return fmt


def decode_image(
    data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, target_size: int | None = None
) -> Image.Image:
    """Decode bytes into an upright RGB image, refusing bombs before allocating pixels.

    `target_size` enables reduced-size JPEG decoding (DCT scaling): the decoder
    produces the smallest image whose shorter side is still at least that size.
    """
    sniff_format(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            width, height = img.size
            if width <= 0 or height <= 0:
                raise ImageError("invalid_image", "The image has zero width or height.")
            if width * height > max_pixels:
                raise ImageError(
                    "image_too_large",
                    f"The image is {width}x{height} = {width * height:,} pixels; "
                    f"the limit is {max_pixels:,}.",
                )
            if getattr(img, "n_frames", 1) > 1:
                img.seek(0)  # animated GIF/WebP/TIFF: the first frame only
            if target_size and img.format == "JPEG":
                _draft_for_shorter_side(img, target_size)
            img.load()
            return to_rgb(img)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError("image_too_large", f"The image has too many pixels: {exc}") from exc
    except MemoryError as exc:
        raise ImageError("image_too_large", "The image is too large to decode.") from exc
    except Exception as exc:  # truncated, corrupt, bad chunks: all the client's data
        raise ImageError("invalid_image", f"The image could not be decoded: {exc}") from exc


def _draft_for_shorter_side(img: Image.Image, target_size: int) -> None:
    """Ask libjpeg for a DCT-scaled decode whose shorter side stays >= target_size."""
    width, height = img.size
    shorter = min(width, height)
    if shorter <= target_size:
        return
    scale = max(1, shorter // target_size)
    img.draft("RGB", (max(1, width // scale), max(1, height // scale)))


def to_rgb(img: Image.Image) -> Image.Image:
    """Apply EXIF orientation and convert any Pillow mode to 8-bit RGB."""
    if img.getexif().get(0x0112, 1) != 1:  # EXIF Orientation
        img = ImageOps.exif_transpose(img)
    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        array = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if array.max(initial=0) > 255 else 255.0
        gray = np.clip(array / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(gray, mode="L").convert("RGB")
    if img.mode == "F":
        array = np.nan_to_num(np.asarray(img, dtype=np.float64))
        lo, hi = float(array.min(initial=0)), float(array.max(initial=1))
        gray = ((array - lo) / (hi - lo or 1.0) * 255.0).astype(np.uint8)
        return Image.fromarray(gray, mode="L").convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


_RESAMPLING = {
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "nearest": Image.Resampling.NEAREST,
    "lanczos": Image.Resampling.LANCZOS,
}


def resize_and_crop(img: Image.Image, spec: InputSpec) -> Image.Image:
    """Scale the shorter side to `spec.size` (a no-op when it already is), then center-crop."""
    if spec.resize != "shorter_side_then_center_crop":
        raise ValueError(f"unknown resize rule {spec.resize!r}")
    width, height = img.size
    size = spec.size
    if min(width, height) != size:
        scale = size / min(width, height)
        new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
        img = img.resize((new_w, new_h), _RESAMPLING[spec.interpolation])
        width, height = img.size
    if (width, height) != (size, size):
        left, top = (width - size) // 2, (height - size) // 2
        img = img.crop((left, top, left + size, top + size))
    return img


def to_array(img: Image.Image, spec: InputSpec) -> np.ndarray:
    """Normalise an RGB image of the right size into a (3, H, W) float32 array.

    One fused multiply-add per pixel, (x * scale - mean) / std == x * gain + offset,
    on the channel-first view: half the time of the textbook three-pass version.
    """
    std = np.asarray(spec.std, dtype=np.float32)
    gain = (np.float32(spec.scale) / std)[:, None, None]
    offset = (-np.asarray(spec.mean, dtype=np.float32) / std)[:, None, None]
    chw = np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)
    out = np.multiply(chw, gain, dtype=np.float32, order="C")
    out += offset
    return out


def preprocess(img: Image.Image, spec: InputSpec) -> np.ndarray:
    """RGB image -> model input (3, size, size), the same in training and serving."""
    if img.mode != "RGB":
        img = to_rgb(img)
    return to_array(resize_and_crop(img, spec), spec)


def load_for_model(
    data: bytes, spec: InputSpec, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """Bytes -> model input; the whole contract in one call."""
    target = spec.size if spec.reduced_jpeg_decoding else None
    return preprocess(decode_image(data, max_pixels=max_pixels, target_size=target), spec)
