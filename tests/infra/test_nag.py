"""cdk-nag (AwsSolutions + Serverless): nothing unsuppressed, every suppression explained."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from tests.infra.synth import DEFAULT_CONTEXT, KINDS, Synthesized, load_cdk_app, settings_env

NAG_RULES = Match.string_like_regexp("AwsSolutions-.*|Serverless-.*")
# Each of these was reviewed; a new suppression must be added here on purpose.
REVIEWED_SUPPRESSIONS = {
    "AwsSolutions-IAM4",  # API Gateway's account logging role (AWS-managed policy)
    "AwsSolutions-IAM5",  # X-Ray Resource '*'; objects under the one model prefix
    "AwsSolutions-APIG3",  # WAF is opt-in
    "AwsSolutions-APIG4",  # API keys, not IAM/Cognito
    "AwsSolutions-COG4",  # no user pool
    "Serverless-LambdaDLQ",  # synchronous invocations only
    "Serverless-SNSRedrivePolicy",  # e-mail alarm subscription
}
GRANULAR_RULES = {"AwsSolutions-IAM4", "AwsSolutions-IAM5"}


def suppressions(synth: Synthesized) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for kind in KINDS:
        for logical_id, resource in synth.template_json(kind)["Resources"].items():
            rules = resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
            found += [(f"{kind}/{logical_id}", rule) for rule in rules]
    return found


@pytest.mark.parametrize("variant", ["default_synth", "variant_synth", "snapstart_synth"])
def test_no_unsuppressed_nag_errors_or_warnings(
    variant: str, request: pytest.FixtureRequest
) -> None:
    synth: Synthesized = request.getfixturevalue(variant)
    for kind in KINDS:
        annotations = Annotations.from_stack(synth.stacks[kind])
        assert annotations.find_error("*", NAG_RULES) == [], kind
        assert annotations.find_warning("*", NAG_RULES) == [], kind


@pytest.mark.parametrize("variant", ["default_synth", "variant_synth", "snapstart_synth"])
def test_every_suppression_is_reviewed_specific_and_granular(
    variant: str, request: pytest.FixtureRequest
) -> None:
    found = suppressions(request.getfixturevalue(variant))
    assert found, "expected the reviewed suppressions to be present"
    for where, rule in found:
        assert rule["id"] in REVIEWED_SUPPRESSIONS, f"{where}: unreviewed {rule['id']}"
        assert len(rule["reason"]) >= 60, f"{where}: reason too vague: {rule['reason']!r}"
        if rule["id"] in GRANULAR_RULES:
            assert rule.get("applies_to"), f"{where}: {rule['id']} needs appliesTo"
            if "Resource::*" in rule["applies_to"]:  # only for actions without resource ARNs
                assert "X-Ray" in rule["reason"], f"{where}: unexplained Resource::*"


def test_nag_packs_do_flag_an_unsafe_resource() -> None:
    """The gate is live: the same packs report a bare bucket (no logs, no TLS enforcement)."""
    app = cdk.App()
    stack = cdk.Stack(app, "Unsafe")
    s3.Bucket(stack, "Bare")
    cdk.Aspects.of(app).add(AwsSolutionsChecks())
    cdk.Aspects.of(app).add(ServerlessChecks())
    errors = Annotations.from_stack(stack).find_error("*", NAG_RULES)
    assert any("AwsSolutions-S1" in str(e.entry.data) for e in errors)


def test_the_app_itself_runs_both_packs_on_every_stack(tmp_path: Path) -> None:
    """ "No findings" is also true when no pack runs: plant a bare bucket and a bare function
    in each of the app's own stacks, and the app's aspects must flag both packs' rules."""
    with pytest.MonkeyPatch.context() as patch:
        for name in set(os.environ) - set(settings_env()):
            patch.delenv(name)
        app = load_cdk_app().build_app(dict(DEFAULT_CONTEXT), outdir=str(tmp_path))
    stacks = [child for child in app.node.children if isinstance(child, cdk.Stack)]
    assert len(stacks) == len(KINDS)
    for stack in stacks:
        s3.Bucket(stack, "PlantedBareBucket")
        lambda_.CfnFunction(
            stack, "PlantedBareFunction", role="arn:aws:iam::123456789012:role/planted",
            code=lambda_.CfnFunction.CodeProperty(zip_file="def handler(e, c): pass"),
            runtime="python3.12", handler="index.handler",
        )  # fmt: skip
    app.synth()
    for stack in stacks:
        annotations = Annotations.from_stack(stack)
        found = annotations.find_error("*", NAG_RULES) + annotations.find_warning("*", NAG_RULES)
        rules = str([entry.entry.data for entry in found])
        assert "AwsSolutions-S1" in rules, f"{stack.node.id}: AwsSolutions checks did not run"
        assert "Serverless-Lambda" in rules, f"{stack.node.id}: Serverless checks did not run"
