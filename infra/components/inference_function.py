"""The Lambda that serves predictions: a container image from our ECR repo, pinned by tag;
optionally a published version behind the alias `live`, with SnapStart or provisioned
concurrency."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from aws_cdk import Duration, RemovalPolicy, Size
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

ARCHITECTURES = {"x86_64": lambda_.Architecture.X86_64, "arm64": lambda_.Architecture.ARM_64}


class InferenceFunction(Construct):
    """A `DockerImageFunction` with its own role, logs and tracing; grants are wired outside."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        repository: ecr.IRepository,
        image_tag: str,
        model_uri: str,
        memory_mb: int,
        timeout: Duration,
        architecture: Literal["x86_64", "arm64"],
        reserved_concurrency: int | None,
        snap_start: bool = False,
        provisioned_concurrency: int | None = None,
        ephemeral_storage_mb: int = 512,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self, "LogGroup", retention=log_retention, removal_policy=removal_policy
        )
        # An explicit role instead of the AWS-managed basic policy: logs go to one group only.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="aiornot inference: write own logs, read one model version, sign uploads",
        )
        self.log_group.grant_write(self.role)
        self.function = lambda_.DockerImageFunction(
            self,
            "Function",
            description=f"aiornot inference ({image_tag})",
            code=lambda_.DockerImageCode.from_ecr(repository, tag_or_digest=image_tag),
            architecture=ARCHITECTURES[architecture],
            memory_size=memory_mb,
            timeout=timeout,
            reserved_concurrent_executions=reserved_concurrency,
            ephemeral_storage_size=Size.mebibytes(ephemeral_storage_mb),
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if snap_start else None,
            # A superseded version is deleted, so no old snapshot stays cached (and billed).
            current_version_options=lambda_.VersionOptions(removal_policy=RemovalPolicy.DESTROY),
            role=self.role,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                "MODEL_URI": model_uri,
                "POWERTOOLS_SERVICE_NAME": "aiornot",
                "POWERTOOLS_METRICS_NAMESPACE": "AiOrNot",
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **(environment or {}),
            },
        )
        # What the API invokes: $LATEST, or with SnapStart or provisioned concurrency a
        # published version (the snapshot, the warm environments) behind the alias `live`.
        self.alias: lambda_.Alias | None = None
        self.entry: lambda_.IFunction = self.function
        if snap_start or provisioned_concurrency:
            self.alias = lambda_.Alias(
                self,
                "Live",
                alias_name="live",
                version=self.function.current_version,
                provisioned_concurrent_executions=provisioned_concurrency,
            )
            self.entry = self.alias
        NagSuppressions.add_resource_suppressions(
            self.role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="X-Ray's PutTraceSegments/PutTelemetryRecords support no "
                    "resource-level permissions, so active tracing needs Resource '*'.",
                    applies_to=["Resource::*"],
                ),
            ],
            apply_to_children=True,
        )
        NagSuppressions.add_resource_suppressions(
            self.function,
            [
                NagPackSuppression(
                    id="Serverless-LambdaDLQ",
                    reason="Invoked synchronously by API Gateway only: the caller receives "
                    "every failure, so there is no async event to dead-letter.",
                ),
            ],
        )
