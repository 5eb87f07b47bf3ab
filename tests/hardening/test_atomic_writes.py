"""A checkpoint writer killed mid-write never leaves a file a later resume takes for whole.

The real writer runs in a child process that SIGKILLs itself halfway through writing the
bytes; the next reader must find the previous complete checkpoint, never the torn one.
(Bundles: the export assembles `.NAME.partial` and renames it only after every check, a
publish writes `model.json` last, and a server verifies every file's sha256 before use; the
matching kill tests are in tests/model_training/test_export.py and test_registry.py.)
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
# Patched into the child: the first write of more than 1 KiB writes half, then dies.
DIE_HALFWAY = """
import os, signal, io
def die_halfway(write):
    def torn(self, data):
        if len(data) > 1024:
            write(self, data[: len(data) // 2])
            self.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        return write(self, data)
    return torn
"""


def run_killed(script: str) -> None:
    """Run `script` in a child that is expected to die by SIGKILL."""
    child = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(DIE_HALFWAY) + textwrap.dedent(script)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert child.returncode == -9, f"the child did not die mid-write:\n{child.stderr}"


def test_a_checkpoint_killed_mid_write_leaves_the_previous_one_whole(tmp_path: Path) -> None:
    """Lightning's checkpoint IO writes through an fsspec transaction: a temporary file,
    renamed into place once complete. This is what `last.ckpt` and `--resume` rely on."""
    path = tmp_path / "last.ckpt"
    script = f"""
        import torch
        from fsspec.implementations.local import LocalFileOpener
        from lightning.pytorch.plugins import TorchCheckpointIO
        io_ = TorchCheckpointIO()
        io_.save_checkpoint({{"global_step": 1, "w": torch.zeros(4096)}}, {str(path)!r})
        LocalFileOpener.write = die_halfway(LocalFileOpener.write)
        io_.save_checkpoint({{"global_step": 2, "w": torch.ones(4096)}}, {str(path)!r})
    """
    run_killed(script)
    restored = torch.load(path, weights_only=True)
    assert restored["global_step"] == 1 and restored["w"].sum() == 0
