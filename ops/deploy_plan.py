"""The deploy and destroy sequences as data: exact commands, printable without running them.

Order: registry and model store stacks -> image built and pushed under a content-derived tag
-> bundle published -> service stack pinned to both (its context carries tag and version).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from infra import naming
from infra.settings import Settings
from ops.steps import Step

CDK = ["npx", "cdk"]
CDK_FLAGS = ["--require-approval", "never", "--no-notices"]
PLATFORMS = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}


@dataclass(frozen=True)
class Target:
    """Where and what: validated by the same Settings class the CDK app reads."""

    settings: Settings
    extra_context: dict[str, str] = field(default_factory=dict)
    cdk_out: Path | None = None  # cdk's --output; None = its default, ./cdk.out

    @property
    def account(self) -> str:
        return self.settings.account or "ACCOUNT"

    @property
    def region(self) -> str:
        return self.settings.region or "REGION"

    def stack(self, kind: naming.StackKind) -> str:
        return naming.stack_name(kind, self.settings.stage)

    def cdk(self, action: str, *stacks: naming.StackKind, flags: list[str]) -> list[str]:
        """`npx cdk ACTION STACKS... FLAGS -c key=value...` with every setting pinned."""
        s = self.settings
        context = {
            "stage": s.stage,
            "account": self.account,
            "region": self.region,
            "architecture": s.architecture,
            **({"imageTag": s.image_tag, "modelVersion": s.model_version} if s.pinned else {}),
            **self.extra_context,
        }
        pairs = [arg for key, value in context.items() for arg in ("-c", f"{key}={value}")]
        output = [] if self.cdk_out is None else ["--output", str(self.cdk_out)]
        return [*CDK, action, *(self.stack(kind) for kind in stacks), *flags, *output, *pairs]


def deploy_plan(
    target: Target,
    *,
    model_dir: Path,
    outputs_file: Path,
    dockerfile: str,
    docker_context: str,
    method: str = "change-set",
) -> list[Step]:
    """Every command `make deploy` runs, in order. `method`: cdk's deploy method, change-set
    (reviewable, the default) or direct (create or update the stack at once)."""
    s, region = target.settings, target.region
    deploy_flags = ["--exclusively", *CDK_FLAGS, f"--method={method}"]
    image = naming.image_uri(target.account, region, s.stage, s.image_tag)
    bucket = naming.model_bucket_name(target.account, region, s.stage)
    aws = [sys.executable, "-m", "ops.aws"]  # boto3: no AWS CLI needed
    tag_pushed = [*aws, "image-exists", "--region", region]
    tag_pushed += ["--repository", naming.repository_name(s.stage), "--tag", s.image_tag]
    published = [*aws, "object-exists", "--region", region, "--bucket", bucket]
    published += ["--key", f"{s.model_key_prefix}model.json"]
    build = ["docker", "build", "--platform", PLATFORMS[s.architecture], "--provenance=false"]
    build += ["-f", dockerfile, "-t", image, docker_context]
    publish = [sys.executable, "-m", "model_training.registry", "publish", str(model_dir)]
    publish += ["--bucket", bucket, "--prefix", s.model_prefix]
    login = ["docker", "login", "--username", "AWS", "--password-stdin"]
    login += [naming.registry_host(target.account, region)]
    return [
        Step(
            "Deploy the registry and model store stacks",
            target.cdk("deploy", "Registry", "ModelStore", flags=deploy_flags),
        ),
        Step(  # only needed to push: a model-only redeploy or a rollback needs no Docker
            "Log Docker in to ECR",
            login,
            stdin_from=[*aws, "ecr-password", "--region", region],
            unless=tag_pushed,
        ),
        Step(
            f"Build the {s.architecture} serving image (tag = hash of lambda_fn/)",
            build,
            unless=tag_pushed,
        ),
        Step("Push the image (tags are immutable)", ["docker", "push", image], unless=tag_pushed),
        Step(
            f"Publish model bundle {s.model_version}",
            publish,
            env={"AWS_REGION": region},
            unless=published,
        ),
        Step(
            "Deploy the service stack pinned to that image and model",
            target.cdk(
                "deploy",
                "Service",
                flags=[*deploy_flags, "--outputs-file", str(outputs_file)],
            ),
        ),
    ]


def destroy_plan(target: Target) -> list[Step]:
    """Service first (it uses the others); prod's bucket and repository are retained by design.

    `--exclusively` on both: without it, destroying a stack also destroys the stacks that
    depend on it, so the second step would destroy Service again."""
    flags = ["--exclusively", "--force"]
    return [
        Step("Destroy the service stack", target.cdk("destroy", "Service", flags=flags)),
        Step(
            "Destroy the model store and registry stacks",
            target.cdk("destroy", "ModelStore", "Registry", flags=flags),
        ),
    ]
