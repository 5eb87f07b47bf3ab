"""The Lambda function: image, sizing, environment, logs, and least-privilege model access."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match

from tests.infra.synth import IMAGE_TAG, MODEL_VERSION, Synthesized, only, resources

MODEL_BUCKET = "aiornot-models-123456789012-eu-west-1-dev"
UPLOAD_BUCKET = "aiornot-uploads-123456789012-eu-west-1-dev"


def function(synth: Synthesized) -> dict[str, Any]:
    return only(synth.template_json("Service"), "AWS::Lambda::Function")


def function_statements(synth: Synthesized) -> list[dict[str, Any]]:
    policies = resources(synth.template_json("Service"), "AWS::IAM::Policy")
    [policy] = [p for k, p in policies.items() if k.startswith("InferenceFunctionRole")]
    return policy["Properties"]["PolicyDocument"]["Statement"]


def image_uri(props: dict[str, Any]) -> str:
    parts = props["Code"]["ImageUri"]["Fn::Join"][1]
    return "".join(p if isinstance(p, str) else "amazonaws.com" for p in parts)


def test_image_comes_from_our_repository_at_the_pinned_tag(default_synth: Synthesized) -> None:
    props = function(default_synth)
    assert props["PackageType"] == "Image"
    uri = image_uri(props)
    assert uri == f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/aiornot-dev:{IMAGE_TAG}"


def test_default_sizing_is_2048_mb_x86_with_reserved_concurrency(
    default_synth: Synthesized,
) -> None:
    default_synth.template("Service").has_resource_properties(
        "AWS::Lambda::Function",
        {
            "MemorySize": 2048,
            "Timeout": 29,
            "Architectures": ["x86_64"],
            "ReservedConcurrentExecutions": 10,
            "TracingConfig": {"Mode": "Active"},
        },
    )


def test_variant_settings_reach_the_function(variant_synth: Synthesized) -> None:
    props = function(variant_synth)
    assert props["Architectures"] == ["arm64"]
    assert (props["MemorySize"], props["Timeout"]) == (3008, 20)
    assert "ReservedConcurrentExecutions" not in props
    assert image_uri(props).endswith("/aiornot-prod:0123456789abcdef-arm64")


def test_model_uri_pins_one_exact_version(default_synth: Synthesized) -> None:
    env = function(default_synth)["Environment"]["Variables"]
    assert env["MODEL_URI"] == f"s3://{MODEL_BUCKET}/models/{MODEL_VERSION}/"
    assert env["POWERTOOLS_SERVICE_NAME"] == "aiornot"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "AiOrNot"
    assert env["API_ROOT_PATH"] == "/dev"
    assert env["CORS_ORIGINS"] == "https://example.org"


def test_logs_go_to_a_log_group_with_retention(default_synth: Synthesized) -> None:
    template = default_synth.template_json("Service")
    props = function(default_synth)
    group_id = props["LoggingConfig"]["LogGroup"]["Ref"]
    assert template["Resources"][group_id]["Properties"]["RetentionInDays"] == 30


def s3_statements(synth: Synthesized, bucket: str) -> list[dict[str, Any]]:
    return [
        s
        for s in function_statements(synth)
        if str(s["Action"]).startswith(("s3:", "['s3:")) and bucket in str(s["Resource"])
    ]


def test_function_reads_only_the_pinned_model_prefix(default_synth: Synthesized) -> None:
    s3 = s3_statements(default_synth, MODEL_BUCKET)
    assert sorted(s["Action"] for s in s3) == ["s3:GetObject", "s3:ListBucket"]
    by_action = {s["Action"]: s for s in s3}
    prefix = f"models/{MODEL_VERSION}/"
    assert by_action["s3:GetObject"]["Resource"] == f"arn:aws:s3:::{MODEL_BUCKET}/{prefix}*"
    assert by_action["s3:ListBucket"]["Resource"] == f"arn:aws:s3:::{MODEL_BUCKET}"
    assert by_action["s3:ListBucket"]["Condition"] == {
        "StringLike": {"s3:prefix": [prefix, f"{prefix}*"]}
    }


def test_function_may_put_and_get_only_under_uploads_of_the_upload_bucket(
    default_synth: Synthesized,
) -> None:
    [statement] = s3_statements(default_synth, UPLOAD_BUCKET)
    assert sorted(statement["Action"]) == ["s3:GetObject", "s3:PutObject"]
    assert statement["Resource"] == f"arn:aws:s3:::{UPLOAD_BUCKET}/uploads/*"
    assert "Condition" not in statement
    assert function(default_synth)["Environment"]["Variables"]["UPLOADS_BUCKET"] == UPLOAD_BUCKET


def test_function_policy_has_no_wildcard_actions(default_synth: Synthesized) -> None:
    for statement in function_statements(default_synth):
        actions = statement["Action"]
        for action in [actions] if isinstance(actions, str) else actions:
            assert "*" not in action, statement
        if statement["Resource"] == "*":  # only X-Ray, which has no resource-level permissions
            assert {a.split(":")[0] for a in statement["Action"]} == {"xray"}


def test_function_role_has_no_managed_policies(default_synth: Synthesized) -> None:
    default_synth.template("Service").has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": Match.object_like(
                {
                    "Statement": [
                        Match.object_like({"Principal": {"Service": "lambda.amazonaws.com"}})
                    ]
                }
            ),
            "ManagedPolicyArns": Match.absent(),
        },
    )


def integration_targets(synth: Synthesized) -> set[str]:
    """What each API method invokes: the function's or the alias's logical id."""
    methods = resources(synth.template_json("Service"), "AWS::ApiGateway::Method")
    targets = set()
    for method in methods.values():
        uri = method["Properties"]["Integration"].get("Uri")
        if uri:
            for part in uri["Fn::Join"][1]:
                if isinstance(part, dict) and part.keys() & {"Ref", "Fn::GetAtt"}:
                    targets.add(part.get("Ref") or part["Fn::GetAtt"][0])
    return targets


def test_by_default_the_api_invokes_the_function_itself(default_synth: Synthesized) -> None:
    template = default_synth.template_json("Service")
    assert resources(template, "AWS::Lambda::Alias") == {}
    assert resources(template, "AWS::Lambda::Version") == {}
    assert "SnapStart" not in function(default_synth)
    [function_id] = resources(template, "AWS::Lambda::Function")
    assert integration_targets(default_synth) == {function_id}


def test_snapstart_publishes_a_version_behind_the_live_alias_that_the_api_invokes(
    snapstart_synth: Synthesized,
) -> None:
    template = snapstart_synth.template_json("Service")
    props = function(snapstart_synth)
    assert props["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert props["EphemeralStorage"] == {"Size": 512}
    [(version_id, version)] = resources(template, "AWS::Lambda::Version").items()
    assert version["DeletionPolicy"] == "Delete"  # no superseded snapshot stays cached
    [(alias_id, alias)] = resources(template, "AWS::Lambda::Alias").items()
    assert alias["Properties"]["Name"] == "live"
    assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version_id, "Version"]}
    assert "ProvisionedConcurrencyConfig" not in alias["Properties"]
    assert integration_targets(snapstart_synth) == {alias_id}
    permissions = resources(template, "AWS::Lambda::Permission").values()
    assert {p["Properties"]["FunctionName"]["Ref"] for p in permissions} == {alias_id}


def test_provisioned_concurrency_sits_on_the_live_alias_without_snapstart(
    variant_synth: Synthesized,
) -> None:
    template = variant_synth.template_json("Service")
    assert "SnapStart" not in function(variant_synth)
    [(alias_id, alias)] = resources(template, "AWS::Lambda::Alias").items()
    config = alias["Properties"]["ProvisionedConcurrencyConfig"]
    assert config == {"ProvisionedConcurrentExecutions": 2}
    assert integration_targets(variant_synth) == {alias_id}
