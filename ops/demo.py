"""`make demo`: every stage of the stack on a laptop, offline, then serve the result.

Each stage is the same command a user would run by hand; a stage whose output already
exists is reused, so a second run goes straight to serving. One Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx

from lambda_fn.manifest import read_manifest, version_uri
from ops.steps import Step, announce, run_step, say

PY = sys.executable
HOST = "127.0.0.1"
BUCKET = "aiornot-demo-models"
EXAMPLE_IMAGE = "frontend/examples/real-motorcycle.jpg"


@dataclass(frozen=True)
class Stage:
    """One step of the pipeline: a command, the file it makes, and the marker of a finish.

    A stage counts as done only when its output exists *and* its marker does: the marker is
    written after the command exits 0, so an interrupted stage is never taken for a
    finished one. `resume_from` is the checkpoint an interrupted run may have left (training's
    `last.ckpt`): the stage then continues from it; without one it is redone.
    """

    name: str
    command: Sequence[str]
    done_when: Path | None = None
    marker: Path | None = None
    resume_from: Path | None = None

    def finished(self) -> bool:
        outputs = (self.done_when, self.marker)
        return all(path is not None and path.exists() for path in outputs)


class DemoError(RuntimeError):
    """A failure the user can act on: printed as one line, no traceback."""


class Stopped(Exception):
    """SIGTERM or SIGHUP: stop everything, as Ctrl-C does."""


def stop_on_signals() -> None:
    """SIGTERM, SIGHUP and SIGINT all stop the demo and every process it started, SIGINT
    even when it was inherited as ignored (a background job, some IDEs)."""

    def stop(signum: int, _frame: object) -> None:
        raise Stopped(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)


def run_stage(stage: Stage, index: int, total: int, *, fresh: bool) -> bool:
    """Run a stage unless it finished before (and --fresh was not given); True if it ran."""
    prefix = f"[{index}/{total}] {stage.name}"
    if stage.finished() and not fresh:
        say(f"{prefix}: reusing {stage.done_when}")
        return False
    command = list(stage.command)
    if stage.marker:
        stage.marker.unlink(missing_ok=True)
    if stage.resume_from and stage.resume_from.exists() and not fresh:
        say(f"{prefix}: an earlier run stopped before it finished; resuming from its checkpoint")
        command += [f"--resume={stage.resume_from}"]
    elif stage.done_when and stage.done_when.exists():
        say(f"{prefix}: {stage.done_when} is not from a finished run; redoing the stage")
    step = Step(stage.name, command)
    announce(step, index, total)
    started = time.monotonic()
    returncode = run_step(step)
    if returncode != 0:
        raise DemoError(f"{stage.name} failed (exit {returncode}); see the output above.")
    if stage.marker:
        stage.marker.parent.mkdir(parents=True, exist_ok=True)
        stage.marker.write_text(shlex.join(command) + "\n")
    say(f"{prefix}: done in {time.monotonic() - started:.1f} s")
    return True


def stage_marker(artifacts: Path, slug: str) -> Path:
    """Where the finish of stage `slug` is recorded (outside its outputs: a bundle stays clean)."""
    return Path(artifacts) / ".stages" / f"{slug}.done"


def ensure_port_free(host: str, port: int, what: str, variable: str) -> None:
    """A busy port is a clear message naming the setting to change, not a traceback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the servers themselves bind: a port left in TIME_WAIT by a stopped demo is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise DemoError(
                f"port {port} on {host} is busy, so the {what} cannot start ({exc.strerror}). "
                f"Stop whatever uses it, or pick another: make demo {variable}=<port>"
            ) from exc


def wait_until_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Poll `url` until it answers 200, failing fast if the process died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DemoError(f"{url} never came up: the process exited with {process.returncode}.")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise DemoError(f"{url} did not answer within {timeout_s:.0f} s.")


def start(
    command: Sequence[str], env: dict[str, str], *, quiet: bool = False
) -> subprocess.Popen[bytes]:
    """Start a server in its own process group so one signal stops it and its children."""
    output = subprocess.DEVNULL if quiet else None
    return subprocess.Popen(
        command, env={**os.environ, **env}, start_new_session=True, stdout=output, stderr=output
    )


def stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def pipeline(args: argparse.Namespace) -> list[Stage]:
    """The offline stages, in order: data, validation, training, evaluation, export."""
    out = Path(args.artifacts)
    ckpt = out / "checkpoints" / "last.ckpt"
    metrics = out / "eval" / "metrics.json"
    bundle = out / "bundle"
    overrides = [
        f"--trainer.default_root_dir={out}",
        f"--trainer.logger.init_args.save_dir={out}",  # the W&B run, offline without a login
        f"--checkpoint.dirpath={out / 'checkpoints'}",
    ]
    return [
        Stage("build the demo dataset", [PY, "-m", "model_training.data.demo"]),
        Stage("validate it", [PY, "-m", "model_training.data.validate_cli", "--source", "demo"]),
        Stage(
            "train the demo ResNet",
            [PY, "-m", "model_training.cli", "fit", "--config", args.config, *overrides,
             *args.train_args],
            ckpt, stage_marker(out, "train"), resume_from=ckpt,
        ),
        Stage(
            "evaluate on held-out photos",
            [PY, "-m", "model_training.evaluate", "--checkpoint", str(ckpt),
             "--out", str(out / "eval")],
            metrics, stage_marker(out, "evaluate"),
        ),
        Stage(
            "export an ONNX bundle (parity gate, calibration)",
            [PY, "-m", "model_training.export", "--checkpoint", str(ckpt), "--out", str(bundle),
             "--metrics", str(metrics), "--overwrite"],
            bundle / "model.json", stage_marker(out, "export"),
        ),
    ]  # fmt: skip


def start_model_store(port: int) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """A local S3 API (moto's server) standing in for the S3 model bucket."""
    ensure_port_free(HOST, port, "local model store", "STORE_PORT")
    env = {
        "AWS_ENDPOINT_URL_S3": f"http://{HOST}:{port}",
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    process = start([PY, "-m", "moto.server", "-H", HOST, "-p", str(port)], env, quiet=True)
    wait_until_ready(f"http://{HOST}:{port}/moto-api/", process, timeout_s=30)
    return process, env


def publish_to_store(bundle: Path, store_env: dict[str, str]) -> str:
    """Create the bucket, publish the bundle with the real registry, return its s3:// URI."""
    boto3.client(
        "s3",
        endpoint_url=store_env["AWS_ENDPOINT_URL_S3"],
        region_name=store_env["AWS_DEFAULT_REGION"],
        aws_access_key_id=store_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=store_env["AWS_SECRET_ACCESS_KEY"],
    ).create_bucket(Bucket=BUCKET)
    command = [PY, "-m", "model_training.registry", "publish", str(bundle), "--bucket", BUCKET]
    step = Step("publish it to the local model store", command, env=store_env)
    announce(step, 6, 7)
    if run_step(step) != 0:
        raise DemoError("publishing the bundle failed; see the output above.")
    return version_uri(BUCKET, read_manifest(bundle).version)


def serve(args: argparse.Namespace, bundle: Path, example: str) -> int:
    """Publish to a local S3 store, start the API and the Gradio app, wait for Ctrl-C."""
    ensure_port_free(HOST, args.port, "API", "PORT")
    ensure_port_free(HOST, args.ui_port, "Gradio app", "FRONTEND_PORT")
    api_url, ui_url = f"http://{HOST}:{args.port}", f"http://{HOST}:{args.ui_port}"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        store, store_env = start_model_store(args.store_port)
        processes.append(store)
        model_uri = publish_to_store(bundle, store_env)
        say(f"[7/7] serve: the API (the app the Lambda runs) on {model_uri}")
        cache = str(Path(args.artifacts).resolve() / "model-cache")
        api = start(
            [PY, "-m", "uvicorn", "lambda_fn.app:app", "--host", HOST, "--port", str(args.port),
             "--no-access-log"],
            {**store_env, "MODEL_URI": model_uri, "MODEL_CACHE_DIR": cache},
        )  # fmt: skip
        processes.append(api)
        wait_until_ready(f"{api_url}/health", api, timeout_s=60)
        say("[7/7] serve: the Gradio app")
        ui = start(
            [PY, "-m", "frontend.app"],
            {"AIORNOT_API_URL": api_url, "GRADIO_SERVER_NAME": HOST,
             "GRADIO_SERVER_PORT": str(args.ui_port), "GRADIO_ANALYTICS_ENABLED": "False"},
        )  # fmt: skip
        processes.append(ui)
        wait_until_ready(ui_url, ui, timeout_s=90)
        print_usage(api_url, ui_url, example)
        if args.no_wait:
            return 0
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        raise DemoError("a server stopped unexpectedly; see its output above.")
    except KeyboardInterrupt:
        say("stopping (Ctrl-C)")
        return 0
    except Stopped as stop:
        say(f"stopping ({stop})")
        return 0
    finally:
        stop_all(processes)


def print_usage(api_url: str, ui_url: str, example: str) -> None:
    say("the demo is up")
    print(
        f"""
  API        {api_url}        (docs: {api_url}/docs)
  Gradio     {ui_url}

  curl --data-binary @{example} -H 'Content-Type: image/jpeg' {api_url}/predict
  curl -F file=@{example} '{api_url}/predict?explain=true'
  printf '{{"image": "%s"}}' "$(base64 -w0 {example})" | \\
    curl -H 'Content-Type: application/json' --data-binary @- {api_url}/predict

  Press Ctrl-C to stop everything.
""",
        flush=True,
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--artifacts", default="artifacts/demo")
    parser.add_argument("--config", default="configs/demo.yaml")
    parser.add_argument("--store-port", type=int, default=int(os.environ.get("STORE_PORT", 9001)))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    parser.add_argument("--ui-port", type=int, default=int(os.environ.get("FRONTEND_PORT", 7860)))
    parser.add_argument("--fresh", action="store_true", help="rebuild every stage")
    parser.add_argument("--no-serve", action="store_true", help="stop after the export")
    parser.add_argument("--no-wait", action="store_true", help="exit once both servers answer")
    parser.add_argument("--train-args", nargs=argparse.REMAINDER, default=[])
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stop_on_signals()
    stages = pipeline(args)
    total = len(stages) + 2  # + publish and serve, below
    try:
        fresh = args.fresh
        data_needed = fresh or not all(s.finished() for s in stages if s.marker is not None)
        for index, stage in enumerate(stages, start=1):
            if stage.marker is None and not data_needed:  # the data feed training only
                say(f"[{index}/{total}] {stage.name}: not needed, the model stages are finished")
                continue
            ran = run_stage(stage, index, total, fresh=fresh)
            fresh = fresh or (ran and stage.marker is not None)  # what follows it is stale
        if args.no_serve:
            return 0
        return serve(args, Path(args.artifacts) / "bundle", EXAMPLE_IMAGE)
    except DemoError as exc:
        print(f"\033[1;31mdemo: {exc}\033[0m", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ndemo: interrupted", file=sys.stderr)
        return 130
    except Stopped as stop:
        print(f"\ndemo: stopped by {stop}", file=sys.stderr)
        return 143


if __name__ == "__main__":
    sys.exit(main())
