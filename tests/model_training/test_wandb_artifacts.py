"""W&B artifact clean-up: versions without a kept alias go, the rest stay, failures are named.

The W&B server cannot be reached from here, so `wandb.Api` is replaced by a stand-in with
the same calls the command makes (`artifact_collections`, `run(...).logged_artifacts()`,
`Artifact.delete(delete_aliases=...)`, `.name`, `.version`, `.aliases`, `.type`, `.size`),
holding what an offline run of ours logs: `model-<run id>` versions aliased as Lightning's
WandbLogger aliases them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from model_training.wandb_artifacts import DEFAULT_KEEP, cleanup, main, model_artifacts


@dataclass
class StandInArtifact:
    collection: str
    version: str
    aliases: list[str]
    type: str = "model"
    size: int = 1_000_000
    deleted: bool = False
    refuse: bool = False
    calls: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.collection}:{self.version}"

    def delete(self, delete_aliases: bool = False) -> None:
        self.calls.append({"delete_aliases": delete_aliases})
        if self.refuse:
            raise RuntimeError("permission denied")
        if self.aliases and not delete_aliases:  # what the W&B server does
            raise RuntimeError("cannot delete an artifact with aliases")
        self.deleted = True


@dataclass
class StandInCollection:
    versions: list[StandInArtifact]

    def artifacts(self) -> list[StandInArtifact]:
        return [a for a in self.versions if not a.deleted]


class StandInApi:
    def __init__(self, runs: dict[str, list[StandInArtifact]]) -> None:
        self.runs = runs
        self.asked: list[tuple[str, ...]] = []

    def artifact_collections(self, project_name: str, type_name: str) -> list[StandInCollection]:
        self.asked.append(("collections", project_name, type_name))
        return [StandInCollection(versions) for versions in self.runs.values()]

    def run(self, path: str) -> Any:
        self.asked.append(("run", path))
        versions = self.runs[path.rsplit("/", 1)[1]]
        dataset = StandInArtifact("demo-dataset", "v0", [], type="dataset")
        return type("Run", (), {"logged_artifacts": lambda _self: [*versions, dataset]})()


def run_versions(run_id: str, count: int, best: int) -> list[StandInArtifact]:
    """Versions v0..v(count-1) of model-<run_id>: `latest` on the last, `best` on one."""
    versions = []
    for i in range(count):
        aliases = (["latest"] if i == count - 1 else []) + (["best"] if i == best else [])
        versions.append(StandInArtifact(f"model-{run_id}", f"v{i}", aliases))
    return versions


@pytest.fixture
def api() -> StandInApi:
    first = run_versions("run1", 5, best=2)
    first[0].aliases = ["prod-ready"]
    first[1].aliases = ["staging"]  # not kept: deleted with its alias
    return StandInApi({"run1": first, "run2": run_versions("run2", 3, best=2)})


def names(artifacts: list[StandInArtifact]) -> set[str]:
    return {a.name for a in artifacts}


def test_a_project_keeps_best_latest_and_prod_ready_and_deletes_the_rest(api: StandInApi) -> None:
    report = cleanup(model_artifacts(lambda: api, "me/aiornot"), DEFAULT_KEEP)
    everything = api.runs["run1"] + api.runs["run2"]
    gone = [a for a in everything if a.deleted]
    assert names(gone) == {"model-run1:v1", "model-run1:v3", "model-run2:v0", "model-run2:v1"}
    assert set(report.deleted) == names(gone)
    assert set(report.kept) == {"model-run1:v0", "model-run1:v2", "model-run1:v4", "model-run2:v2"}
    assert report.freed_bytes == 4_000_000
    assert api.asked == [("collections", "me/aiornot", "model")]
    assert all(call == {"delete_aliases": True} for a in gone for call in a.calls)


def test_a_run_touches_only_its_own_model_artifacts(api: StandInApi) -> None:
    report = cleanup(model_artifacts(lambda: api, "me/aiornot", "run2"), ["latest"])
    assert report.deleted == ["model-run2:v0", "model-run2:v1"]
    assert not any(a.deleted for a in api.runs["run1"])
    assert "demo-dataset:v0" not in report.kept + report.deleted  # not a model


def test_a_dry_run_deletes_nothing_and_says_what_would_go(
    api: StandInApi, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WANDB_API_KEY", "stand-in")
    monkeypatch.setattr("wandb.Api", lambda: api)
    assert main(["cleanup", "--project", "me/aiornot", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would delete model-run1:v1" in out
    assert "4 kept, 4 would delete (4.0 MB), 0 failed" in out
    assert not any(a.deleted or a.calls for a in api.runs["run1"] + api.runs["run2"])


def test_one_refused_deletion_is_named_and_the_rest_still_go(
    api: StandInApi, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api.runs["run1"][1].refuse = True
    monkeypatch.setenv("WANDB_API_KEY", "stand-in")
    monkeypatch.setattr("wandb.Api", lambda: api)
    assert main(["cleanup", "--project", "me/aiornot", "--keep", "best"]) == 1
    out = capsys.readouterr().out
    assert "FAILED  model-run1:v1: RuntimeError: permission denied" in out
    assert api.runs["run2"][1].deleted and api.runs["run1"][0].deleted  # prod-ready not kept


def test_without_credentials_nothing_is_asked_of_w_and_b(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "netrc").write_text("")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    monkeypatch.setattr("wandb.Api", lambda: pytest.fail("W&B was asked without credentials"))
    assert main(["cleanup", "--project", "me/aiornot"]) == 2
    assert "no W&B credentials" in capsys.readouterr().err


def test_a_server_that_cannot_list_is_a_clear_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def unreachable() -> Any:
        raise ConnectionError("api.wandb.ai unreachable")

    monkeypatch.setenv("WANDB_API_KEY", "stand-in")
    monkeypatch.setattr("wandb.Api", unreachable)
    assert main(["cleanup", "--project", "me/aiornot"]) == 2
    assert "could not list me/aiornot's model artifacts" in capsys.readouterr().err
