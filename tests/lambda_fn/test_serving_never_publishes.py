"""The serving package only reads bundles: publishing lives in model_training (issue 13).

The Lambda image ships `lambda_fn/*.py` and nothing else, so any S3 write or manifest
writer found here would ship with every deployment and run with the function's role.
One exception, by design (issue 17): `uploads.py` signs presigned POSTs, so a client can
put its own image under `uploads/` of the upload bucket; the server itself writes nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "lambda_fn"
S3_WRITES = {
    "put_object", "upload_file", "upload_fileobj", "copy_object", "delete_object",
    "delete_objects", "create_multipart_upload", "generate_presigned_post",
}  # fmt: skip
ALLOWED = {"uploads.py": {"generate_presigned_post"}}
PUBLISHERS = {"write_manifest", "upload_bundle", "publish", "hash_files", "bundle_version"}


def offences(source: str, allowed: set[str] | None = None) -> list[str]:
    """S3 write calls and publishing functions defined in one module's source."""
    found = []
    writes = S3_WRITES - (allowed or set())
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in writes:
            found.append(f"line {node.lineno}: .{node.attr}")
        if isinstance(node, ast.FunctionDef) and node.name in PUBLISHERS:
            found.append(f"line {node.lineno}: def {node.name}")
    return found


@pytest.mark.parametrize("module", sorted(p.name for p in PACKAGE.glob("*.py")))
def test_no_serving_module_writes_to_s3_or_publishes(module: str) -> None:
    assert offences((PACKAGE / module).read_text(), ALLOWED.get(module)) == []


def test_the_check_sees_a_publisher() -> None:
    """The scan itself can fail: the old `store.upload_bundle` would be caught."""
    planted = "def upload_bundle(client):\n    client.put_object(Bucket='b', Key='k', Body=b'')\n"
    assert offences(planted) == ["line 1: def upload_bundle", "line 2: .put_object"]
