"""`make deploy` / `make destroy` dry runs: the full sequence, exact commands, nothing run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lambda_fn.manifest import Manifest
from ops.deploy import ROOT, main, run
from ops.image_tag import source_tag
from ops.steps import Step
from tests.support.bundles import make_tiny_bundle

ACCOUNT, REGION = "123456789012", "eu-west-1"
TARGET = ["--account", ACCOUNT, "--region", REGION]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    directory = tmp_path_factory.mktemp("bundle") / "b"
    return directory, make_tiny_bundle(directory)


@pytest.fixture(autouse=True)
def nothing_may_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """A dry run must never start a process; make any attempt fail loudly."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"dry run tried to run {args}")

    monkeypatch.setattr(subprocess, "run", refuse)
    for name in ("AIORNOT_STAGE", "AIORNOT_ARCHITECTURE", "AIORNOT_ACCOUNT", "CDK_DEFAULT_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)


def commands(output: str) -> list[str]:
    return [line.removeprefix("  $ ") for line in output.splitlines() if line.startswith("  $ ")]


def test_dry_run_lists_the_full_deploy_sequence_in_order(
    bundle: tuple[Path, Manifest], capsys: pytest.CaptureFixture[str]
) -> None:
    directory, manifest = bundle
    assert main(["deploy", "--model", str(directory), "--dry-run", *TARGET]) == 0
    tag = source_tag(ROOT, "x86_64")
    image = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/aiornot-dev:{tag}"
    bucket = f"aiornot-models-{ACCOUNT}-{REGION}-dev"
    pins = f"-c imageTag={tag} -c modelVersion={manifest.version}"
    expected_starts = [
        "npx cdk deploy AiOrNot-Registry-dev AiOrNot-ModelStore-dev --exclusively",
        f"{sys.executable} -m ops.aws ecr-password --region {REGION} | docker login "
        f"--username AWS --password-stdin {ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com",
        f"docker build --platform linux/amd64 --provenance=false -f lambda_fn/Dockerfile "
        f"-t {image} .",
        f"docker push {image}",
        f"AWS_REGION={REGION} {sys.executable} -m model_training.registry publish {directory} "
        f"--bucket {bucket}",
        "npx cdk deploy AiOrNot-Service-dev --exclusively --require-approval never",
    ]
    lines = commands(capsys.readouterr().out)
    assert len(lines) == len(expected_starts)
    for line, start in zip(lines, expected_starts, strict=True):
        assert line.startswith(start), f"{line!r} should start with {start!r}"
    for cdk_line in (lines[0], lines[-1]):
        assert pins in cdk_line
        assert f"-c stage=dev -c account={ACCOUNT} -c region={REGION}" in cdk_line
    assert f"--outputs-file {ROOT}/cdk.out/outputs-dev.json" in lines[-1]


def test_steps_that_are_already_done_are_skipped_not_repeated(
    bundle: tuple[Path, Manifest], capsys: pytest.CaptureFixture[str]
) -> None:
    directory, manifest = bundle
    main(["deploy", "--model", str(directory), "--dry-run", *TARGET])
    output = capsys.readouterr().out
    tag = source_tag(ROOT, "x86_64")
    image_pushed = (
        f"(skipped if this succeeds: {sys.executable} -m ops.aws image-exists --region {REGION} "
        f"--repository aiornot-dev --tag {tag})"
    )
    assert output.count(image_pushed) == 3  # login, build and push: no Docker once pushed
    assert f"ops.aws object-exists --region {REGION} --bucket aiornot-models-" in output
    assert f"--key models/{manifest.version}/model.json" in output
    assert "aws " not in output.replace("ops.aws ", "")  # boto3, not the AWS CLI


def test_arm64_builds_for_arm_and_tags_by_architecture(
    bundle: tuple[Path, Manifest], capsys: pytest.CaptureFixture[str]
) -> None:
    directory, _ = bundle
    argv = ["deploy", "--model", str(directory), "--dry-run", "--architecture", "arm64"]
    assert main([*argv, "--stage", "prod", *TARGET]) == 0
    lines = commands(capsys.readouterr().out)
    assert lines[2].startswith("docker build --platform linux/arm64")
    assert f"aiornot-prod:{source_tag(ROOT, 'arm64')}" in lines[2]
    assert source_tag(ROOT, "arm64").endswith("-arm64")
    assert "-c architecture=arm64" in lines[-1] and "AiOrNot-Service-prod" in lines[-1]


def test_dry_run_lists_the_destroy_sequence_service_first(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["destroy", "--dry-run", "--stage", "prod", *TARGET]) == 0
    lines = commands(capsys.readouterr().out)
    assert [line.split(" -c ")[0] for line in lines] == [
        "npx cdk destroy AiOrNot-Service-prod --exclusively --force",
        "npx cdk destroy AiOrNot-ModelStore-prod AiOrNot-Registry-prod --exclusively --force",
    ]
    assert all("imageTag" not in line for line in lines)


def test_invalid_settings_stop_the_deploy_before_any_step(
    bundle: tuple[Path, Manifest], capsys: pytest.CaptureFixture[str]
) -> None:
    directory, _ = bundle
    argv = ["deploy", "--model", str(directory), "--dry-run", *TARGET, "-c", "timeoutS=60"]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert commands(captured.out) == []
    assert "timeout_s" in captured.err


def test_a_corrupt_bundle_stops_the_deploy_before_any_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_tiny_bundle(tmp_path / "b")
    (tmp_path / "b" / "model.onnx").write_bytes(b"tampered")
    assert main(["deploy", "--model", str(tmp_path / "b"), "--dry-run", *TARGET]) == 2
    captured = capsys.readouterr()
    assert commands(captured.out) == []
    assert "model.onnx" in captured.err


def test_deploy_without_a_model_is_refused() -> None:
    with pytest.raises(SystemExit, match="--model"):
        main(["deploy", "--dry-run", *TARGET])


def test_real_run_pipes_stdin_and_skips_steps_already_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.undo()  # this test runs real (harmless) processes
    out = tmp_path / "out.txt"
    write_stdin = [
        sys.executable,
        "-c",
        f"import sys; open({str(out)!r}, 'a').write(sys.stdin.read())",
    ]
    steps = [
        Step("pipe", write_stdin, stdin_from=[sys.executable, "-c", "print('secret')"]),
        Step("skipped", write_stdin, stdin_from=[sys.executable, "-c", "print('no')"],
             unless=[sys.executable, "-c", "pass"]),
    ]  # fmt: skip
    run(steps, dry_run=False)
    assert out.read_text() == "secret\n"
    with pytest.raises(subprocess.CalledProcessError):
        run([Step("fails", [sys.executable, "-c", "raise SystemExit(3)"])], dry_run=False)


def test_without_credentials_the_deploy_stops_and_says_so(
    bundle: tuple[Path, Manifest],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No account given and none findable: a clear refusal before any step (no network:
    the instance-metadata lookup is off, and there is nothing else to ask)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ENDPOINT_URL"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    directory, _ = bundle
    assert main(["deploy", "--model", str(directory), "--region", REGION]) == 2
    captured = capsys.readouterr()
    assert commands(captured.out) == []
    assert "Not deploying: cannot ask AWS who you are" in captured.err
    assert "python -m ops.aws account" in captured.err
