"""Frontend settings, read once from the environment (a Hugging Face Space's secrets are env)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024


class ConfigError(ValueError):
    """A setting the frontend cannot start without; the message says how to fix it."""


@dataclass(frozen=True)
class Settings:
    """Where the API is and how patiently to talk to it."""

    api_url: str
    api_key: str | None = None
    total_timeout_s: float = 30.0  # retries of a cold or busy API stop inside this budget
    request_timeout_s: float = 29.0  # API Gateway's own integration limit
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 8.0
    max_upload_bytes: int = 4 * MIB  # the API's default raw-image byte limit
    max_pixels: int = 40_000_000  # the API's default pixel limit
    max_side: int = 2048  # longer side of an image the frontend had to shrink
    flag_dir: Path = Path("flagged")
    flag_s3_uri: str | None = None

    def __post_init__(self) -> None:
        if not self.api_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"AIORNOT_API_URL must be an http(s) URL such as http://127.0.0.1:8000, "
                f"got {self.api_url!r}"
            )
        if self.flag_s3_uri and not self.flag_s3_uri.startswith("s3://"):
            raise ConfigError(
                f"AIORNOT_FLAG_S3_URI must start with s3://, got {self.flag_s3_uri!r}"
            )
        object.__setattr__(self, "api_url", self.api_url.rstrip("/"))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from `AIORNOT_*` variables; a missing API URL stops startup."""
        env = os.environ if env is None else env
        url = env.get("AIORNOT_API_URL", "").strip()
        if not url:
            raise ConfigError(
                "AIORNOT_API_URL is not set. Point it at the aiornot API: "
                "http://127.0.0.1:8000 for `make serve`, or the URL `make deploy` prints. "
                "On a Hugging Face Space, add it under Settings -> Variables and secrets."
            )

        def number(name: str, default: float) -> float:
            raw = env.get(name, "").strip()
            try:
                return float(raw) if raw else default
            except ValueError as exc:
                raise ConfigError(f"{name} must be a number, got {raw!r}") from exc

        return cls(
            api_url=url,
            api_key=env.get("AIORNOT_API_KEY", "").strip() or None,
            total_timeout_s=number("AIORNOT_TIMEOUT_S", cls.total_timeout_s),
            max_upload_bytes=int(number("AIORNOT_MAX_UPLOAD_BYTES", cls.max_upload_bytes)),
            flag_dir=Path(env.get("AIORNOT_FLAG_DIR", "").strip() or cls.flag_dir),
            flag_s3_uri=env.get("AIORNOT_FLAG_S3_URI", "").strip() or None,
        )
