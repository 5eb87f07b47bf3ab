"""The public REST API: proxies to the function, with keys, quotas, throttling and access logs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra.components.gateway_errors import add_error_responses

# Raw image uploads (curl --data-binary) and multipart forms must reach Lambda byte-exact.
BINARY_MEDIA_TYPES = ["image/*", "multipart/form-data", "application/octet-stream"]
IMAGE_FIELDS = ("image", "image_url", "s3_key")  # lambda_fn.schemas.IMAGE_FIELDS
PERIODS = {"DAY": apigw.Period.DAY, "WEEK": apigw.Period.WEEK, "MONTH": apigw.Period.MONTH}


class InferenceApi(Construct):
    """REST API Gateway in front of the inference function (REST for keys and usage plans)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: lambda_.IFunction,
        stage_name: str,
        require_api_key: bool,
        throttle_rate: float,
        throttle_burst: int,
        quota_limit: int,
        quota_period: Literal["DAY", "WEEK", "MONTH"],
        cors_origins: Sequence[str],
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", retention=log_retention, removal_policy=removal_policy
        )
        cors = (
            apigw.CorsOptions(
                allow_origins=list(cors_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["Content-Type", "X-Api-Key"],
                max_age=Duration.hours(1),
            )
            if cors_origins
            else None
        )
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            description="aiornot: is this image AI-generated?",
            binary_media_types=BINARY_MEDIA_TYPES,
            endpoint_types=[apigw.EndpointType.REGIONAL],
            default_integration=apigw.LambdaIntegration(handler, allow_test_invoke=False),
            default_method_options=apigw.MethodOptions(api_key_required=require_api_key),
            default_cors_preflight_options=cors,
            # The account-wide logging role is shared by every API: never delete it with a stack.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=stage_name,
                throttling_rate_limit=throttle_rate,
                throttling_burst_limit=throttle_burst,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # would copy image bodies into the logs
                metrics_enabled=True,
                tracing_enabled=True,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
            ),
        )
        self._add_routes()
        add_error_responses(self.rest_api, cors_origins=cors_origins)
        self.api_key = self._add_usage_plan(
            require_api_key, throttle_rate, throttle_burst, quota_limit, PERIODS[quota_period]
        )
        self._explain_findings(require_api_key)

    def _add_routes(self) -> None:
        """Everything goes to the app, which owns 404/405; POST /predict is checked first."""
        root = self.rest_api.root
        root.add_method("ANY")
        root.add_proxy(any_method=True)
        predict = root.add_resource("predict")
        # Rejected here, before a Lambda invocation is paid for: no Content-Type at all, or
        # a JSON body without the image. Binary bodies have no model, so they pass untouched.
        predict.add_method(
            "POST",
            request_parameters={"method.request.header.Content-Type": True},
            request_models={"application/json": self._predict_json_model()},
            request_validator=self.rest_api.add_request_validator(
                "PredictValidator", validate_request_parameters=True, validate_request_body=True
            ),
        )
        predict.add_method("ANY")

    def _predict_json_model(self) -> apigw.Model:
        """The JSON form of POST /predict (DESIGN.md): one of `image` (base64), `image_url`
        or `s3_key` (from POST /uploads), and optionally `explain`."""
        return self.rest_api.add_model(
            "PredictJson",
            content_type="application/json",
            schema=apigw.JsonSchema(
                schema=apigw.JsonSchemaVersion.DRAFT4,
                title="PredictJson",
                type=apigw.JsonSchemaType.OBJECT,
                # Presence only: types and values are the app's to judge (422 validation_error,
                # 400 invalid_image), so a deployment answers exactly as the app does locally.
                any_of=[apigw.JsonSchema(required=[field]) for field in IMAGE_FIELDS],
            ),
        )

    def _add_usage_plan(
        self, require_key: bool, rate: float, burst: int, quota: int, period: apigw.Period
    ) -> apigw.IApiKey | None:
        """One key and one usage plan: per-client throttle plus a quota caps the bill."""
        if not require_key:
            return None
        api_key = self.rest_api.add_api_key("ApiKey", description="aiornot default client key")
        plan = self.rest_api.add_usage_plan(
            "UsagePlan",
            description="Throttle and quota for aiornot clients",
            throttle=apigw.ThrottleSettings(rate_limit=rate, burst_limit=burst),
            quota=apigw.QuotaSettings(limit=quota, period=period),
        )
        plan.add_api_stage(stage=self.rest_api.deployment_stage)
        plan.add_api_key(api_key)
        return api_key

    def _explain_findings(self, require_key: bool) -> None:
        access = (
            "Clients authenticate with an API key bound to a throttled, quota-limited usage plan"
            if require_key
            else "This stage is deliberately open (requireApiKey=false); stage throttling caps it"
        )
        suppressions = [
            NagPackSuppression(
                id="AwsSolutions-APIG4",
                reason=f"{access}; IAM or Cognito auth would shut out curl and Space clients.",
            ),
            NagPackSuppression(
                id="AwsSolutions-COG4",
                reason=f"{access}; there are no user accounts, so no Cognito user pool.",
            ),
            NagPackSuppression(
                id="AwsSolutions-APIG3",
                reason="WAF is an opt-in add-on (docs/deploy.md): throttling, quotas and "
                "reserved concurrency already bound the cost of abuse.",
            ),
        ]
        NagSuppressions.add_resource_suppressions(
            self.rest_api, suppressions, apply_to_children=True
        )
        NagSuppressions.add_resource_suppressions(
            self.rest_api.node.find_child("CloudWatchRole"),
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM4",
                    reason="API Gateway's account-level logging role needs exactly the "
                    "AWS-managed push-to-CloudWatch policy.",
                    applies_to=[
                        "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                        "AmazonAPIGatewayPushToCloudWatchLogs"
                    ],
                )
            ],
        )
