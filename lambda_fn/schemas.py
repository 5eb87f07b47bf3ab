"""Request and response bodies of the HTTP API, named for what they carry."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lambda_fn.uploads import UPLOAD_KEY_PATTERN


class ModelRef(BaseModel):
    """Which model answered: every response names it, so answers are traceable."""

    name: str
    version: str


class Timings(BaseModel):
    """Server-side milliseconds; `total` covers body reading, parsing and the three stages."""

    decode: float
    preprocess: float
    inference: float
    total: float


class Prediction(BaseModel):
    """The answer for one image."""

    label: str = Field(description="labels[1] ('ai') when ai_probability >= threshold")
    ai_probability: float = Field(ge=0.0, le=1.0, description="Calibrated P(AI-generated)")
    threshold: float = Field(ge=0.0, le=1.0)
    model: ModelRef
    heatmap: list[list[float]] | None = Field(
        default=None,
        description="Only with explain=true: rows of the class-activation map, each cell the "
        "calibrated AI probability of that region, in [0, 1]",
    )
    timings_ms: Timings


class PredictJson(BaseModel):
    """The JSON request body: the image inline (FSDL-style clients), by URL, or by upload key."""

    model_config = ConfigDict(extra="forbid", strict=True)

    image: str | None = Field(
        default=None, description="Base64 image bytes, or a data: URI (data:image/png;base64,...)"
    )
    image_url: str | None = Field(
        default=None,
        description="An https URL the API fetches the image from (public hosts only)",
        max_length=2048,
    )
    s3_key: str | None = Field(
        default=None,
        description="The key POST /uploads returned, after the file was POSTed to S3",
        pattern=UPLOAD_KEY_PATTERN,
    )
    explain: bool = Field(default=False, description="Add the heatmap (same as ?explain=true)")

    @model_validator(mode="after")
    def _one_image(self) -> PredictJson:
        given = [field for field in IMAGE_FIELDS if getattr(self, field) is not None]
        if len(given) != 1:
            raise ValueError('give exactly one of "image" (base64), "image_url" and "s3_key"')
        return self


IMAGE_FIELDS = ("image", "image_url", "s3_key")


class UploadTicket(BaseModel):
    """A presigned POST: send `fields` as form fields, then the image as field `file`, to `url`."""

    key: str = Field(description='Pass it to POST /predict as {"s3_key": key} once uploaded')
    url: str = Field(description="Where to POST the multipart form (S3, not this API)")
    fields: dict[str, str] = Field(description="Form fields to send before the file, unchanged")
    expires_in: int = Field(description="Seconds the signature stays valid")
    max_bytes: int = Field(description="Largest file S3 accepts for this key")


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code from the API's error table")
    message: str = Field(description="What went wrong and what to do about it")


class ErrorBody(BaseModel):
    """Every error response: `{"error": {"code", "message"}}`."""

    error: ErrorDetail


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    model: ModelRef
