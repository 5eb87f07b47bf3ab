"""`make space SPACE=user/name`: create the Space if absent, upload frontend/, set its secrets.

The Hugging Face Hub cannot be reached from here (the suite also sets HF_HUB_OFFLINE=1), so
`publish` is given a stand-in for `huggingface_hub.HfApi` that records the calls. Its
methods are checked against the real HfApi's signatures, so the calls made here are calls
the real client accepts. The folder uploaded is read back from disk during the call.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import HfApi

from ops.space import SECRETS, publish

REPO = Path(__file__).resolve().parents[2]
URL = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"


class StandInHub:
    """Records HfApi calls; `upload_folder` lists the folder's files while it still exists."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.uploaded: set[str] = set()

    def _record(self, name: str, *args: Any, **kwargs: Any) -> None:
        bound = inspect.signature(getattr(HfApi, name)).bind(None, *args, **kwargs)
        self.calls.append((name, dict(list(bound.arguments.items())[1:])))

    def create_repo(self, *args: Any, **kwargs: Any) -> None:
        self._record("create_repo", *args, **kwargs)

    def upload_folder(self, *args: Any, **kwargs: Any) -> None:
        self._record("upload_folder", *args, **kwargs)
        folder = Path(kwargs["folder_path"])
        self.uploaded = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}

    def add_space_secret(self, *args: Any, **kwargs: Any) -> None:
        self._record("add_space_secret", *args, **kwargs)


def test_publish_creates_uploads_the_space_and_sets_both_secrets() -> None:
    hub = StandInHub()
    publish("me/aiornot", URL, "k3y", api=hub)
    names = [name for name, _ in hub.calls]
    assert names == ["create_repo", "upload_folder", "add_space_secret", "add_space_secret"]
    create = hub.calls[0][1]
    assert create["repo_id"] == "me/aiornot" and create["repo_type"] == "space"
    assert create["space_sdk"] == "gradio" and create["exist_ok"] is True
    upload = hub.calls[1][1]
    assert upload["repo_id"] == "me/aiornot" and upload["repo_type"] == "space"
    assert {"app.py", "README.md", "requirements.txt", "frontend/app.py"} <= hub.uploaded
    assert not any("__pycache__" in name for name in hub.uploaded)
    secrets = {call["key"]: call["value"] for name, call in hub.calls if name == "add_space_secret"}
    assert secrets == {"AIORNOT_API_URL": URL, "AIORNOT_API_KEY": "k3y"}
    assert set(secrets) == set(SECRETS)


def test_without_a_key_only_the_url_is_set() -> None:
    hub = StandInHub()
    publish("me/aiornot", URL, None, api=hub)
    keys = [call["key"] for name, call in hub.calls if name == "add_space_secret"]
    assert keys == ["AIORNOT_API_URL"]


def test_a_dry_run_asks_nothing_of_the_hub() -> None:
    hub = StandInHub()
    steps = publish("me/aiornot", URL, "k3y", api=hub, dry_run=True)
    assert hub.calls == []
    assert steps[-2:] == ["set secret AIORNOT_API_URL", "set secret AIORNOT_API_KEY"]
    assert not any("k3y" in step for step in steps)


@pytest.mark.parametrize(
    ("space", "url"), [("aiornot", URL), ("me/aiornot", ""), ("me/aiornot", "abc.example")]
)
def test_a_bad_space_name_or_api_url_is_refused_before_the_hub(space: str, url: str) -> None:
    hub = StandInHub()
    with pytest.raises(ValueError):
        publish(space, url, None, api=hub)
    assert hub.calls == []


def run_make_space(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "space", *args, f"PYTHON={sys.executable}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_make_space_dry_run_says_what_it_would_do_without_the_key() -> None:
    env = {**os.environ, "AIORNOT_API_KEY": "k3y", "HF_ENDPOINT": "http://127.0.0.1:9"}
    done = run_make_space("SPACE=me/aiornot", f"SPACE_API_URL={URL}", "ARGS=--dry-run", env=env)
    assert done.returncode == 0, done.stderr
    assert "would create Space me/aiornot (sdk gradio) unless it exists" in done.stdout
    assert "would set secret AIORNOT_API_KEY" in done.stdout
    assert "k3y" not in done.stdout + done.stderr


def test_make_space_offline_fails_clearly_instead_of_hanging() -> None:
    """The suite runs with HF_HUB_OFFLINE=1: the real client refuses before any connection.

    HF_ENDPOINT points at a closed loopback port as well, so even a request that got past
    offline mode could not leave this machine.
    """
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9"}
    done = run_make_space("SPACE=me/aiornot", f"SPACE_API_URL={URL}", env=env)
    assert done.returncode != 0
    assert "the Hub refused or could not be reached" in done.stderr
