"""The REST API: binary bodies intact, keys and usage plan, throttling, CORS, logs, errors."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from aws_cdk.assertions import Match

from tests.infra.synth import Synthesized, only, resources


def methods(synth: Synthesized) -> list[dict[str, Any]]:
    found = resources(synth.template_json("Service"), "AWS::ApiGateway::Method")
    return [m["Properties"] for m in found.values()]


def joined(value: Any) -> str:
    """Render an Fn::Join as text with references as <LogicalId>, for readable assertions."""
    if isinstance(value, str):
        return value
    parts = value["Fn::Join"][1]
    return "".join(p if isinstance(p, str) else f"<{next(iter(p.values()))}>" for p in parts)


def test_binary_media_types_let_raw_images_through(default_synth: Synthesized) -> None:
    props = only(default_synth.template_json("Service"), "AWS::ApiGateway::RestApi")
    assert set(props["BinaryMediaTypes"]) == {
        "image/*",
        "multipart/form-data",
        "application/octet-stream",
    }
    assert "*/*" not in props["BinaryMediaTypes"]  # JSON must stay text


def test_every_non_preflight_method_proxies_to_the_function_and_needs_a_key(
    default_synth: Synthesized,
) -> None:
    routed = [m for m in methods(default_synth) if m["HttpMethod"] != "OPTIONS"]
    assert len(routed) == 4  # ANY /, ANY /{proxy+}, POST /predict, ANY /predict
    for method in routed:
        assert method["ApiKeyRequired"] is True
        assert method["Integration"]["Type"] == "AWS_PROXY"
    preflight = [m for m in methods(default_synth) if m["HttpMethod"] == "OPTIONS"]
    assert preflight and all(m["ApiKeyRequired"] is False for m in preflight)


def test_usage_plan_throttles_and_caps_the_key(default_synth: Synthesized) -> None:
    template = default_synth.template("Service")
    template.resource_count_is("AWS::ApiGateway::ApiKey", 1)
    template.has_resource_properties(
        "AWS::ApiGateway::UsagePlan",
        {
            "Throttle": {"RateLimit": 10, "BurstLimit": 20},
            "Quota": {"Limit": 10000, "Period": "DAY"},
            "ApiStages": [Match.object_like({"Stage": Match.any_value()})],
        },
    )
    template.resource_count_is("AWS::ApiGateway::UsagePlanKey", 1)


def test_stage_throttles_logs_errors_and_traces(default_synth: Synthesized) -> None:
    default_synth.template("Service").has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": "dev",
            "TracingEnabled": True,
            "MethodSettings": [
                Match.object_like(
                    {
                        "ThrottlingRateLimit": 10,
                        "ThrottlingBurstLimit": 20,
                        "LoggingLevel": "ERROR",
                        "DataTraceEnabled": False,
                    }
                )
            ],
        },
    )


def test_access_logs_are_json_in_a_log_group_with_retention(default_synth: Synthesized) -> None:
    template = default_synth.template_json("Service")
    stage = only(template, "AWS::ApiGateway::Stage")
    log_format = json.loads(stage["AccessLogSetting"]["Format"])
    assert {"requestId", "status", "ip", "httpMethod", "resourcePath"} <= set(log_format)
    destination = joined(stage["AccessLogSetting"]["DestinationArn"])
    group_id = destination.rsplit("<", 1)[1].rstrip(">")
    assert template["Resources"][group_id]["Properties"]["RetentionInDays"] == 30


def test_cors_preflight_allows_only_the_configured_origin(default_synth: Synthesized) -> None:
    [root_preflight, *_] = [m for m in methods(default_synth) if m["HttpMethod"] == "OPTIONS"]
    [response] = root_preflight["Integration"]["IntegrationResponses"]
    headers = response["ResponseParameters"]
    assert headers["method.response.header.Access-Control-Allow-Origin"] == "'https://example.org'"
    assert "X-Api-Key" in headers["method.response.header.Access-Control-Allow-Headers"]


def test_predict_requires_a_content_type_and_validates_json_bodies(
    default_synth: Synthesized,
) -> None:
    template = default_synth.template_json("Service")
    [post] = [m for m in methods(default_synth) if m["HttpMethod"] == "POST"]
    assert post["RequestParameters"] == {"method.request.header.Content-Type": True}
    validator = template["Resources"][post["RequestValidatorId"]["Ref"]]["Properties"]
    assert validator["ValidateRequestParameters"] and validator["ValidateRequestBody"]
    model = template["Resources"][post["RequestModels"]["application/json"]["Ref"]]["Properties"]
    schema = model["Schema"]
    assert "properties" not in schema  # types are the app's to judge: same codes as local
    # API Gateway validates with JSON Schema draft 4: each image field passes, no field fails.
    validator = jsonschema.Draft4Validator(schema)
    for body in ({"image": "x"}, {"image_url": "https://x"}, {"s3_key": "uploads/x"}):
        assert validator.is_valid(body), body
    assert not validator.is_valid({"explain": True})


def test_gateway_errors_use_the_contract_error_shape(default_synth: Synthesized) -> None:
    responses = resources(
        default_synth.template_json("Service"), "AWS::ApiGateway::GatewayResponse"
    )
    by_type = {r["Properties"]["ResponseType"]: r["Properties"] for r in responses.values()}
    assert {"BAD_REQUEST_PARAMETERS", "INVALID_API_KEY", "THROTTLED", "DEFAULT_5XX"} <= set(by_type)
    missing_type = by_type["BAD_REQUEST_PARAMETERS"]
    assert missing_type["StatusCode"] == "415"
    body = json.loads(missing_type["ResponseTemplates"]["application/json"])
    assert body["error"]["code"] == "unsupported_media_type"
    for props in by_type.values():
        template = props["ResponseTemplates"]["application/json"]
        assert template.startswith('{"error": {"code": "')


def test_outputs_give_url_key_command_and_curl_line(default_synth: Synthesized) -> None:
    outputs = default_synth.template_json("Service")["Outputs"]
    assert joined(outputs["ApiUrl"]["Value"]).startswith("https://<InferenceApiRestApi")
    key_command = joined(outputs["ApiKeyCommand"]["Value"])
    assert key_command.startswith("aws apigateway get-api-key --api-key <InferenceApiRestApiApiKey")
    assert key_command.endswith("--include-value --query value --output text --region eu-west-1")
    curl = joined(outputs["CurlExample"]["Value"])
    assert curl.startswith('curl -sS -H "x-api-key: $(aws apigateway get-api-key')
    assert "-H 'Content-Type: image/jpeg' --data-binary @photo.jpg https://" in curl
    assert curl.endswith("/predict")


def test_open_variant_has_no_key_no_usage_plan_and_no_cors(variant_synth: Synthesized) -> None:
    template = variant_synth.template("Service")
    template.resource_count_is("AWS::ApiGateway::ApiKey", 0)
    template.resource_count_is("AWS::ApiGateway::UsagePlan", 0)
    assert all(m["ApiKeyRequired"] is False for m in methods(variant_synth))
    assert not [m for m in methods(variant_synth) if m["HttpMethod"] == "OPTIONS"]
    outputs = variant_synth.template_json("Service")["Outputs"]
    assert "ApiKeyCommand" not in outputs
    assert "x-api-key" not in joined(outputs["CurlExample"]["Value"])
    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {"MethodSettings": [Match.object_like({"ThrottlingRateLimit": 10})]},
    )
