"""Turn API failures into sentences a person can act on; the raw API text stays as a detail."""

from __future__ import annotations

from frontend.api_client import ApiError
from frontend.imaging import API_FORMATS
from frontend.settings import MIB, Settings

FORMAT_NAMES = ", ".join(name.replace("WEBP", "WebP") for name in API_FORMATS)


def readable_message(error: ApiError, settings: Settings) -> str:
    """One actionable sentence for the failure, then what the API itself said."""
    status, code = error.status, error.code
    said = f" (the API said: {error.message})" if error.message else ""
    if status == 413 and code == "image_too_large":
        return (
            f"Image too large: max {settings.max_pixels / 1e6:.0f} megapixels. "
            f"Resize it and try again{said}."
        )
    if status == 413:
        return (
            f"Image too large: max {settings.max_upload_bytes / MIB:.1f} MiB per image. "
            f"Resize or re-save it as JPEG and try again{said}."
        )
    if status == 415:
        return f"Unsupported image format: upload one of {FORMAT_NAMES}{said}."
    if status == 400 and code == "invalid_image":
        return f"The image could not be read: is the file complete and really an image?{said}"
    if code == "upload_failed":
        return (
            "The image could not be uploaded to the API's storage, which takes files over "
            f"{settings.max_upload_bytes / MIB:.1f} MiB; try again, or send a smaller file{said}."
        )
    if code in ("uploads_unavailable", "upload_not_found"):
        return (
            "The API's storage for large images did not work this time; try again, or send "
            f"a file under {settings.max_upload_bytes / MIB:.1f} MiB{said}."
        )
    if code == "model_unavailable" or status == 503:
        return (
            "The model is unavailable right now: the API has no verified model loaded, or is "
            f"still starting. Tried {error.attempts} time(s) within "
            f"{settings.total_timeout_s:.0f} s; try again in a minute{said}."
        )
    if status is None or status in (502, 504):
        return (
            f"The API at {settings.api_url} did not answer (tried {error.attempts} time(s) over "
            f"{settings.total_timeout_s:.0f} s). It may be starting up or down; try again"
            f" shortly{said}."
        )
    if status in (401, 403):
        return f"The API refused the request: check the AIORNOT_API_KEY secret{said}."
    if status == 429:
        return (
            f"Too many requests: the API's usage plan is throttling this app; wait a moment{said}."
        )
    if status == 404:
        return f"The API has no such endpoint: is AIORNOT_API_URL ({settings.api_url}) right?{said}"
    return f"The API refused the request ({status} {code}){said}."
