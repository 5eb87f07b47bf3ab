"""The image contract's first half: decode and validate one upload, torch-free.

Every image, in training, evaluation, the export's parity gate and serving, is decoded
here at its full native size; `lambda_fn.stem` then turns it into model input.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

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


def decode_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode bytes into an upright RGB image at full size, refusing bombs before allocating.

    Never at reduced size (JPEG draft mode): a detector needs every native pixel.
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
