"""The ECR repository the function's image comes from."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match

from tests.infra.synth import Synthesized, only

LAMBDA_FUNCTIONS_HERE = "arn:aws:lambda:eu-west-1:123456789012:function:*"


def test_repository_scans_on_push_and_has_immutable_tags(default_synth: Synthesized) -> None:
    default_synth.template("Registry").has_resource_properties(
        "AWS::ECR::Repository",
        {
            "RepositoryName": "aiornot-dev",
            "ImageScanningConfiguration": {"ScanOnPush": True},
            "ImageTagMutability": "IMMUTABLE",
        },
    )


def test_lifecycle_keeps_only_the_last_n_images(default_synth: Synthesized) -> None:
    repo = only(default_synth.template_json("Registry"), "AWS::ECR::Repository")
    rules = json.loads(repo["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]
    assert [r["selection"] for r in rules] == [
        {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 10}
    ]
    assert rules[0]["action"] == {"type": "expire"}


def test_only_this_accounts_lambda_functions_may_pull(default_synth: Synthesized) -> None:
    default_synth.template("Registry").has_resource_properties(
        "AWS::ECR::Repository",
        {
            "RepositoryPolicyText": {
                "Statement": [
                    Match.object_like(
                        {
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                            "Condition": {"StringLike": {"aws:sourceArn": LAMBDA_FUNCTIONS_HERE}},
                        }
                    )
                ]
            }
        },
    )


def test_dev_repository_is_emptied_and_deleted_prod_is_retained(
    default_synth: Synthesized, variant_synth: Synthesized
) -> None:
    default_synth.template("Registry").has_resource(
        "AWS::ECR::Repository",
        {"DeletionPolicy": "Delete", "Properties": Match.object_like({"EmptyOnDelete": True})},
    )
    prod = variant_synth.template_json("Registry")["Resources"]
    [repository] = prod.values()
    assert repository["DeletionPolicy"] == "Retain"
    assert repository["Properties"].get("EmptyOnDelete") is not True
