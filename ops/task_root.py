"""Assemble the Lambda task root exactly as lambda_fn/Dockerfile does, without Docker.

    python -m ops.task_root --arch x86_64            # -> build/task-root-x86_64-py312
    python -m ops.task_root --arch arm64 --check-only # resolve wheels, install nothing
    python -m ops.task_root --python-version local    # for running it on this machine

It installs `lambda_fn/requirements.txt` (hash-checked) from Lambda-platform binary wheels
only (manylinux, CPython 3.12 by default), copies the runtime files the Dockerfile copies,
and reports the size and what dominates it. Success proves every dependency has such a
wheel. The install is reused while requirements, platform and Python version are unchanged.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "lambda_fn" / "requirements.txt"
MACHINES = {"x86_64": "x86_64", "arm64": "aarch64"}
GLIBC_MINORS = range(17, 35)  # Lambda's python3.12 runtime is Amazon Linux 2023: glibc 2.34
STAMP = ".assembled.json"
# Never imported at serving time; the Dockerfile's RUN removes exactly these too (a test checks).
# libonnxruntime.so is the C API library for other languages: the Python module is
# self-contained (its only NEEDED entries are libc/libstdc++), so it is 35 MB never loaded.
PRUNE_DIRS = [
    "numpy/tests",
    "numpy/*/tests",
    "onnxruntime/transformers",
    "onnxruntime/quantization",
    "onnxruntime/tools",
    "onnxruntime/capi/libonnxruntime.so.*",
]
PRUNE_FILES = "*.pyi"
# botocore ships the JSON model of every AWS API (~28 MB); the server only calls S3. Kept:
# S3 and the services boto3's credential chain may call (web identity, SSO, console login).
BOTOCORE_KEEP = ["s3", "sts", "sso", "sso-oidc", "signin"]


def platform_tags(arch: str) -> list[str]:
    machine = MACHINES[arch]
    tags = [f"manylinux_2_{minor}_{machine}" for minor in reversed(GLIBC_MINORS)]
    return [*tags, f"manylinux2014_{machine}"]


def pip_args(arch: str, python_version: str, target: Path) -> list[str]:
    args = [sys.executable, "-m", "pip", "install", "--quiet", "--require-hashes"]
    args += ["--only-binary=:all:", "--implementation", "cp", "--python-version", python_version]
    for tag in platform_tags(arch):
        args += ["--platform", tag]
    if python_version != f"{sys.version_info.major}.{sys.version_info.minor}":
        args.append("--no-compile")  # this interpreter would write .pyc for the wrong version
    return [*args, "--target", str(target), "-r", str(REQUIREMENTS)]


def fingerprint(arch: str, python_version: str) -> str:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes())
    digest.update(f"{arch}|{python_version}|{platform_tags(arch)}".encode())
    return digest.hexdigest()


def install(arch: str, python_version: str, out: Path) -> bool:
    """pip-install into `out` unless an identical install is already there; True if it ran."""
    wanted = fingerprint(arch, python_version)
    stamp = out / STAMP
    if stamp.is_file() and json.loads(stamp.read_text()).get("fingerprint") == wanted:
        prune(out)  # idempotent: a reused install gets any newer pruning rules too
        return False
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    subprocess.run(pip_args(arch, python_version, staging), check=True)
    prune(staging)
    meta = {"fingerprint": wanted, "arch": arch, "python_version": python_version}
    (staging / STAMP).write_text(json.dumps(meta))
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return True


def prune(out: Path) -> None:
    """Drop test suites, offline tools, unused libraries and API models, as the Dockerfile does."""
    for pattern in PRUNE_DIRS:
        for path in out.glob(pattern):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    for path in out.rglob(PRUNE_FILES):
        path.unlink()
    data = out / "botocore" / "data"
    if data.is_dir():
        for path in data.iterdir():
            if path.is_dir() and path.name not in BOTOCORE_KEEP:
                shutil.rmtree(path)


def botocore_prune_command() -> str:
    """The Dockerfile's equivalent of the botocore part of `prune` (a test compares them)."""
    keep = " ".join(f"! -name {name}" for name in BOTOCORE_KEEP)
    return f"find botocore/data -mindepth 1 -maxdepth 1 -type d {keep} -exec rm -rf {{}} +"


def copy_runtime_files(out: Path) -> None:
    """`COPY lambda_fn/*.py ${LAMBDA_TASK_ROOT}/lambda_fn/`: code only, no tests or data."""
    package = out / "lambda_fn"
    shutil.rmtree(package, ignore_errors=True)
    package.mkdir(parents=True)
    for source in sorted((ROOT / "lambda_fn").glob("*.py")):
        shutil.copy2(source, package / source.name)


def tree_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def size_report(out: Path, top: int = 12) -> dict[str, object]:
    """Total size and the largest top-level entries (distribution metadata folded in)."""
    sizes: dict[str, int] = {}
    for entry in out.iterdir():
        if entry.name == STAMP:
            continue
        name = entry.name.split("-")[0].lower() if entry.name.endswith(".dist-info") else entry.name
        sizes[name] = sizes.get(name, 0) + tree_bytes(entry)
    total = sum(sizes.values())
    largest = sorted(sizes.items(), key=lambda kv: kv[1], reverse=True)[:top]
    return {
        "total_mb": round(total / 1e6, 1),
        "largest_mb": {name: round(size / 1e6, 1) for name, size in largest},
    }


def check_only(arch: str, python_version: str) -> None:
    """Resolve every requirement to a Lambda-platform wheel without installing anything."""
    stamp = ROOT / "build" / f".wheels-ok-{arch}-py{python_version}"
    wanted = fingerprint(arch, python_version)
    if not (stamp.is_file() and stamp.read_text() == wanted):
        args = pip_args(arch, python_version, ROOT / "build" / f".check-{arch}")
        subprocess.run([*args[:4], "--dry-run", "--ignore-installed", *args[4:]], check=True)
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(wanted)
    print(f"ok: every requirement has a cp{python_version.replace('.', '')} {arch} wheel")


def default_out(arch: str, python_version: str) -> Path:
    """build/task-root-ARCH-pyXY: always named by its Python, 3.12 (Lambda's) included, so
    the roots for different interpreters never overwrite or stand in for each other."""
    return ROOT / "build" / f"task-root-{arch}-py{python_version.replace('.', '')}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", choices=sorted(MACHINES), default="x86_64")
    parser.add_argument("--python-version", default="3.12", help="X.Y, or 'local' for this one")
    parser.add_argument("--out", type=Path, help="default: build/task-root-ARCH-pyXY")
    parser.add_argument("--check-only", action="store_true", help="resolve wheels, install none")
    args = parser.parse_args(argv)
    version = args.python_version
    if version == "local":
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        args.arch = next(a for a, m in MACHINES.items() if m == platform.machine())
    if args.check_only:
        check_only(args.arch, version)
        return 0
    out = (args.out or default_out(args.arch, version)).resolve()
    ran = install(args.arch, version, out)
    copy_runtime_files(out)
    report = {"arch": args.arch, "python_version": version, "path": str(out), **size_report(out)}
    out.with_name(out.name + ".size.json").write_text(json.dumps(report, indent=2) + "\n")
    print(("installed" if ran else "reused") + f" {out}: {report['total_mb']} MB")
    for name, mb in report["largest_mb"].items():  # type: ignore[union-attr]
        print(f"  {mb:8.1f} MB  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
