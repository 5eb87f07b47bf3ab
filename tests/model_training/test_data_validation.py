"""Validation: every bad row is named with its reason, under both policies; dataset checks."""

from __future__ import annotations

import argparse
from dataclasses import asdict, fields
from pathlib import Path

import pytest

from model_training.data import AiOrNotDataModule, DataValidationError
from model_training.data.config import DataConfig
from model_training.data.validate_cli import add_config_arguments
from model_training.data.validate_cli import main as validate_main
from tests.model_training.conftest import BAD_IDS, good_rows, jpeg_bytes, write_hub_parquet

EXPECTED_REASONS = {
    "bad-corrupt": "image: invalid_image",
    "bad-truncated": "image: invalid_image",
    "bad-label": "label: Input should be 0 or 1",
    "bad-tiny": "both sides must be >= 32 px",
    "dup-id": "duplicate id",
}


def _config(path: Path, cache: str, **overrides: object) -> DataConfig:
    return DataConfig(source="parquet", path=str(path), hf_cache_dir=cache, **overrides)  # type: ignore[arg-type]


def test_fail_policy_raises_naming_every_bad_id_and_reason(
    bad_parquet: Path, hf_cache: str
) -> None:
    with pytest.raises(DataValidationError) as caught:
        _config(bad_parquet, hf_cache).prepare()
    message = str(caught.value)
    for bad_id, reason in EXPECTED_REASONS.items():
        line = next(line for line in message.splitlines() if f"- {bad_id} (row" in line)
        assert reason in line, line
    assert "--data.dataset.bad_rows=skip" in message
    assert {bad.id for bad in caught.value.report.bad_rows} == set(BAD_IDS)


def test_skip_policy_drops_bad_rows_and_still_names_them(bad_parquet: Path, hf_cache: str) -> None:
    splits, report = _config(bad_parquet, hf_cache, bad_rows="skip").prepare()
    assert {bad.id for bad in report.bad_rows} == set(BAD_IDS)
    assert (report.rows, report.kept, len(report.bad_rows)) == (46, 41, 5)
    assert sum(len(rows) for rows in splits.values()) == 41
    kept_ids = {r.id for rows in splits.values() for r in rows}
    assert not kept_ids & (set(BAD_IDS) - {"dup-id"})  # the first dup-id row is valid and kept
    rendered = report.render()
    assert all(bad_id in rendered for bad_id in BAD_IDS) and "bad: 5" in rendered


def test_validate_cli_reports_bad_rows_under_both_policies(
    bad_parquet: Path, hf_cache: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--source", "parquet", "--path", str(bad_parquet), "--hf-cache-dir", hf_cache]
    assert validate_main(base) == 1
    failed = capsys.readouterr().err
    assert validate_main([*base, "--bad-rows", "skip"]) == 0
    skipped = capsys.readouterr().out
    for bad_id in BAD_IDS:
        assert f"- {bad_id} (row" in failed and f"- {bad_id} (row" in skipped
    assert "kept: 41, bad: 5" in skipped and "leakage across splits: none" in skipped


def test_same_image_with_conflicting_labels_is_a_bad_row(tmp_path: Path, hf_cache: str) -> None:
    twins = [
        {"id": "twin-real", "image": jpeg_bytes(500), "label": 0},
        {"id": "twin-ai", "image": jpeg_bytes(500), "label": 1},
    ]
    rows = good_rows(20) + twins
    path = write_hub_parquet(tmp_path / "twins.parquet", rows)
    _, report = _config(path, hf_cache, bad_rows="skip").prepare()
    assert {bad.id for bad in report.bad_rows} == {"twin-real", "twin-ai"}
    assert "conflicting labels" in report.bad_rows[0].reason


def test_duplicate_images_with_one_label_are_kept_together(tmp_path: Path, hf_cache: str) -> None:
    copies = [{"id": f"copy-{i}", "image": jpeg_bytes(777), "label": 1} for i in range(4)]
    path = write_hub_parquet(tmp_path / "copies.parquet", good_rows(30) + copies)
    splits, report = _config(path, hf_cache).prepare()
    assert report.duplicate_images == 3 and not report.bad_rows
    homes = {name for name, rows in splits.items() for r in rows if r.id.startswith("copy-")}
    assert len(homes) == 1


def test_a_missing_class_is_refused_even_when_skipping(tmp_path: Path, hf_cache: str) -> None:
    rows = [{"id": f"r{i}", "image": jpeg_bytes(i), "label": 0} for i in range(10)]
    path = write_hub_parquet(tmp_path / "one-class.parquet", rows)
    with pytest.raises(DataValidationError, match="must hold both classes"):
        _config(path, hf_cache, bad_rows="skip").prepare()


def test_datamodule_with_skip_policy_trains_on_the_good_rows_only(
    bad_parquet: Path, hf_cache: str
) -> None:
    dataset = DataConfig(
        source="parquet", path=str(bad_parquet), bad_rows="skip", hf_cache_dir=hf_cache
    )
    dm = AiOrNotDataModule(dataset, crop_size=32, batch_size=64, num_workers=0)
    dm.setup("fit")
    loaders = (dm.train_dataloader(), dm.val_dataloader(), dm.test_dataloader())
    seen = sum(len(batch[1]) for loader in loaders for batch in loader)
    assert seen == 41


def test_validate_and_the_datamodule_take_their_data_options_from_the_one_config() -> None:
    """A DataConfig field is a `validate` flag (typed, defaulted) and a `data.dataset` key."""
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    defaults = vars(parser.parse_args([]))
    assert defaults == {field.name: field.default for field in fields(DataConfig)}
    assert parser.parse_args(["--bad-rows", "skip", "--limit", "7"]).limit == 7
    with pytest.raises(SystemExit):
        parser.parse_args(["--source", "somewhere"])  # a Literal's choices are enforced
    hparams = AiOrNotDataModule(DataConfig(limit=7)).hparams
    assert hparams["dataset"] == asdict(DataConfig(limit=7))  # plain types in checkpoints


def test_every_data_option_says_what_it_does_in_both_command_lines() -> None:
    """A field without a note in DataConfig's docstring would be a bare flag in `validate
    --help` and in `fit --help`; both read the same note."""
    from model_training.data.validate_cli import field_help

    notes = field_help()
    assert {field.name for field in fields(DataConfig)} == set(notes)
    assert all(notes.values()), [name for name, note in notes.items() if not note]
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    helps = {action.dest: action.help for action in parser._actions}
    assert helps["bad_rows"] == f"{notes['bad_rows']} (default: fail)"
