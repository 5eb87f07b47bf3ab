"""`python -m ops.deploy` for real, against a local CloudFormation: bootstrap, deploy model
v1, redeploy with v2, destroy.

The cloud is moto's server on 127.0.0.1 with the patches listed in
`tests/support/local_cloud.py` (that docstring says what this proves and what it cannot:
gateway semantics, IAM enforcement and the real base image are out of reach). The CDK CLI,
the app, the deploy's steps and the publish are the real ones. Docker is the harness's
stand-in (no daemon here): `login` succeeds, `push` registers a manifest in the local ECR,
and `build` is the real one where podman and buildah run (`ops.image`: lambda_fn/Dockerfile
unchanged, on a stand-in for the Lambda base image). Then the image that was built runs
read-only, with the deployed function's memory and environment, against the Runtime API
emulator; it loads v1 from the local S3, and `ops.smoke` passes through a stand-in for the
REST API (`tests/support/gateway.py`). Where the build cannot run, the deploy is still
checked with the shim, and the test ends skipped, giving the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra import naming
from infra.components.api import BINARY_MEDIA_TYPES
from lambda_fn.manifest import Manifest
from ops import smoke
from ops.aws import main as aws_main
from ops.deploy import ROOT, main
from ops.image import image_size, run_command
from ops.image_tag import source_tag
from tests.support.bundles import make_tiny_bundle
from tests.support.gateway import RestGatewayStandIn
from tests.support.lambda_rie import DrainedProcess, RuntimeApiEmulator
from tests.support.local_cloud import ACCOUNT, REGION, LocalCloud, local_cloud

pytestmark = pytest.mark.slow

STAGE = "dev"
BUCKET = naming.model_bucket_name(ACCOUNT, REGION, STAGE)
UPLOAD_BUCKET = naming.upload_bucket_name(ACCOUNT, REGION, STAGE)
UPLOAD_GRANT = f"arn:aws:s3:::{UPLOAD_BUCKET}/uploads/*"
REPOSITORY = naming.repository_name(STAGE)
SERVICE = naming.stack_name("Service", STAGE)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    work = tmp_path_factory.mktemp("local-cloud")
    with local_cloud(work) as running:
        yield running


@pytest.fixture(autouse=True)
def cloud_env(cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every AWS client, in-process or in a child (cdk, publish), talks to the local cloud."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AIORNOT_ACCOUNT", "CDK_DEFAULT_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in cloud.env.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Manifest]]:
    root = tmp_path_factory.mktemp("bundles")
    made = {}
    for name, size in (("v1", 8), ("v2", 16)):  # different graphs: different versions
        made[name] = (root / name, make_tiny_bundle(root / name, size=size))
    assert made["v1"][1].version != made["v2"][1].version
    return made


def deploy(model: Path, cdk_out: Path) -> int:
    return main(["deploy", "--model", str(model), "--method", "direct", "--cdk-out", str(cdk_out)])


def function(cloud: LocalCloud) -> dict[str, Any]:
    lam = cloud.client("lambda")
    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    (name,) = [n for n in names if n.startswith(f"{SERVICE}-InferenceFunction")]
    return dict(lam.get_function(FunctionName=name))


def model_grants(cloud: LocalCloud, role_arn: str) -> list[str]:
    """The `s3:GetObject` resources of the function's inline policies, in policy order."""
    iam = cloud.client("iam")
    role = role_arn.rsplit("/", 1)[1]
    resources: list[str] = []
    for policy in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
        for statement in document["Statement"]:
            actions = statement["Action"]
            if "s3:GetObject" in (actions if isinstance(actions, list) else [actions]):
                found = statement["Resource"]
                resources += found if isinstance(found, list) else [found]
    return resources


def lambda_environment(cloud: LocalCloud, config: dict[str, Any], runtime_api: str) -> dict:
    """The deployed function's environment plus what Lambda itself sets, and credentials for
    the local cloud in place of the role's."""
    return {
        **config["Environment"]["Variables"],
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_LAMBDA_FUNCTION_NAME": config["FunctionName"],
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config["MemorySize"]),
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": cloud.endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }


def check_image_serves(cloud: LocalCloud, fn: dict[str, Any], version: str) -> str:
    """Run the built image as the deployed function and smoke-test it through the gateway."""
    config, image = fn["Configuration"], fn["Code"]["ImageUri"]
    key = "local-key-123"
    with RuntimeApiEmulator() as api:
        env = lambda_environment(cloud, config, api.address)
        command = run_command(image, env, memory_mb=config["MemorySize"])
        container = DrainedProcess(command, env=dict(os.environ))
        try:
            invoke = lambda event: api.invoke(event, timeout=120)  # noqa: E731
            gateway = RestGatewayStandIn(
                invoke, stage=STAGE, api_key=key, binary_media_types=BINARY_MEDIA_TYPES
            )
            with gateway:
                status = smoke.main([gateway.stage_url, "--key", key])
                logs = "\n".join(container.lines[-40:])
                assert status == 0, logs
                assert gateway.requests >= 3, gateway.requests  # health, predict, bad image
        finally:
            container.stop()
    assert api.init_error is None, api.init_error
    loaded = [r for r in container.json_lines() if r.get("model_version") == version]
    assert loaded, "\n".join(container.lines[-40:])  # v1, from the local S3
    return f"image: {image}, {image_size(image) / 1e6:.1f} MB, served v1 and passed smoke"


class StepTimer:
    """Seconds per step of the lifecycle, printed for the docs and the closing figures."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.monotonic()

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.laps[name], self._last = now - self._last, now

    def __str__(self) -> str:
        return "steps: " + ", ".join(f"{name} {s:.1f} s" for name, s in self.laps.items())


def stacks(cloud: LocalCloud) -> set[str]:
    listed = cloud.client("cloudformation").describe_stacks()["Stacks"]
    return {s["StackName"] for s in listed if s["StackStatus"] != "DELETE_COMPLETE"}


def test_the_deploys_aws_questions_are_answered_by_boto3(
    cloud: LocalCloud, capfd: pytest.CaptureFixture[str]
) -> None:
    """`ops.aws` replaces the AWS CLI: exists = 0, absent = 1 (the step runs), error = 2."""
    assert aws_main(["account"]) == 0
    assert capfd.readouterr().out.strip() == ACCOUNT
    cloud.client("s3").create_bucket(Bucket="probe")
    cloud.client("s3").put_object(Bucket="probe", Key="a/model.json", Body=b"{}")
    where = ["--region", REGION, "--bucket", "probe", "--key"]
    assert aws_main(["object-exists", *where, "a/model.json"]) == 0
    assert aws_main(["object-exists", *where, "b/model.json"]) == 1
    image = ["image-exists", "--region", REGION, "--repository", "nowhere", "--tag", "t"]
    assert aws_main(image) == 2  # no repository: an error, reported, not "absent"
    assert "RepositoryNotFoundException" in capfd.readouterr().err
    cloud.client("ecr").create_repository(repositoryName="nowhere")
    assert aws_main(image) == 1
    assert aws_main(["ecr-password", "--region", REGION]) == 0
    assert capfd.readouterr().out.strip()


def test_deploy_v1_then_v2_then_destroy(
    cloud: LocalCloud,
    bundles: dict[str, tuple[Path, Manifest]],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    timer = StepTimer()
    bootstrap = subprocess.run(
        ["npx", "cdk", "bootstrap", f"aws://{ACCOUNT}/{REGION}", "--no-notices"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert bootstrap.returncode == 0, bootstrap.stderr[-3000:]
    timer.lap("bootstrap")
    image_tag = source_tag(ROOT, "x86_64")
    registry = naming.registry_host(ACCOUNT, REGION)

    # v1: everything runs, the account comes from the (local) STS, the region from AWS_REGION
    v1_dir, v1 = bundles["v1"]
    assert deploy(v1_dir, tmp_path / "cdk.out") == 0, capfd.readouterr().err[-3000:]
    timer.lap("deploy v1 (image build included)")
    with capfd.disabled():  # shown with -s / -rP: which build ran
        print(f"\ndocker build: {cloud.image_builder}; login and push: the harness's stand-in")
    assert [call[0] for call in cloud.docker_calls()] == ["login", "build", "push"]
    fn = function(cloud)
    config = fn["Configuration"]
    assert fn["Code"]["ImageUri"] == f"{registry}/{REPOSITORY}:{image_tag}"
    assert config["Environment"]["Variables"]["MODEL_URI"] == (
        f"s3://{BUCKET}/models/{v1.version}/"
    )
    assert config["Environment"]["Variables"]["API_ROOT_PATH"] == f"/{STAGE}"
    assert config["Environment"]["Variables"]["UPLOADS_BUCKET"] == UPLOAD_BUCKET
    assert config["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"] == "AiOrNot"
    assert (config["MemorySize"], config["Timeout"]) == (2048, 29)
    assert fn["Concurrency"]["ReservedConcurrentExecutions"] == 10
    assert model_grants(cloud, config["Role"]) == [
        f"arn:aws:s3:::{BUCKET}/models/{v1.version}/*",
        UPLOAD_GRANT,
    ]
    s3 = cloud.client("s3")
    published = s3.get_object(Bucket=BUCKET, Key=f"models/{v1.version}/model.json")
    assert json.loads(published["Body"].read())["version"] == v1.version
    outputs = json.loads((tmp_path / "cdk.out" / f"outputs-{STAGE}.json").read_text())[SERVICE]
    assert outputs["ModelUri"] == f"s3://{BUCKET}/models/{v1.version}/"
    printed = capfd.readouterr().out
    assert f"API URL:    {outputs['ApiUrl']}" in printed
    assert "Smoke test: make smoke URL=" in printed
    if cloud.image_builder == "buildah":
        served = check_image_serves(cloud, fn, v1.version)
        timer.lap("image run and smoke")
        with capfd.disabled():
            print(served)

    # v2: same code, so no Docker at all (login included); the pin and the grant move
    v2_dir, v2 = bundles["v2"]
    assert deploy(v2_dir, tmp_path / "cdk.out") == 0, capfd.readouterr().err[-3000:]
    timer.lap("deploy v2")
    assert len(cloud.docker_calls()) == 3, cloud.docker_calls()  # nothing new
    assert capfd.readouterr().out.count("already done: skipped") == 3
    config = function(cloud)["Configuration"]
    assert config["Environment"]["Variables"]["MODEL_URI"] == (
        f"s3://{BUCKET}/models/{v2.version}/"
    )
    assert model_grants(cloud, config["Role"]) == [
        f"arn:aws:s3:::{BUCKET}/models/{v2.version}/*",
        UPLOAD_GRANT,
    ]

    # destroy: service first, each stack once; then bucket and repository are gone
    cloud.empty_on_destroy(BUCKET, REPOSITORY)  # what auto-delete and EmptyOnDelete would do
    assert main(["destroy", "--cdk-out", str(tmp_path / "cdk.out")]) == 0
    timer.lap("destroy")
    with capfd.disabled():
        print(timer)
    destroyed = capfd.readouterr()
    log = destroyed.out + destroyed.err  # cdk reports on stderr
    assert log.count(f"{SERVICE}: destroying") == 1, log[-3000:]  # once, not twice
    assert stacks(cloud) == {"CDKToolkit"}
    assert not {BUCKET, UPLOAD_BUCKET} & {b["Name"] for b in s3.list_buckets()["Buckets"]}
    repositories = cloud.client("ecr").describe_repositories()["repositories"]
    assert REPOSITORY not in {r["repositoryName"] for r in repositories}
    if cloud.image_builder != "buildah":
        pytest.skip(f"deploy v1 -> v2 -> destroy passed with the docker shim; the image was "
                    f"not built or run ({cloud.image_builder})")  # fmt: skip
