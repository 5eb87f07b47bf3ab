"""The few AWS questions `make deploy` asks, answered with boto3 (no AWS CLI needed).

    python -m ops.aws account                     # the caller's 12-digit account
    python -m ops.aws region                      # the configured region
    python -m ops.aws image-exists --region R --repository NAME --tag TAG
    python -m ops.aws object-exists --region R --bucket B --key K
    python -m ops.aws ecr-password --region R     # for `docker login --password-stdin`

The two `*-exists` commands exit 0 when the thing exists, 1 when it does not, so a deploy
step can be skipped on them; any other failure (no credentials, no access) exits 2 with
the reason. boto3 reads the usual settings (profiles, `AWS_ENDPOINT_URL` for a local cloud).
"""

from __future__ import annotations

import argparse
import base64
import sys
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

MISSING_CODES = {"404", "NoSuchKey", "NotFound", "ImageNotFoundException"}


def client(service: str, region: str | None = None) -> Any:
    return boto3.session.Session(region_name=region).client(service)  # type: ignore[call-overload]


def caller_account() -> str:
    return str(client("sts").get_caller_identity()["Account"])


def configured_region() -> str | None:
    return boto3.session.Session().region_name


def image_exists(region: str, repository: str, tag: str) -> bool:
    """Is `repository:tag` in ECR? (A missing repository counts as an error, not absence.)"""
    try:
        client("ecr", region).describe_images(
            repositoryName=repository, imageIds=[{"imageTag": tag}]
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] in MISSING_CODES:
            return False
        raise
    return True


def object_exists(region: str, bucket: str, key: str) -> bool:
    try:
        client("s3", region).head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in MISSING_CODES:
            return False
        raise
    return True


def ecr_password(region: str) -> str:
    """The password half of ECR's authorization token (the user name is always AWS)."""
    token = client("ecr", region).get_authorization_token()["authorizationData"][0]
    return base64.b64decode(token["authorizationToken"]).decode().split(":", 1)[1]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m ops.aws", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("account")
    commands.add_parser("region")
    image = commands.add_parser("image-exists")
    image.add_argument("--region", required=True)
    image.add_argument("--repository", required=True)
    image.add_argument("--tag", required=True)
    obj = commands.add_parser("object-exists")
    obj.add_argument("--region", required=True)
    obj.add_argument("--bucket", required=True)
    obj.add_argument("--key", required=True)
    password = commands.add_parser("ecr-password")
    password.add_argument("--region", required=True)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.command == "account":
            print(caller_account())
        elif args.command == "region":
            region = configured_region()
            if region is None:
                print("no region configured: set AWS_REGION or pass --region", file=sys.stderr)
                return 2
            print(region)
        elif args.command == "image-exists":
            return 0 if image_exists(args.region, args.repository, args.tag) else 1
        elif args.command == "object-exists":
            return 0 if object_exists(args.region, args.bucket, args.key) else 1
        else:
            print(ecr_password(args.region))
    except (ClientError, BotoCoreError) as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
