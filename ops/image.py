"""`make image`: build `lambda_fn/Dockerfile` unchanged without a Docker daemon (buildah).

    python -m ops.image build            # -> localhost/aiornot-serve:<source tag>
    python -m ops.image base             # only make sure the base image is in local storage

The Dockerfile starts `FROM public.ecr.aws/lambda/python:3.12`. Where that image is in local
container storage (`podman pull` it on a machine that reaches the registry), it is used.
Where it is not and no registry is reachable, a stand-in is made once and cached under the
same name: a Debian bookworm rootfs (debootstrap), a CPython 3.12 of this machine at
`/var/lang`, awslambdaric in `/var/runtime`, the host's CA bundle, and an entrypoint that
runs the runtime interface client as AWS's does. It is labelled `org.aiornot.stand-in`, so
`podman rmi` it before pulling the real one. The stand-in proves that the Dockerfile builds
and that the handler runs from the image it ships in; it is not Amazon Linux 2023.

`run_command` is the line that runs the image like Lambda does: read-only root, writable
`/tmp` only, a memory limit, the function's environment, and a Runtime API to poll.
Every build runs with `--pull=never`: nothing here contacts a registry.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ops.image_tag import source_tag

ROOT = Path(__file__).resolve().parents[1]
BASE_IMAGE = "public.ecr.aws/lambda/python:3.12"
IMAGE_NAME = "localhost/aiornot-serve"
STAND_IN_LABEL = "org.aiornot.stand-in"
DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
# What this CPython's extension modules link against, beyond debootstrap's minbase.
DEBIAN_PACKAGES = ["ca-certificates", "libsqlite3-0", "libncursesw6", "libnsl2", "libuuid1"]
# The Lambda base ships a current pip (ours then trusts the system CA store) and the runtime
# interface client at the version the project tests against (constraints.txt).
PIP_VERSION = "26.3"
RUNTIME_CLIENT = "awslambdaric==4.2.2"
# Left out of /var/lang: the standard library's tests and GUI, and site-packages (this machine's
# pip and .pth hooks); a fresh pip is installed there instead.
PYTHON_SKIP = ["test", "idlelib", "tkinter", "turtledemo", "_tkinter*", "site-packages"]
# The environment of AWS's python3.12 base image (its Dockerfile's ENV lines).
BASE_ENV = {
    "LANG": "en_US.UTF-8",
    "TZ": ":/etc/localtime",
    "PATH": "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
    "LD_LIBRARY_PATH": "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib"
    ":/var/task:/var/task/lib:/opt/lib",
    "LAMBDA_TASK_ROOT": "/var/task",
    "LAMBDA_RUNTIME_DIR": "/var/runtime",
    "PYTHONPATH": "/var/runtime",
}
ENTRYPOINT = """#!/bin/sh
# Stand-in for the Lambda base image's entrypoint (ops/image.py): the runtime interface client
# polls AWS_LAMBDA_RUNTIME_API for events and hands each to the handler named first.
if [ $# -ne 1 ]; then
  echo "entrypoint requires the handler name to be the first argument" >&2
  exit 142
fi
if [ -z "$AWS_LAMBDA_RUNTIME_API" ]; then
  echo "AWS_LAMBDA_RUNTIME_API is not set: this stand-in has no aws-lambda-rie;" \\
       "run it against a Runtime API (tests/support/lambda_rie.py)" >&2
  exit 142
fi
export _HANDLER="$1"
exec /var/lang/bin/python3.12 -m awslambdaric "$1"
"""
PIP_WRAPPER = '#!/bin/sh\nexec /var/lang/bin/python3.12 -m pip "$@"\n'
# podman flags this kind of host needs: crun refuses its hybrid cgroups, and the default
# nofile/nproc limits exceed what an unprivileged sandbox may set.
PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs"]
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


def missing_tools() -> list[str]:
    """The tools `build` needs that are not on PATH (make setup installs them as root)."""
    return [tool for tool in ("podman", "buildah", "runc") if shutil.which(tool) is None]


def unavailable_reason(python: str | None = None) -> str | None:
    """Why `build` cannot run on this machine, or None when it can."""
    missing = missing_tools()
    if missing:
        return f"{', '.join(missing)} not installed (make setup installs them as root via apt)"
    probe = subprocess.run([*PODMAN, "info"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"podman cannot run here: {probe.stderr.strip()[-300:]}"
    if image_exists(BASE_IMAGE):
        return None
    if shutil.which("debootstrap") is None:
        return f"{BASE_IMAGE} is not in local storage and debootstrap is not installed"
    try:
        python_prefix(python or default_python())
    except SystemExit as error:
        return f"no CPython 3.12 for the stand-in base: {error}"
    return None


def image_exists(name: str) -> bool:
    return subprocess.run([*PODMAN, "image", "exists", name]).returncode == 0


def inspect(name: str, template: str) -> str:
    """One field of `podman image inspect`, by Go template."""
    return subprocess.run(
        [*PODMAN, "image", "inspect", "--format", template, name],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def image_size(name: str) -> int:
    """Bytes the image takes in local storage, all layers together."""
    return int(inspect(name, "{{.Size}}"))


def is_stand_in(name: str) -> bool:
    return STAND_IN_LABEL in (json.loads(inspect(name, "{{json .Labels}}")) or {})


def default_python() -> str:
    """`python3.12` if it runs, else pyenv's newest 3.12 (pyenv's shim fails where the global
    version is another one)."""
    found = shutil.which("python3.12")
    if found and subprocess.run([found, "-c", ""], capture_output=True).returncode == 0:
        return found
    pyenv_versions = Path.home() / ".pyenv" / "versions"
    candidates = sorted(pyenv_versions.glob("3.12.*/bin/python3.12"))
    return str(candidates[-1]) if candidates else "python3.12"


def python_prefix(python: str) -> Path:
    """The installation prefix of a CPython 3.12 interpreter (what /var/lang becomes)."""
    code = "import sys; print(sys.version_info[:2] == (3, 12), sys.base_prefix)"
    try:
        same, prefix = subprocess.run(
            [python, "-c", code], check=True, capture_output=True, text=True
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError) as error:
        raise SystemExit(f"{python} does not run ({error}); pass --python PATH") from None
    if same != "True":
        raise SystemExit(f"{python} is not CPython 3.12, which the Lambda base image runs")
    return Path(prefix)


def install_python(prefix: Path, python: str, rootfs: Path) -> None:
    """CPython at /var/lang, pip upgraded, awslambdaric at /var/runtime, wrappers in bin/."""
    lang = rootfs / "var" / "lang"
    shutil.copytree(
        prefix / "lib", lang / "lib", symlinks=True, ignore=shutil.ignore_patterns(*PYTHON_SKIP)
    )
    (lang / "include").mkdir()  # headers: nothing here builds from source (--only-binary)
    (lang / "bin").mkdir()
    shutil.copy2(prefix / "bin" / "python3.12", lang / "bin" / "python3.12")
    for alias in ("python3", "python"):
        (lang / "bin" / alias).symlink_to("python3.12")
    for name in ("pip", "pip3", "pip3.12"):
        (lang / "bin" / name).write_text(PIP_WRAPPER)
        (lang / "bin" / name).chmod(0o755)
    site = lang / "lib" / "python3.12" / "site-packages"
    pip = [
        python,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--root-user-action=ignore",
        "--no-warn-script-location",
    ]
    subprocess.run([*pip, "--target", str(site), f"pip=={PIP_VERSION}"], check=True)
    shutil.rmtree(site / "bin")  # console scripts with this machine's path: bin/ has wrappers
    subprocess.run([*pip, "--target", str(rootfs / "var" / "runtime"), RUNTIME_CLIENT], check=True)


def make_rootfs(python: str, rootfs: Path, mirror: str) -> None:
    prefix = python_prefix(python)  # before the download: fail fast
    subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(DEBIAN_PACKAGES)}",
            DEBIAN_SUITE,
            str(rootfs),
            mirror,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    for leftovers in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for item in (rootfs / leftovers).glob("*"):
            if item.is_file():
                item.unlink()
    install_python(prefix, python, rootfs)
    # Build-time downloads (pip in the Dockerfile) trust what this host trusts, so they also
    # work behind a TLS-inspecting proxy.
    shutil.copy2("/etc/ssl/certs/ca-certificates.crt", rootfs / "etc/ssl/certs/ca-certificates.crt")
    (rootfs / "var" / "task").mkdir(parents=True, exist_ok=True)
    (rootfs / "lambda-entrypoint.sh").write_text(ENTRYPOINT)
    (rootfs / "lambda-entrypoint.sh").chmod(0o755)


def import_rootfs(rootfs: Path, name: str) -> None:
    """`podman import` the directory as image `name`, with the base image's config."""
    changes = [f"ENV {key}={value}" for key, value in BASE_ENV.items()]
    changes += [
        "WORKDIR /var/task",
        'ENTRYPOINT ["/lambda-entrypoint.sh"]',
        f"LABEL {STAND_IN_LABEL}=debian-{DEBIAN_SUITE}-cpython-3.12",
    ]
    flags = [arg for change in changes for arg in ("--change", change)]
    tar = subprocess.Popen(
        ["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE
    )
    imported = subprocess.run(
        [*PODMAN, "import", "--quiet", *flags, "-", name],
        stdin=tar.stdout,
        stdout=subprocess.DEVNULL,
    )
    assert tar.stdout is not None
    tar.stdout.close()
    if tar.wait() != 0 or imported.returncode != 0:
        raise SystemExit(f"podman import of {rootfs} as {name} failed")


def ensure_base(python: str, mirror: str = DEBIAN_MIRROR) -> str:
    """The base image the Dockerfile names: from local storage, else a stand-in made once."""
    if image_exists(BASE_IMAGE):
        kind = "the stand-in" if is_stand_in(BASE_IMAGE) else "the real image"
        print(f"base: {BASE_IMAGE} ({kind}) from local container storage")
        return BASE_IMAGE
    started = time.monotonic()
    print(f"base: {BASE_IMAGE} is not in local storage; making the stand-in (debootstrap)")
    parent = ROOT / "build"  # not /tmp: the rootfs is about 300 MB
    parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lambda-base-", dir=parent) as work:
        rootfs = Path(work) / "rootfs"
        make_rootfs(python, rootfs, mirror)
        import_rootfs(rootfs, BASE_IMAGE)
    size = image_size(BASE_IMAGE) / 1e6
    print(f"base: stand-in made in {time.monotonic() - started:.0f} s, {size:.1f} MB")
    return BASE_IMAGE


def build_command(tag: str, dockerfile: Path, context: Path) -> list[str]:
    """buildah without a daemon or user namespaces: chroot isolation, no registry pulls."""
    return [
        "buildah",
        "bud",
        "--isolation",
        "chroot",
        "--pull=never",
        "--layers",
        "-f",
        str(dockerfile),
        "-t",
        tag,
        str(context),
    ]


def build(
    tag: str,
    python: str,
    mirror: str = DEBIAN_MIRROR,
    dockerfile: Path = ROOT / "lambda_fn" / "Dockerfile",
    context: Path = ROOT,
) -> int:
    """Build the serving image as `tag`; return its size in bytes."""
    ensure_base(python, mirror)
    started = time.monotonic()
    subprocess.run(build_command(tag, dockerfile, context), check=True, stdout=subprocess.DEVNULL)
    size = image_size(tag)
    added = size - image_size(BASE_IMAGE)
    print(
        f"image: {tag} built in {time.monotonic() - started:.0f} s, {size / 1e6:.1f} MB "
        f"({added / 1e6:.1f} MB over the base: the task root and the Dockerfile's layers)"
    )
    return size


def run_command(
    image: str,
    env: dict[str, str],
    *,
    memory_mb: int,
    name: str | None = None,
) -> list[str]:
    """Run `image` as Lambda does: read-only, /tmp writable, `memory_mb`, the given environment
    (AWS_LAMBDA_RUNTIME_API among it), on the host network so loopback services are reachable."""
    command = [
        *PODMAN,
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/tmp:rw,size=512m",
        "--memory",
        f"{memory_mb}m",
        *ULIMITS,
        "--network",
        "host",
    ]
    if name:
        command += ["--name", name]
    for key, value in sorted(env.items()):
        command += ["--env", f"{key}={value}"]
    return [*command, image]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["build", "base"])
    parser.add_argument("--tag", help=f"default: {IMAGE_NAME}:<source tag>")
    parser.add_argument(
        "--arch",
        default="x86_64",
        choices=["x86_64"],
        help="the stand-in runs this machine's CPython: x86_64 only",
    )
    parser.add_argument(
        "--python",
        default=default_python(),
        help="a CPython 3.12 built for this Debian (e.g. `pyenv prefix 3.12.1`)",
    )
    parser.add_argument("--mirror", default=DEBIAN_MIRROR)
    parser.add_argument("--dockerfile", type=Path, default=ROOT / "lambda_fn" / "Dockerfile")
    parser.add_argument("--context", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    reason = unavailable_reason(args.python)
    if reason:
        print(f"cannot build the image here: {reason}", file=sys.stderr)
        return 2
    if args.action == "base":
        ensure_base(args.python, args.mirror)
        return 0
    tag = args.tag or f"{IMAGE_NAME}:{source_tag(ROOT, args.arch)}"
    build(tag, args.python, args.mirror, args.dockerfile, args.context)
    return 0


if __name__ == "__main__":
    sys.exit(main())
