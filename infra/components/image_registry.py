"""The app's own ECR repository: scanned on push, immutable tags, bounded history."""

from __future__ import annotations

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from constructs import Construct


class ImageRegistry(Construct):
    """Holds the serving images; deployed first so `make deploy` can push before the function."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        repository_name: str,
        keep_images: int,
        retain: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.repository = ecr.Repository(
            self,
            "Repository",
            repository_name=repository_name,
            image_scan_on_push=True,
            image_tag_mutability=ecr.TagMutability.IMMUTABLE,
            encryption=ecr.RepositoryEncryption.AES_256,
            lifecycle_rules=[
                ecr.LifecycleRule(
                    description=f"Keep the last {keep_images} images",
                    tag_status=ecr.TagStatus.ANY,
                    max_image_count=keep_images,
                )
            ],
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
            empty_on_delete=not retain,  # a native CloudFormation property, no custom resource
        )
        stack = Stack.of(self)
        # Lambda pulls with its service principal; only this account's functions may ask.
        self.repository.add_to_resource_policy(
            iam.PolicyStatement(
                sid="LambdaPullFromThisAccount",
                principals=[iam.ServicePrincipal("lambda.amazonaws.com")],
                actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                conditions={
                    "StringLike": {
                        "aws:sourceArn": stack.format_arn(
                            service="lambda",
                            resource="function",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            )
        )
