"""Configuration comes from the environment; the frontend also stands alone as a Space."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import gradio
import pytest
import yaml

from frontend.settings import MIB, ConfigError, Settings
from ops.space import assemble_space

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
PROJECT_PACKAGES = {"frontend", "lambda_fn", "model_training", "infra", "tests"}
HEAVY = {"torch", "onnxruntime", "lightning", "torchvision", "matplotlib"}


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, str]], None]:
    """Set exactly these AIORNOT_* variables (pydantic-settings reads os.environ)."""
    for name in [n for n in os.environ if n.upper().startswith("AIORNOT_")]:
        monkeypatch.delenv(name)

    def set_env(values: dict[str, str]) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_env


def test_missing_api_url_is_a_clear_startup_error(environ: Callable[..., None]) -> None:
    environ({"AIORNOT_API_KEY": "k"})
    with pytest.raises(ConfigError, match=r"AIORNOT_API_URL is not set.*make serve"):
        Settings.from_env()


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"AIORNOT_API_URL": "127.0.0.1:8000"}, "AIORNOT_API_URL must be an http"),
        ({"AIORNOT_API_URL": "  "}, "AIORNOT_API_URL is not set"),
        ({"AIORNOT_API_URL": "http://x", "AIORNOT_TIMEOUT_S": "soon"}, "S must be a number"),
        ({"AIORNOT_API_URL": "http://x", "AIORNOT_MAX_UPLOAD_BYTES": "a"}, "S must be a number"),
        ({"AIORNOT_API_URL": "http://x", "AIORNOT_FLAG_S3_URI": "bucket/x"}, "s3://"),
    ],
)  # fmt: skip
def test_bad_settings_are_refused_with_the_variable_named(
    environ: Callable[..., None], env: dict[str, str], match: str
) -> None:
    environ(env)
    with pytest.raises(ConfigError, match=match):
        Settings.from_env()


def test_settings_are_read_from_the_environment(environ: Callable[..., None]) -> None:
    environ(
        {
            "AIORNOT_API_URL": "https://abc.execute-api.eu-west-1.amazonaws.com/prod/ ",
            "AIORNOT_API_KEY": "secret",
            "AIORNOT_TIMEOUT_S": "45",
            "AIORNOT_MAX_UPLOAD_BYTES": str(2 * MIB),
            "AIORNOT_FLAG_DIR": "/data/flags",
            "AIORNOT_FLAG_S3_URI": "s3://bucket/flags/",
        }
    )
    settings = Settings.from_env()
    assert settings.api_url == "https://abc.execute-api.eu-west-1.amazonaws.com/prod"
    assert (settings.api_key, settings.total_timeout_s) == ("secret", 45.0)
    assert settings.max_upload_bytes == 2 * MIB
    assert (settings.flag_dir, settings.flag_s3_uri) == (Path("/data/flags"), "s3://bucket/flags/")


def test_blank_settings_mean_unset(environ: Callable[..., None]) -> None:
    blank = {"AIORNOT_API_KEY": " ", "AIORNOT_FLAG_DIR": "", "AIORNOT_TIMEOUT_S": ""}
    environ({"AIORNOT_API_URL": "http://x", **blank, "AIORNOT_MAX_UPLOAD_BYTES": ""})
    settings = Settings.from_env()
    assert (settings.api_key, settings.flag_dir) == (None, Path("flagged"))
    assert (settings.total_timeout_s, settings.max_upload_bytes) == (30.0, 4 * MIB)


def test_frontend_imports_nothing_from_the_project_or_heavy_ml_libraries() -> None:
    for path in FRONTEND.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                roots = {node.module.split(".")[0]}
            else:
                continue
            assert not roots & (HEAVY | PROJECT_PACKAGES - {"frontend"}), (path.name, roots)


def test_space_metadata_and_requirements_match_what_is_tested() -> None:
    header = FRONTEND.joinpath("README.md").read_text().split("---")[1]
    meta = yaml.safe_load(header)
    assert (meta["sdk"], meta["app_file"]) == ("gradio", "app.py")
    assert meta["sdk_version"] == gradio.__version__
    names = {
        re.split(r"[<>=~\[ ]", line.strip())[0].lower()
        for line in FRONTEND.joinpath("requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {"requests", "tenacity", "pillow", "numpy"} <= names
    assert not names & HEAVY


def test_space_layout_runs_standalone_and_stops_cleanly_without_an_api_url(
    tmp_path: Path,
) -> None:
    """The Space as `python -m ops.space` assembles it, with every other project package
    blocked from import: its two-line app.py builds the page, then stops without a URL."""
    space = assemble_space(tmp_path / "space")
    assert sorted(p.name for p in space.iterdir()) == [
        "README.md", "app.py", "frontend", "requirements.txt"
    ]  # fmt: skip
    assert len((space / "app.py").read_text().strip().splitlines()) <= 3
    blocked = ", ".join(repr(name) for name in sorted(PROJECT_PACKAGES - {"frontend"}))
    script = (
        "import sys\n"
        f"sys.modules.update(dict.fromkeys([{blocked}]))\n"  # None: 'import frontend' fails
        "sys.path.insert(0, '.')\n"
        "import frontend.app as app, frontend.settings as settings\n"
        "import os\n"
        "assert app.__file__.startswith(os.getcwd()), app.__file__  # the Space's copy\n"
        "demo = app.build_app(settings.Settings(api_url='http://127.0.0.1:9'))\n"
        "print('built', type(demo).__name__, len(app.example_images()), flush=True)\n"
        "exec(open('app.py').read())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIORNOT_")}
    env["GRADIO_ANALYTICS_ENABLED"] = "False"
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=space,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "built Blocks 6" in done.stdout, done.stderr
    assert done.returncode == 1
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith("aiornot frontend: AIORNOT_API_URL is not set.")
    )
