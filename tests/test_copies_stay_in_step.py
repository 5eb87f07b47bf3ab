"""Copies kept on purpose, pinned to their source so they cannot drift (issue 13).

The frontend ships alone as a Space and talks HTTP only, so it keeps its own list of the
formats the API accepts; infra's settings validate CORS origins at synth time while the
server only parses them; infra writes the model's S3 address without importing lambda_fn;
the gateway validates the JSON image fields and grants the upload prefix without it;
smoke checks a deployment as an outside client; the training configs spell out the network
they train, which the code names as a preset. Each copy must agree with its original.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from frontend.imaging import API_FORMATS
from infra.components.api import IMAGE_FIELDS as GATEWAY_IMAGE_FIELDS
from infra.components.model_store import UPLOAD_PREFIX as INFRA_UPLOAD_PREFIX
from infra.naming import model_uri
from infra.settings import Settings as InfraSettings
from lambda_fn.image_contract import ALLOWED_FORMATS
from lambda_fn.manifest import LABELS, MODELS_PREFIX, VersionAddress, version_uri
from lambda_fn.schemas import IMAGE_FIELDS
from lambda_fn.settings import Settings as ServingSettings
from lambda_fn.uploads import UPLOAD_PREFIX
from model_training.models import PRESETS, ResNetConfig
from ops.smoke import LABELS as SMOKE_LABELS


def test_the_frontend_knows_exactly_the_formats_the_api_accepts() -> None:
    assert API_FORMATS == ALLOWED_FORMATS


@pytest.mark.parametrize(
    "written",
    ["", "*", "https://a.example", "https://a.example, http://b.example:8080,",
     '["https://a.example", "https://b.example"]'],
)  # fmt: skip
def test_infra_and_the_server_read_cors_origins_the_same_way(written: str) -> None:
    assert InfraSettings(cors_origins=written).cors_origins == (
        ServingSettings(cors_origins=written).cors_origins
    )


def test_the_gateway_knows_the_json_image_fields_and_the_upload_prefix() -> None:
    """infra validates /predict's JSON body and grants `uploads/*` without importing
    lambda_fn, so it names the fields and the prefix itself."""
    assert GATEWAY_IMAGE_FIELDS == IMAGE_FIELDS
    assert INFRA_UPLOAD_PREFIX == UPLOAD_PREFIX


def test_smoke_checks_for_exactly_the_apis_labels() -> None:
    assert set(LABELS) == SMOKE_LABELS


def test_infra_addresses_a_model_version_exactly_as_the_loader_reads_it() -> None:
    """infra may not import lambda_fn (the CDK app knows no Python package), so it writes
    `s3://BUCKET/models/VERSION/` itself: both must name the same objects."""
    settings = InfraSettings(model_version="20261202T000000Z-abc1234")
    assert settings.model_prefix == MODELS_PREFIX
    address = VersionAddress("bucket", settings.model_version, settings.model_prefix)
    assert settings.model_key_prefix == address.key_prefix
    uri = model_uri("bucket", settings.model_prefix, settings.model_version)
    assert uri == version_uri("bucket", settings.model_version)


@pytest.mark.parametrize(
    ("config", "network"),
    [("demo.yaml", PRESETS["tiny"]), ("aiornot.yaml", replace(PRESETS["resnet18"], dropout=0.1))],
)
def test_each_training_config_trains_the_network_its_docs_name(
    config: str, network: ResNetConfig
) -> None:
    written = yaml.safe_load((Path(__file__).parents[1] / "configs" / config).read_text())
    assert ResNetConfig(**written["model"]["net"]) == network
