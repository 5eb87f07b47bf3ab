"""W&B mode selection: online only with credentials and a reachable server, else offline."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from model_training.tracking import ensure_wandb_mode, has_wandb_credentials, run_id_from_path


@pytest.fixture
def no_wandb_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No key, an empty netrc; returns the netrc path for tests that add an entry."""
    for var in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    netrc_file = tmp_path / "netrc"
    netrc_file.write_text("")
    monkeypatch.setenv("NETRC", str(netrc_file))
    return netrc_file


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"  # nothing listens once closed


def test_without_credentials_the_run_goes_offline(no_wandb_env: Path) -> None:
    assert not has_wandb_credentials()
    assert ensure_wandb_mode() == "offline"
    assert os.environ["WANDB_MODE"] == "offline"


def test_a_netrc_login_counts_as_credentials(no_wandb_env: Path) -> None:
    no_wandb_env.write_text("machine api.wandb.ai\n  login user\n  password 0123456789abcdef\n")
    assert has_wandb_credentials()


def test_credentials_with_an_unreachable_server_still_go_offline(
    no_wandb_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_API_KEY", "0123456789abcdef")
    monkeypatch.setenv("WANDB_BASE_URL", _closed_port_url())
    assert ensure_wandb_mode() == "offline"


def test_an_explicit_mode_is_never_overridden(
    no_wandb_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert ensure_wandb_mode() == "disabled"
    assert os.environ["WANDB_MODE"] == "disabled"


def test_run_id_is_the_last_segment_online_or_offline() -> None:
    assert run_id_from_path("me/aiornot/1a2b3c") == "1a2b3c"
    assert run_id_from_path("aiornot/1a2b3c") == "1a2b3c"  # offline runs have no entity
