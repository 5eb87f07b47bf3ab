"""The S3 home of published model bundles: private, encrypted, TLS-only, versioned, logged."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import Construct

UPLOAD_PREFIX = "uploads/"  # lambda_fn.uploads.UPLOAD_PREFIX; infra cannot import it


class ModelStore(Construct):
    """The model bucket, the upload bucket, and the bucket that receives both's access logs."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket_name: str,
        upload_bucket_name: str,
        retain: bool,
        upload_cors_origins: Sequence[str] = (),
        noncurrent_version_days: int = 90,
        access_log_days: int = 365,
        upload_days: int = 1,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_bucket = _private_bucket(
            self,
            "AccessLogBucket",
            retain=retain,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(access_log_days))],
        )
        self.bucket = _private_bucket(
            self,
            "ModelBucket",
            retain=retain,
            bucket_name=bucket_name,
            versioned=True,
            server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix="model-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireNoncurrentVersions",
                    noncurrent_version_expiration=Duration.days(noncurrent_version_days),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
        )
        # User images, not models: unversioned, gone after a day, browsers may POST to it.
        self.upload_bucket = _private_bucket(
            self,
            "UploadBucket",
            retain=retain,
            bucket_name=upload_bucket_name,
            server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix="upload-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireUploads",
                    prefix=UPLOAD_PREFIX,
                    expiration=Duration.days(upload_days),
                    abort_incomplete_multipart_upload_after=Duration.days(upload_days),
                )
            ],
            cors=[
                s3.CorsRule(
                    allowed_methods=[s3.HttpMethods.POST],
                    allowed_origins=list(upload_cors_origins),
                    allowed_headers=["*"],
                    max_age=3000,
                )
            ]
            if upload_cors_origins
            else None,
        )


def _private_bucket(
    scope: Construct,
    construct_id: str,
    *,
    retain: bool,
    lifecycle_rules: list[s3.LifecycleRule],
    bucket_name: str | None = None,
    versioned: bool = False,
    server_access_logs_bucket: s3.IBucket | None = None,
    server_access_logs_prefix: str | None = None,
    cors: list[s3.CorsRule] | None = None,
) -> s3.Bucket:
    """No public access, SSE-S3 (log targets cannot use KMS), TLS 1.2+ only, owner-enforced."""
    return s3.Bucket(
        scope,
        construct_id,
        bucket_name=bucket_name,
        versioned=versioned,
        server_access_logs_bucket=server_access_logs_bucket,
        server_access_logs_prefix=server_access_logs_prefix,
        lifecycle_rules=lifecycle_rules,
        cors=cors,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        minimum_tls_version=1.2,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        auto_delete_objects=not retain,
    )


def grant_read_prefix(bucket: s3.IBucket, role: iam.IRole, prefix: str) -> None:
    """Let `role` read one published bundle (`models/VERSION/`) and nothing else."""
    prefix = prefix.strip("/") + "/"
    objects = bucket.arn_for_objects(f"{prefix}*")
    iam.Grant.add_to_principal(grantee=role, actions=["s3:GetObject"], resource_arns=[objects])
    iam.Grant.add_to_principal(
        grantee=role,
        actions=["s3:ListBucket"],
        resource_arns=[bucket.bucket_arn],
        conditions={"StringLike": {"s3:prefix": [prefix, f"{prefix}*"]}},
    )
    NagSuppressions.add_resource_suppressions(
        role,
        [
            NagPackSuppression(
                id="AwsSolutions-IAM5",
                reason=f"The function reads the objects of exactly one immutable model "
                f"version; the wildcard covers only the files under {prefix}.",
                applies_to=[RegexAppliesTo(regex=f"/^Resource::.*\\/{re.escape(prefix)}\\*$/")],
            )
        ],
        apply_to_children=True,
    )


def grant_uploads(bucket: s3.IBucket, role: iam.IRole) -> None:
    """Let `role` sign uploads into, and read them from, `uploads/` only (no list, no delete)."""
    objects = bucket.arn_for_objects(f"{UPLOAD_PREFIX}*")
    iam.Grant.add_to_principal(
        grantee=role, actions=["s3:PutObject", "s3:GetObject"], resource_arns=[objects]
    )
    NagSuppressions.add_resource_suppressions(
        role,
        [
            NagPackSuppression(
                id="AwsSolutions-IAM5",
                reason="Uploads get random keys, so the function signs and reads any object "
                f"under {UPLOAD_PREFIX} of the upload bucket, and nothing else there.",
                applies_to=[
                    RegexAppliesTo(regex=f"/^Resource::.*\\/{re.escape(UPLOAD_PREFIX)}\\*$/")
                ],
            )
        ],
        apply_to_children=True,
    )
