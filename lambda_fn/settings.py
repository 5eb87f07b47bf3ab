"""One settings object for the serving app, read from the environment once."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from lambda_fn.image_contract import DEFAULT_MAX_PIXELS
from lambda_fn.url_fetch import FetchPolicy

MIB = 1024 * 1024
LAMBDA_MB_PER_VCPU = 1769  # Lambda allocates one full vCPU per 1,769 MB of memory
LAMBDA_MAX_VCPUS = 6


class S3Settings(BaseSettings):
    """How the model store is reached (`AIORNOT_S3_RETRIES`, `_CONNECT_TIMEOUT`, `_READ_TIMEOUT`).

    botocore's `max_attempts` counts retries after the first try. On Lambda, lower the
    timeouts so a hanging store fails within the 10 s init phase instead of after ~150 s.
    """

    model_config = SettingsConfigDict(env_prefix="AIORNOT_S3_", extra="ignore", frozen=True)

    retries: int = Field(default=4, ge=0)
    connect_timeout: float = Field(default=5.0, gt=0, description="seconds")
    read_timeout: float = Field(default=30.0, gt=0, description="seconds")


class Settings(BaseSettings):
    """Serving configuration; every field is an environment variable of the same name."""

    model_config = SettingsConfigDict(
        case_sensitive=False, extra="ignore", frozen=True, protected_namespaces=()
    )

    model_uri: str = Field(default="", description="Bundle directory or s3://BUCKET/models/V/")
    model_cache_dir: Path = Path(tempfile.gettempdir()) / "aiornot-models"
    model_retry_seconds: float = Field(default=60.0, ge=0)
    model_variant: str = Field(
        default="auto",
        description="auto: the manifest's serving_variant; fp32: model.onnx; or a variant name",
    )
    max_body_bytes: int = Field(default=4 * MIB, gt=0, description="Limit on the image bytes")
    max_pixels: int = Field(default=DEFAULT_MAX_PIXELS, gt=0)
    ort_intra_op_threads: int | None = Field(default=None, ge=1)
    ort_inter_op_threads: int = Field(default=1, ge=1)
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    api_root_path: str = Field(default="", description="API Gateway stage prefix, e.g. /prod")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    url_fetch_allow_http: bool = Field(default=False, description="image_url may be http://")
    url_fetch_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="image_url hosts allowed; empty: any public host"
    )
    url_fetch_timeout: float = Field(default=10.0, gt=0, description="seconds per read")
    url_fetch_allow_loopback: bool = Field(
        default=False, description="tests only: image_url may name 127.0.0.0/8 or ::1"
    )
    uploads_bucket: str = Field(
        default="", description="Bucket for POST /uploads and s3_key; empty: uploads are off"
    )
    uploads_max_bytes: int = Field(default=20 * MIB, gt=0, description="Limit on an upload")
    uploads_expires_s: int = Field(
        default=300, ge=60, le=3600, description="How long a presigned POST stays valid"
    )
    aws_lambda_function_name: str | None = None
    aws_lambda_function_memory_size: int | None = None

    @field_validator("cors_origins", "url_fetch_allowed_hosts", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        """Accept a JSON list or a comma-separated string, as people write either."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [origin.strip() for origin in text.split(",") if origin.strip()]
        return value

    @field_validator("url_fetch_allowed_hosts")
    @classmethod
    def _lower_hosts(cls, value: list[str]) -> list[str]:
        return [host.strip().rstrip(".").lower() for host in value]

    @field_validator("api_root_path")
    @classmethod
    def _normalise_root(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        return value if not value or value.startswith("/") else f"/{value}"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @property
    def in_lambda(self) -> bool:
        return bool(self.aws_lambda_function_name)

    def fetch_policy(self) -> FetchPolicy:
        """How image_url is fetched: the body's byte limit, and the URL_FETCH_* settings."""
        return FetchPolicy(
            max_bytes=self.max_body_bytes,
            allow_http=self.url_fetch_allow_http,
            allowed_hosts=frozenset(self.url_fetch_allowed_hosts),
            allow_loopback=self.url_fetch_allow_loopback,
            read_timeout=self.url_fetch_timeout,
            total_timeout=2 * self.url_fetch_timeout,
        )

    @property
    def intra_op_threads(self) -> int:
        """Explicit setting, else the vCPUs Lambda grants for the memory size, else the cores."""
        if self.ort_intra_op_threads:
            return self.ort_intra_op_threads
        if self.aws_lambda_function_memory_size:
            vcpus = round(self.aws_lambda_function_memory_size / LAMBDA_MB_PER_VCPU)
            return max(1, min(LAMBDA_MAX_VCPUS, vcpus))
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
