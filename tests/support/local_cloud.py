"""A local AWS for deploy tests: moto's server (CloudFormation, S3, ECR, IAM, Lambda, API
Gateway, SSM, STS) on 127.0.0.1, patched where moto falls short of what `cdk deploy` needs.

Every patch is here, in the harness, never in the product:

- `Custom::S3AutoDeleteObjects` would invoke its handler Lambda, which moto runs only in
  Docker, and wait for ever: the resource is marked created at once (`empty_on_destroy`
  does its job on destroy).
- `UsePreviousValue` on a parameter moto did not keep (the bootstrap's `BootstrapVersion`,
  an SSM-typed parameter) raises on update: the template's value is used instead.
- `EmptyOnDelete` on an ECR repository is ignored, and auto-delete buckets are never
  emptied: `empty_on_destroy` deletes their contents, as the custom resource and ECR would.
- Change sets ignore `DependsOn` and lose Outputs: deploy with `--method=direct`.
- Use the host `localhost`, not 127.0.0.1, in the endpoint: moto reads the first label of
  the host as a bucket name.

moto also skips, with a warning, what it does not model: API Gateway Stage, ApiKey,
UsagePlan, GatewayResponses, CloudWatch Alarms and BucketPolicies. So the harness proves
names, Ref/GetAtt resolution, stack order, the deploy's skip logic and output parsing, the
deployed environment and IAM policy documents, update and destroy; it does not prove
gateway semantics, IAM enforcement or the real Lambda base image.

`docker_shim_dir` holds a `docker` stand-in for machines without a daemon: `login`
succeeds, `build` builds the image for real with buildah (`ops.image`) where this machine can
(`image_builder` says which ran, and why not), else only succeeds, and `push` registers an
image manifest in moto's ECR (a push would contact the real registry host). Every call is
logged.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from ops.image import unavailable_reason

ACCOUNT = "123456789012"  # moto's
REGION = "us-east-1"

DOCKER_SHIM = '''#!{python}
"""Stand-in docker (tests/support/local_cloud.py): push registers a manifest in ECR."""
import json, os, subprocess, sys
import boto3
args = sys.argv[1:]
with open(os.environ["DOCKER_SHIM_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
if args[:1] == ["login"]:
    sys.stdin.read()
    print("Login Succeeded")
elif args[:1] == ["push"]:
    host, _, rest = args[1].partition("/")
    repository, _, tag = rest.partition(":")
    manifest = {{"schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {{"mediaType": "application/vnd.docker.container.image.v1+json",
                           "size": 2, "digest": "sha256:" + "0" * 64}},
                "layers": []}}
    boto3.client("ecr", region_name=host.split(".")[3]).put_image(
        repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)
elif args[:1] == ["build"] and os.environ.get("DOCKER_SHIM_BUILDER") == "buildah":
    tag, dockerfile = args[args.index("-t") + 1], args[args.index("-f") + 1]
    build = [sys.executable, "-m", "ops.image", "build", "--tag", tag,
             "--dockerfile", dockerfile, "--context", args[-1]]
    sys.exit(subprocess.run(build).returncode)
elif args[:1] != ["build"]:
    sys.exit(f"docker stand-in: {{args}} is not supported")
'''


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def patch_moto() -> None:
    """The two server-side gaps above; idempotent."""
    from moto.cloudformation import custom_model, models

    if getattr(models, "_aiornot_patched", False):
        return
    create_custom = custom_model.CustomModel.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create(cls: Any, resource_name: str, cfn: dict[str, Any], account_id: str,
               region_name: str, **kwargs: Any) -> Any:  # fmt: skip
        if kwargs["ResourceType"] == "Custom::S3AutoDeleteObjects":
            done = cls(region_name, "local", kwargs["LogicalId"], resource_name)
            done.set_data({})
            return done
        return create_custom(cls, resource_name, cfn, account_id, region_name, **kwargs)

    custom_model.CustomModel.create_from_cloudformation_json = classmethod(create)  # type: ignore[method-assign, assignment]
    resolve = models.CloudFormationBackend._resolve_update_parameters

    def resolve_known(self: Any, instance: Any, incoming_params: list[dict[str, str]]) -> Any:
        kept = [
            p for p in incoming_params
            if not (p.get("UsePreviousValue") and p["ParameterKey"] not in instance.parameters)
        ]  # fmt: skip
        return resolve(self, instance, incoming_params=kept)

    models.CloudFormationBackend._resolve_update_parameters = resolve_known  # type: ignore[method-assign]
    models._aiornot_patched = True  # type: ignore[attr-defined]


@dataclass
class LocalCloud:
    """A running local AWS, the environment that points every AWS client at it, and the
    directory of the `docker` stand-in."""

    endpoint_url: str
    env: dict[str, str]
    docker_shim_dir: Path
    docker_log: Path
    image_builder: str  # "buildah", or why the shim only pretends to build

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def docker_calls(self) -> list[list[str]]:
        if not self.docker_log.exists():
            return []
        return [json.loads(line) for line in self.docker_log.read_text().splitlines()]

    def empty_on_destroy(self, bucket: str, repository: str) -> None:
        """What `Custom::S3AutoDeleteObjects` and ECR's `EmptyOnDelete` do on a real delete."""
        s3 = self.client("s3")
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                s3.delete_object(Bucket=bucket, Key=item["Key"], VersionId=item["VersionId"])
        ecr = self.client("ecr")
        images = ecr.list_images(repositoryName=repository)["imageIds"]
        if images:
            ecr.batch_delete_image(repositoryName=repository, imageIds=images)


@contextmanager
def local_cloud(work: Path) -> Iterator[LocalCloud]:
    """Start the patched server on a free loopback port; stop it afterwards."""
    from moto.server import ThreadedMotoServer

    patch_moto()
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    shim_dir = work / "docker-shim"
    shim_dir.mkdir(parents=True, exist_ok=True)
    (shim_dir / "docker").write_text(DOCKER_SHIM.format(python=sys.executable))
    (shim_dir / "docker").chmod(0o755)
    endpoint = f"http://localhost:{port}"
    unavailable = unavailable_reason()
    builder = "buildah" if unavailable is None else f"none: {unavailable}"
    env = {
        "DOCKER_SHIM_BUILDER": builder,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": "/nonexistent/aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
        "AWS_EC2_METADATA_DISABLED": "true",
        "DOCKER_SHIM_LOG": str(work / "docker-calls.jsonl"),
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        "CDK_DISABLE_VERSION_CHECK": "1",
        "PATH": f"{shim_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    try:
        yield LocalCloud(endpoint, env, shim_dir, work / "docker-calls.jsonl", builder)
    finally:
        server.stop()
