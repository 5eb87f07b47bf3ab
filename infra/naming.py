"""Names shared by the CDK app and the deploy script, so both agree without a deployed lookup.

Imports nothing from aws-cdk-lib: `ops.deploy` uses it to print exact commands offline.
"""

from __future__ import annotations

from typing import Literal

PROJECT = "AiOrNot"
StackKind = Literal["Registry", "ModelStore", "Service"]
DEPLOY_ORDER: tuple[StackKind, ...] = ("Registry", "ModelStore", "Service")


def stack_name(kind: StackKind, stage: str) -> str:
    """`AiOrNot-Service-dev`: a constant plus the stage, so stages never collide."""
    return f"{PROJECT}-{kind}-{stage}"


def repository_name(stage: str) -> str:
    """The app's own ECR repository."""
    return f"aiornot-{stage}"


def model_bucket_name(account: str, region: str, stage: str) -> str:
    """Globally unique because account and region are part of it (tokens work too)."""
    return f"aiornot-models-{account}-{region}-{stage}"


def upload_bucket_name(account: str, region: str, stage: str) -> str:
    """Where clients put images over the request limit (`POST /uploads`), kept one day."""
    return f"aiornot-uploads-{account}-{region}-{stage}"


def model_uri(bucket: str, prefix: str, version: str) -> str:
    """The `MODEL_URI` of one published bundle (DESIGN.md: s3://BUCKET/models/VERSION/)."""
    return f"s3://{bucket}/{prefix}/{version}/"


def registry_host(account: str, region: str) -> str:
    return f"{account}.dkr.ecr.{region}.amazonaws.com"


def image_uri(account: str, region: str, stage: str, tag: str) -> str:
    return f"{registry_host(account, region)}/{repository_name(stage)}:{tag}"
