"""`make deploy` / `make destroy`: the whole sequence in one command, each step printed first.

    python -m ops.deploy deploy --model artifacts/bundle [--stage dev] [--dry-run]
    python -m ops.deploy destroy [--stage dev] [--dry-run]

`--dry-run` prints every exact command and runs none (no AWS account or Docker needed).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from infra import naming
from infra.settings import Settings
from ops import aws
from ops.deploy_plan import Target, deploy_plan, destroy_plan
from ops.image_tag import source_tag
from ops.steps import Step, announce, run_step

ROOT = Path(__file__).resolve().parents[1]


DEFAULT_CDK_OUT = ROOT / "cdk.out"


def outputs_file(cdk_out: Path | None, stage: str) -> Path:
    return (cdk_out or DEFAULT_CDK_OUT) / f"outputs-{stage}.json"


def run(steps: list[Step], *, dry_run: bool) -> None:
    """Print each step, then run it unless dry; stop at the first failure."""
    for number, step in enumerate(steps, 1):
        announce(step, number, len(steps))
        if dry_run:
            continue
        returncode = run_step(step, cwd=ROOT)
        if returncode != 0:
            raise subprocess.CalledProcessError(returncode, list(step.argv))


def print_outputs(cdk_out: Path | None, stage: str) -> None:
    """What a user needs next: the URL, how to get the key, a curl line, the smoke test."""
    written = json.loads(outputs_file(cdk_out, stage).read_text())
    outputs = written[naming.stack_name("Service", stage)]
    key_command = outputs.get("ApiKeyCommand")
    print(f"\nAPI URL:    {outputs['ApiUrl']}")
    if key_command:
        print(f"API key:    {key_command}")
    print(f"Try it:     {outputs['CurlExample']}")
    key = f' KEY="$({key_command})"' if key_command else ""
    print(f"Smoke test: make smoke URL={outputs['ApiUrl']}{key}")


def resolve_account_region(
    account: str | None, region: str | None, *, dry_run: bool
) -> tuple[str | None, str | None]:
    """Flags, then the environment, then your AWS credentials and profile (not in a dry run)."""
    account = account or os.environ.get("AIORNOT_ACCOUNT") or os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not dry_run:
        account = account or aws.caller_account()
        region = region or aws.configured_region()
    return account, region


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m ops.deploy", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("action", choices=["deploy", "destroy"])
    parser.add_argument("--model", type=Path, help="bundle directory to publish and pin")
    parser.add_argument("--stage", default=os.environ.get("AIORNOT_STAGE", "dev"))
    parser.add_argument("--account", help="12-digit AWS account (default: your credentials')")
    parser.add_argument("--region", help="AWS region (default: AWS_REGION or the CLI's config)")
    parser.add_argument("--architecture", default=os.environ.get("AIORNOT_ARCHITECTURE", "x86_64"))
    parser.add_argument("--dockerfile", default="lambda_fn/Dockerfile")
    parser.add_argument("--docker-context", default=".")
    parser.add_argument(
        "-c", "--context", action="append", default=[], metavar="KEY=VALUE", help="more CDK context"
    )
    parser.add_argument(
        "--method",
        choices=["change-set", "direct"],
        default="change-set",
        help="cdk deploy method: change-set (default) or direct (no change set; faster)",
    )
    parser.add_argument(
        "--cdk-out",
        type=Path,
        help="cloud assembly and outputs-STAGE.json directory (default cdk.out/)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run none")
    return parser.parse_args(argv)


def build_target(args: argparse.Namespace) -> Target:
    """Validate everything up front, exactly as the CDK app will, before any AWS call."""
    malformed = [item for item in args.context if "=" not in item]
    if malformed:
        raise SystemExit(f"-c takes KEY=VALUE; got {', '.join(malformed)}")
    extra = dict(item.split("=", 1) for item in args.context)
    account, region = resolve_account_region(args.account, args.region, dry_run=args.dry_run)
    context = {**extra, "stage": args.stage, "architecture": args.architecture}
    context |= {"account": account, "region": region}
    if args.action == "deploy":
        if args.model is None:
            raise SystemExit("deploy needs --model DIR (a bundle from `make export`)")
        from lambda_fn.manifest import verify_bundle  # refuse a broken bundle before deploying

        context["modelVersion"] = verify_bundle(args.model).version
        context["imageTag"] = source_tag(ROOT, args.architecture)
    settings = Settings.from_context(context.get)
    return Target(settings=settings, extra_context=extra, cdk_out=args.cdk_out)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from lambda_fn.manifest import BundleError

    try:
        target = build_target(args)
    except (ValidationError, BundleError) as exc:
        print(f"Not deploying: {exc}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as exc:
        print(f"Not deploying: cannot ask AWS who you are ({exc}); are credentials configured "
              "(`python -m ops.aws account` should print your account)?",
              file=sys.stderr)  # fmt: skip
        return 2
    if args.action == "deploy":
        stage = target.settings.stage
        steps = deploy_plan(
            target,
            model_dir=args.model,
            outputs_file=outputs_file(args.cdk_out, stage),
            dockerfile=args.dockerfile,
            docker_context=args.docker_context,
            method=args.method,
        )
    else:
        steps = destroy_plan(target)
    try:
        run(steps, dry_run=args.dry_run)
    except subprocess.CalledProcessError as exc:
        print(f"\nFailed: {shlex.join(map(str, exc.cmd))} exited {exc.returncode}", file=sys.stderr)
        return 1
    if args.action == "deploy" and not args.dry_run:
        print_outputs(args.cdk_out, target.settings.stage)
    return 0


if __name__ == "__main__":
    sys.exit(main())
