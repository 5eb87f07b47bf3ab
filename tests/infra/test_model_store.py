"""The S3 store: private, encrypted, TLS-only, logged buckets for models and for uploads."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match

from tests.infra.synth import Synthesized, resources

BLOCK_ALL = {
    "BlockPublicAcls": True,
    "BlockPublicPolicy": True,
    "IgnorePublicAcls": True,
    "RestrictPublicBuckets": True,
}


def model_bucket(synth: Synthesized) -> tuple[str, dict[str, Any]]:
    buckets = resources(synth.template_json("ModelStore"), "AWS::S3::Bucket")
    [(logical_id, bucket)] = [(k, v) for k, v in buckets.items() if "ModelBucket" in k]
    return logical_id, bucket


def test_model_bucket_is_named_for_account_region_and_stage(default_synth: Synthesized) -> None:
    _, bucket = model_bucket(default_synth)
    assert bucket["Properties"]["BucketName"] == "aiornot-models-123456789012-eu-west-1-dev"


def upload_bucket(synth: Synthesized) -> tuple[str, dict[str, Any]]:
    buckets = resources(synth.template_json("ModelStore"), "AWS::S3::Bucket")
    [(logical_id, bucket)] = [(k, v) for k, v in buckets.items() if "UploadBucket" in k]
    return logical_id, bucket


@pytest.mark.parametrize("which", ["ModelBucket", "AccessLogBucket", "UploadBucket"])
def test_every_bucket_blocks_public_access_and_encrypts(
    default_synth: Synthesized, which: str
) -> None:
    buckets = resources(default_synth.template_json("ModelStore"), "AWS::S3::Bucket")
    [bucket] = [v["Properties"] for k, v in buckets.items() if which in k]
    assert bucket["PublicAccessBlockConfiguration"] == BLOCK_ALL
    [rule] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_model_bucket_is_versioned_with_noncurrent_versions_expiring(
    default_synth: Synthesized,
) -> None:
    _, bucket = model_bucket(default_synth)
    props = bucket["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    [rule] = props["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] == 90
    assert rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 7


def test_model_bucket_logs_access_to_the_log_bucket(default_synth: Synthesized) -> None:
    _, bucket = model_bucket(default_synth)
    logging = bucket["Properties"]["LoggingConfiguration"]
    assert logging["DestinationBucketName"]["Ref"].startswith("ModelStoreAccessLogBucket")
    assert logging["LogFilePrefix"] == "model-bucket/"


def test_uploads_expire_after_a_day_unversioned_and_logged(default_synth: Synthesized) -> None:
    _, bucket = upload_bucket(default_synth)
    props = bucket["Properties"]
    assert props["BucketName"] == "aiornot-uploads-123456789012-eu-west-1-dev"
    assert "VersioningConfiguration" not in props  # a deleted upload is gone, not kept
    [rule] = props["LifecycleConfiguration"]["Rules"]
    assert (rule["Status"], rule["Prefix"], rule["ExpirationInDays"]) == ("Enabled", "uploads/", 1)
    assert rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1
    assert props["LoggingConfiguration"]["LogFilePrefix"] == "upload-bucket/"


def test_browsers_from_the_cors_origins_may_post_uploads(
    default_synth: Synthesized, variant_synth: Synthesized
) -> None:
    _, bucket = upload_bucket(default_synth)
    [rule] = bucket["Properties"]["CorsConfiguration"]["CorsRules"]
    assert rule["AllowedMethods"] == ["POST"]
    assert rule["AllowedOrigins"] == ["https://example.org"]
    _, closed = upload_bucket(variant_synth)  # no CORS origins: no browser may post
    assert "CorsConfiguration" not in closed["Properties"]


@pytest.mark.parametrize("find", [model_bucket, upload_bucket])
def test_bucket_policy_denies_plain_http(default_synth: Synthesized, find: Any) -> None:
    logical_id, _ = find(default_synth)
    default_synth.template("ModelStore").has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": logical_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "s3:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )


def test_dev_buckets_are_emptied_and_deleted(default_synth: Synthesized) -> None:
    template = default_synth.template_json("ModelStore")
    for bucket in resources(template, "AWS::S3::Bucket").values():
        assert bucket["DeletionPolicy"] == "Delete"
    assert len(resources(template, "Custom::S3AutoDeleteObjects")) == 3


def test_prod_buckets_are_retained_and_never_auto_emptied(variant_synth: Synthesized) -> None:
    template = variant_synth.template_json("ModelStore")
    for bucket in resources(template, "AWS::S3::Bucket").values():
        assert bucket["DeletionPolicy"] == "Retain"
    assert resources(template, "Custom::S3AutoDeleteObjects") == {}
