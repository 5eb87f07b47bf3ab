#!/usr/bin/env python3
"""The CDK app: read settings once, build the three stacks, check them with cdk-nag."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from infra.settings import Settings
from infra.stacks import ModelStoreStack, RegistryStack, ServiceStack

CDK_JSON = Path(__file__).with_name("cdk.json")


def build_app(context: Mapping[str, Any] | None = None, outdir: str | None = None) -> cdk.App:
    """Everything `cdk synth` does, callable from tests with explicit context."""
    # cdk.json's feature flags as defaults, so `python app.py` and tests synthesize exactly
    # what the CLI does; the CLI's own context (cdk.json plus -c) still takes precedence.
    defaults = {**json.loads(CDK_JSON.read_text())["context"], **(context or {})}
    app = cdk.App(context=defaults, outdir=outdir)
    settings = Settings.from_context(app.node.try_get_context)
    env = cdk.Environment(account=settings.account, region=settings.region)
    registry = RegistryStack(app, settings=settings, env=env)
    store = ModelStoreStack(app, settings=settings, env=env)
    service = ServiceStack(app, settings=settings, env=env)
    service.add_stack_dependency(registry, "the image is pushed to the registry first")
    service.add_stack_dependency(store, "the model bundle is published to the store first")
    cdk.Tags.of(app).add("project", "aiornot")
    cdk.Tags.of(app).add("stage", settings.stage)
    cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    cdk.Aspects.of(app).add(ServerlessChecks(verbose=True))
    return app


if __name__ == "__main__":
    build_app().synth()
