"""One typed settings object for the CDK app, read once from CDK context and the environment.

Precedence: `-c key=value` context (camelCase keys) > `AIORNOT_*` environment > defaults.
Only this module knows where values come from; constructs receive plain typed arguments.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

API_GATEWAY_MAX_TIMEOUT_S = 29  # REST API integrations give up after 29 s
VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"  # no "/", no "*": keeps the grant exact
UNPINNED = "unpinned"  # placeholder for `make synth`; `make deploy` always pins both
NONE_WORDS = {"", "none", "null", "off"}


class Settings(BaseSettings):
    """Everything a deployment may vary; validated before any construct exists."""

    model_config = SettingsConfigDict(
        env_prefix="AIORNOT_", extra="ignore", frozen=True, populate_by_name=True
    )

    stage: Literal["dev", "prod"] = "dev"
    account: str | None = Field(
        default=None,
        pattern=r"^\d{12}$",
        validation_alias=AliasChoices("AIORNOT_ACCOUNT", "CDK_DEFAULT_ACCOUNT"),
    )
    region: str | None = Field(
        default=None,
        pattern=r"^[a-z]{2}(-[a-z]+)+-\d$",
        validation_alias=AliasChoices("AIORNOT_REGION", "CDK_DEFAULT_REGION"),
    )
    model_version: str = Field(default=UNPINNED, pattern=VERSION_PATTERN)
    model_prefix: str = Field(default="models", pattern=r"^[a-z0-9][a-z0-9-]*$")
    image_tag: str = Field(default=UNPINNED, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
    memory_mb: int = Field(default=2048, ge=128, le=10240)
    architecture: Literal["x86_64", "arm64"] = "x86_64"
    timeout_s: int = Field(default=API_GATEWAY_MAX_TIMEOUT_S, ge=1, le=API_GATEWAY_MAX_TIMEOUT_S)
    reserved_concurrency: int | None = Field(default=10, ge=1)
    # Cold starts: restore init from a snapshot, or keep environments initialised and paid
    # for. Either publishes a version behind the alias `live`, which the API invokes.
    snap_start: bool = False
    provisioned_concurrency: int | None = Field(default=None, ge=1)
    ephemeral_storage_mb: int = Field(default=512, ge=512, le=10240)  # /tmp: the model cache
    throttle_rate: float = Field(default=10.0, gt=0, description="steady requests/s")
    throttle_burst: int = Field(default=20, ge=1)
    quota_limit: int = Field(default=10_000, ge=1)
    quota_period: Literal["DAY", "WEEK", "MONTH"] = "DAY"
    require_api_key: bool = True
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    alarm_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    ecr_keep_images: int = Field(default=10, ge=1, le=1000)

    @field_validator(
        "reserved_concurrency",
        "provisioned_concurrency",
        "alarm_email",
        "account",
        "region",
        mode="before",
    )
    @classmethod
    def _none_words(cls, value: object) -> object:
        """Let `-c reservedConcurrency=none` switch an optional setting off."""
        if isinstance(value, str) and value.strip().lower() in NONE_WORDS:
            return None
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        """Accept a JSON list or a comma-separated string, as people write either."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [origin.strip() for origin in text.split(",") if origin.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin != "*" and not re.match(r"^https?://[^/\s]+$", origin):
                raise ValueError(f"CORS origin {origin!r} must be '*' or scheme://host[:port]")
        return origins

    @model_validator(mode="after")
    def _combinations_aws_accepts(self) -> Settings:
        """Refuse here what Lambda would refuse mid-deploy, with the reason."""
        if self.snap_start and self.provisioned_concurrency:
            raise ValueError(
                "snapStart and provisionedConcurrency cannot be combined (Lambda refuses "
                "SnapStart on a version with provisioned concurrency): choose one"
            )
        if self.snap_start and self.ephemeral_storage_mb > 512:
            raise ValueError(
                f"snapStart needs ephemeralStorageMb <= 512 (Lambda refuses SnapStart with "
                f"more), got {self.ephemeral_storage_mb}"
            )
        reserved, provisioned = self.reserved_concurrency, self.provisioned_concurrency
        if provisioned and reserved is not None and provisioned > reserved:
            raise ValueError(
                f"provisionedConcurrency ({provisioned}) cannot exceed reservedConcurrency "
                f"({reserved}): Lambda refuses it; raise reservedConcurrency or set it to none"
            )
        return self

    @property
    def published(self) -> bool:
        """Whether the API invokes a published version through the `live` alias."""
        return self.snap_start or self.provisioned_concurrency is not None

    @property
    def is_prod(self) -> bool:
        return self.stage == "prod"

    @property
    def pinned(self) -> bool:
        """Whether both the image and the model are pinned, i.e. the service is deployable."""
        return UNPINNED not in (self.model_version, self.image_tag)

    @property
    def model_key_prefix(self) -> str:
        """The one S3 prefix the function may read: `models/VERSION/`."""
        return f"{self.model_prefix}/{self.model_version}/"

    @classmethod
    def from_context(cls, get_context: Callable[[str], Any]) -> Settings:
        """Build from CDK context (`app.node.try_get_context`) over the environment."""
        overrides = {}
        for name in cls.model_fields:
            value = get_context(to_camel(name))
            if value is not None:
                overrides[name] = value
        return cls(**overrides)
