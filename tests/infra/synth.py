"""Synthesis helpers for the infra tests: the variants' context, one synth, template lookups."""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

# Before aws_cdk is imported: jsii's Node.js version banner is noise in test output.
QUIET_NODE = {
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20,21,22,23,24",
    "CDK_DISABLE_CLI_TELEMETRY": "true",
    "CDK_DISABLE_VERSION_CHECK": "true",
}
os.environ.update(QUIET_NODE)

from aws_cdk import Stack  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
MODEL_VERSION = "20261125T120000Z-3f2a9c1"
IMAGE_TAG = "0123456789abcdef-x86_64"
KINDS = ("Registry", "ModelStore", "Service")
DEFAULT_CONTEXT = {
    "stage": "dev",
    "account": ACCOUNT,
    "region": "eu-west-1",
    "modelVersion": MODEL_VERSION,
    "imageTag": IMAGE_TAG,
    "corsOrigins": "https://example.org",
    "alarmEmail": "ops@example.org",
}
VARIANT_CONTEXT = {
    "stage": "prod",
    "account": ACCOUNT,
    "region": "us-east-1",
    "architecture": "arm64",
    "requireApiKey": "false",
    "reservedConcurrency": "none",
    "memoryMb": "3008",
    "timeoutS": "20",
    "modelVersion": MODEL_VERSION,
    "imageTag": "0123456789abcdef-arm64",
    "provisionedConcurrency": "2",
}
SNAPSTART_CONTEXT = {**DEFAULT_CONTEXT, "snapStart": "true"}


def settings_env() -> dict[str, str]:
    """The environment minus anything that would leak a developer's settings into a test."""
    prefixes = ("AIORNOT_", "CDK_DEFAULT_", "CDK_CONTEXT_JSON", "CDK_OUTDIR")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


def load_cdk_app() -> ModuleType:
    """The root `app.py`, imported by path (it is a script, not a package module)."""
    spec = importlib.util.spec_from_file_location("aiornot_cdk_app", ROOT / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Synthesized:
    """One synthesized app: its stacks by kind, templates on demand, the assembly on disk."""

    stacks: dict[str, Stack]
    directory: Path
    context: Mapping[str, str]
    _templates: dict[str, Template] = field(default_factory=dict)

    def template(self, kind: str) -> Template:
        if kind not in self._templates:
            self._templates[kind] = Template.from_stack(self.stacks[kind])
        return self._templates[kind]

    def template_json(self, kind: str) -> dict[str, Any]:
        return self.template(kind).to_json()

    def template_files(self) -> list[Path]:
        return sorted(self.directory.glob("*.template.json"))


def synthesize(context: Mapping[str, str], outdir: Path) -> Synthesized:
    with pytest.MonkeyPatch.context() as patch:
        for name in set(os.environ) - set(settings_env()):
            patch.delenv(name)
        app = load_cdk_app().build_app(dict(context), outdir=str(outdir))
    stacks = {
        kind: next(
            c for c in app.node.children if isinstance(c, Stack) and f"-{kind}-" in c.node.id
        )
        for kind in KINDS
    }
    app.synth()
    return Synthesized(stacks=stacks, directory=outdir, context=context)


def resources(template: dict[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_name}


def only(template: dict[str, Any], type_name: str) -> dict[str, Any]:
    """The properties of the single resource of that type (fails if there are several)."""
    found = resources(template, type_name)
    assert len(found) == 1, f"expected one {type_name}, found {sorted(found)}"
    return next(iter(found.values())).get("Properties", {})


def load_json(path: Path) -> Any:
    return json.loads(path.read_text())
