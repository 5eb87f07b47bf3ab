"""Synthesize each CDK variant once per session: in-process synthesis costs ~20 s (jsii).

`default_synth` is the everyday dev stage with every option on; `variant_synth` flips all the
switches at once (prod, arm64, open API, no e-mail, no CORS, no reserved concurrency);
`cli_synth` runs the real `cdk synth` CLI (offline, fresh-clone defaults) in the background
while the in-process ones build, and hands over its cloud assembly directory.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.infra.synth import (
    DEFAULT_CONTEXT,
    ROOT,
    SNAPSTART_CONTEXT,
    VARIANT_CONTEXT,
    Synthesized,
    settings_env,
    synthesize,
)


@pytest.fixture(scope="session")
def cli_synth_process(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """Start `cdk synth` through the CLI exactly as `make synth` does, without waiting."""
    cdk = ROOT / "node_modules" / ".bin" / "cdk"
    if not cdk.exists():
        pytest.fail("node_modules/.bin/cdk is missing: run `npm ci` (part of `make setup`)")
    outdir = tmp_path_factory.mktemp("cli-cdk-out")
    command = [str(cdk), "synth", "--quiet", "--no-notices", "--output", str(outdir / "cdk.out")]
    with (outdir / "output.txt").open("wb") as log:  # a file, so a chatty CLI never blocks
        process = subprocess.Popen(
            command, cwd=ROOT, env=settings_env(), stdout=log, stderr=subprocess.STDOUT
        )
    yield process, outdir
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def default_synth(
    cli_synth_process: tuple[subprocess.Popen[bytes], Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Synthesized:
    return synthesize(DEFAULT_CONTEXT, tmp_path_factory.mktemp("cdk-default"))


@pytest.fixture(scope="session")
def variant_synth(
    cli_synth_process: tuple[subprocess.Popen[bytes], Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Synthesized:
    return synthesize(VARIANT_CONTEXT, tmp_path_factory.mktemp("cdk-variant"))


@pytest.fixture(scope="session")
def snapstart_synth(
    cli_synth_process: tuple[subprocess.Popen[bytes], Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Synthesized:
    return synthesize(SNAPSTART_CONTEXT, tmp_path_factory.mktemp("cdk-snapstart"))


@pytest.fixture(scope="session")
def cli_synth(cli_synth_process: tuple[subprocess.Popen[bytes], Path]) -> tuple[int, str, Path]:
    """(exit status, output, assembly directory) of the CLI run."""
    process, outdir = cli_synth_process
    returncode = process.wait(timeout=300)
    return returncode, (outdir / "output.txt").read_text(errors="replace"), outdir / "cdk.out"
