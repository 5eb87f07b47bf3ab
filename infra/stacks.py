"""Stacks only compose constructs, wire grants and add outputs; deploy order is the class order.

Stacks find each other by the names in `infra.naming`, not by CloudFormation exports, so
each can be deployed, updated or destroyed on its own and `make deploy` orders them.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Annotations, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra import naming
from infra.components.alarms import ServiceAlarms
from infra.components.api import InferenceApi
from infra.components.image_registry import ImageRegistry
from infra.components.inference_function import InferenceFunction
from infra.components.model_store import ModelStore, grant_read_prefix, grant_uploads
from infra.settings import Settings


class RegistryStack(Stack):
    """ECR first: the image must be pushed before a function can use it."""

    def __init__(self, scope: Construct, *, settings: Settings, **kwargs: Any) -> None:
        super().__init__(scope, naming.stack_name("Registry", settings.stage), **kwargs)
        self.registry = ImageRegistry(
            self,
            "ImageRegistry",
            repository_name=naming.repository_name(settings.stage),
            keep_images=settings.ecr_keep_images,
            retain=settings.is_prod,
        )
        CfnOutput(self, "RepositoryUri", value=self.registry.repository.repository_uri)


class ModelStoreStack(Stack):
    """S3 second: the bundle must be published before a function can pin it."""

    def __init__(self, scope: Construct, *, settings: Settings, **kwargs: Any) -> None:
        super().__init__(scope, naming.stack_name("ModelStore", settings.stage), **kwargs)
        self.store = ModelStore(
            self,
            "ModelStore",
            bucket_name=naming.model_bucket_name(self.account, self.region, settings.stage),
            upload_bucket_name=naming.upload_bucket_name(self.account, self.region, settings.stage),
            upload_cors_origins=settings.cors_origins,
            retain=settings.is_prod,
        )
        bucket = self.store.bucket.bucket_name
        CfnOutput(self, "ModelBucketName", value=bucket)
        CfnOutput(self, "UploadBucketName", value=self.store.upload_bucket.bucket_name)
        CfnOutput(
            self,
            "PublishCommand",
            value=f"make publish BUNDLE=path/to/bundle BUCKET={bucket}",
        )


class ServiceStack(Stack):
    """Function, API and alarms, pinned to one image tag and one model version."""

    def __init__(self, scope: Construct, *, settings: Settings, **kwargs: Any) -> None:
        super().__init__(scope, naming.stack_name("Service", settings.stage), **kwargs)
        stage, removal = settings.stage, _removal(settings)
        retention = (
            logs.RetentionDays.ONE_YEAR if settings.is_prod else logs.RetentionDays.ONE_MONTH
        )
        repository = ecr.Repository.from_repository_name(
            self, "Repository", naming.repository_name(stage)
        )
        bucket = s3.Bucket.from_bucket_name(
            self, "ModelBucket", naming.model_bucket_name(self.account, self.region, stage)
        )
        uploads = s3.Bucket.from_bucket_name(
            self, "UploadBucket", naming.upload_bucket_name(self.account, self.region, stage)
        )
        model_uri = naming.model_uri(
            bucket.bucket_name, settings.model_prefix, settings.model_version
        )
        inference = InferenceFunction(
            self,
            "InferenceFunction",
            repository=repository,
            image_tag=settings.image_tag,
            model_uri=model_uri,
            memory_mb=settings.memory_mb,
            timeout=Duration.seconds(settings.timeout_s),
            architecture=settings.architecture,
            reserved_concurrency=settings.reserved_concurrency,
            snap_start=settings.snap_start,
            provisioned_concurrency=settings.provisioned_concurrency,
            ephemeral_storage_mb=settings.ephemeral_storage_mb,
            log_retention=retention,
            removal_policy=removal,
            environment={
                "API_ROOT_PATH": f"/{stage}",
                "CORS_ORIGINS": ",".join(settings.cors_origins),
                "UPLOADS_BUCKET": uploads.bucket_name,
            },
        )
        grant_read_prefix(bucket, inference.role, settings.model_key_prefix)
        grant_uploads(uploads, inference.role)
        api = InferenceApi(
            self,
            "InferenceApi",
            handler=inference.entry,
            stage_name=stage,
            require_api_key=settings.require_api_key,
            throttle_rate=settings.throttle_rate,
            throttle_burst=settings.throttle_burst,
            quota_limit=settings.quota_limit,
            quota_period=settings.quota_period,
            cors_origins=settings.cors_origins,
            log_retention=retention,
            removal_policy=removal,
        )
        ServiceAlarms(
            self,
            "Alarms",
            function=inference.function,
            stage=api.rest_api.deployment_stage,
            timeout=Duration.seconds(settings.timeout_s),
            alarm_email=settings.alarm_email,
        )
        self._outputs(api, model_uri, settings.region)
        if not settings.pinned:
            Annotations.of(self).add_warning_v2(
                "aiornot:unpinned",
                "imageTag/modelVersion not set: this template is for review only; "
                "deploy with `make deploy MODEL=...`, which pins both.",
            )

    def _outputs(self, api: InferenceApi, model_uri: str, region: str | None) -> None:
        url = api.rest_api.url
        CfnOutput(self, "ApiUrl", value=url)
        CfnOutput(self, "ModelUri", value=model_uri)
        key_header = ""
        if api.api_key is not None:
            key_command = (
                f"aws apigateway get-api-key --api-key {api.api_key.key_id} "
                f"--include-value --query value --output text --region {region or self.region}"
            )
            CfnOutput(self, "ApiKeyCommand", value=key_command)
            key_header = f'-H "x-api-key: $({key_command})" '
        CfnOutput(
            self,
            "CurlExample",
            value=f"curl -sS {key_header}-H 'Content-Type: image/jpeg' "
            f"--data-binary @photo.jpg {url}predict",
        )


def _removal(settings: Settings) -> RemovalPolicy:
    return RemovalPolicy.RETAIN if settings.is_prod else RemovalPolicy.DESTROY
