"""Frontend settings, read once from `AIORNOT_*` environment variables (a Space's secrets)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024


class ConfigError(ValueError):
    """A setting the frontend cannot start without; the message says how to fix it."""


class Settings(BaseSettings):
    """Where the API is and how patiently to talk to it; each field is `AIORNOT_<FIELD>`."""

    model_config = SettingsConfigDict(
        env_prefix="AIORNOT_",
        env_ignore_empty=True,  # a blank variable (an empty Space secret) means unset
        extra="ignore",
        frozen=True,
        populate_by_name=True,
    )

    api_url: str
    api_key: str | None = None
    # Retries of a cold or busy API stop inside this budget (`AIORNOT_TIMEOUT_S`).
    total_timeout_s: float = Field(
        default=30.0,
        gt=0,
        validation_alias=AliasChoices("AIORNOT_TIMEOUT_S"),
    )
    request_timeout_s: float = Field(default=29.0, gt=0)  # API Gateway's integration limit
    backoff_initial_s: float = Field(default=0.5, ge=0)
    backoff_max_s: float = Field(default=8.0, ge=0)
    max_upload_bytes: int = Field(default=4 * MIB, gt=0)  # the API's raw-image byte limit
    max_pixels: int = Field(default=40_000_000, gt=0)  # the API's default pixel limit
    max_side: int = Field(default=2048, gt=0)  # longer side of an image the frontend shrank
    flag_dir: Path = Path("flagged")
    flag_s3_uri: str | None = None

    @field_validator("api_url", "api_key", "flag_s3_uri", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        """Surrounding spaces are a paste accident; only spaces mean unset, like empty."""
        if isinstance(value, str):
            return value.strip() or None
        return value

    @field_validator("api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(
                f"AIORNOT_API_URL must be an http(s) URL such as http://127.0.0.1:8000, "
                f"got {value!r}"
            )
        return value.rstrip("/")

    @field_validator("flag_s3_uri")
    @classmethod
    def _s3_uri(cls, value: str | None) -> str | None:
        if value and not value.startswith("s3://"):
            raise ValueError(f"AIORNOT_FLAG_S3_URI must start with s3://, got {value!r}")
        return value

    @classmethod
    def from_env(cls) -> Settings:
        """Read the environment; a missing or bad setting stops startup with a ConfigError."""
        try:
            return cls()  # type: ignore[call-arg]  # api_url comes from the environment
        except ValidationError as exc:
            raise ConfigError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    """One sentence per bad variable, naming it as the user set it."""
    parts = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "?"
        if field == "api_url" and error["type"] in ("missing", "string_type"):
            parts.append(
                "AIORNOT_API_URL is not set. Point it at the aiornot API: "
                "http://127.0.0.1:8000 for `make serve`, or the URL `make deploy` prints. "
                "On a Hugging Face Space, add it under Settings -> Variables and secrets."
            )
            continue
        variable = (
            field.upper() if field.upper().startswith("AIORNOT_") else f"AIORNOT_{field.upper()}"
        )
        message = str(error["msg"]).removeprefix("Value error, ")
        if variable in message:
            parts.append(message)
        elif str(error["type"]).endswith("_parsing"):
            parts.append(f"{variable} must be a number, got {error.get('input')!r}")
        else:
            parts.append(f"{variable}: {message}, got {error.get('input')!r}")
    return " ".join(parts)
