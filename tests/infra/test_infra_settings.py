"""The one settings object: defaults, validation, and where values come from."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from infra.settings import Settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own AIORNOT_* or CDK_DEFAULT_* variables must not change the outcome."""
    for name in [n for n in os.environ if n.startswith(("AIORNOT_", "CDK_DEFAULT_"))]:
        monkeypatch.delenv(name)


def from_context(**context: str) -> Settings:
    return Settings.from_context(context.get)


def test_defaults_are_the_documented_safe_ones() -> None:
    settings = from_context()
    assert settings.stage == "dev"
    assert settings.memory_mb == 2048
    assert settings.architecture == "x86_64"
    assert settings.timeout_s <= 29
    assert settings.require_api_key is True
    assert settings.reserved_concurrency == 10
    assert settings.alarm_email is None
    assert settings.cors_origins == []
    assert not settings.pinned


def test_context_strings_are_coerced_to_typed_values() -> None:
    settings = from_context(
        memoryMb="3008",
        requireApiKey="false",
        reservedConcurrency="none",
        throttleRate="2.5",
        corsOrigins="https://a.example, https://b.example",
        modelVersion="v1",
        imageTag="abc-x86_64",
    )
    assert settings.memory_mb == 3008
    assert settings.require_api_key is False
    assert settings.reserved_concurrency is None
    assert settings.throttle_rate == 2.5
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.pinned
    assert settings.model_key_prefix == "models/v1/"


def test_context_beats_environment_which_beats_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIORNOT_MEMORY_MB", "1024")
    monkeypatch.setenv("AIORNOT_STAGE", "prod")
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "111111111111")
    settings = from_context(stage="dev")
    assert (settings.memory_mb, settings.stage, settings.account) == (1024, "dev", "111111111111")


@pytest.mark.parametrize("timeout", ["30", "0", "900"])
def test_timeout_beyond_api_gateway_limit_is_rejected(timeout: str) -> None:
    with pytest.raises(ValidationError, match="timeout_s"):
        from_context(timeoutS=timeout)


@pytest.mark.parametrize("version", ["*", "v1/*", "../v1", "", "v 1"])
def test_model_version_that_could_widen_the_grant_is_rejected(version: str) -> None:
    with pytest.raises(ValidationError, match="model_version"):
        from_context(modelVersion=version)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("stage", "staging"),
        ("architecture", "arm"),
        ("account", "12345"),
        ("alarmEmail", "not-an-email"),
        ("corsOrigins", "example.org"),
        ("memoryMb", "64"),
    ],
)
def test_invalid_values_fail_before_any_construct_exists(key: str, value: str) -> None:
    with pytest.raises(ValidationError):
        from_context(**{key: value})


@pytest.mark.parametrize(
    ("context", "reason"),
    [
        ({"snapStart": "true", "provisionedConcurrency": "2"}, "cannot be combined"),
        ({"snapStart": "true", "ephemeralStorageMb": "1024"}, "ephemeralStorageMb <= 512"),
        ({"provisionedConcurrency": "11", "reservedConcurrency": "10"}, "cannot exceed"),
    ],
)
def test_combinations_lambda_refuses_are_refused_with_the_reason(
    context: dict[str, str], reason: str
) -> None:
    with pytest.raises(ValidationError, match=reason):
        from_context(**context)


def test_snapstart_and_provisioned_concurrency_each_publish_a_version() -> None:
    assert not from_context().published
    assert from_context(snapStart="true").published
    assert from_context(provisionedConcurrency="2", reservedConcurrency="none").published
    assert from_context(provisionedConcurrency="10").provisioned_concurrency == 10
