"""`make synth`: the CDK CLI synthesizes offline on a fresh clone, with no settings given."""

from __future__ import annotations

from pathlib import Path

from tests.infra.synth import load_json


def test_cdk_cli_synthesizes_all_three_stacks_offline(cli_synth: tuple[int, str, Path]) -> None:
    code, output, outdir = cli_synth
    assert code == 0, output
    names = sorted(p.name for p in outdir.glob("*.template.json"))
    assert names == [
        "AiOrNot-ModelStore-dev.template.json",
        "AiOrNot-Registry-dev.template.json",
        "AiOrNot-Service-dev.template.json",
    ]


def test_cli_synth_is_environment_agnostic_and_warns_it_is_unpinned(
    cli_synth: tuple[int, str, Path],
) -> None:
    code, output, outdir = cli_synth
    assert code == 0, output
    service = (outdir / "AiOrNot-Service-dev.template.json").read_text()
    assert '"Ref": "AWS::AccountId"' in service  # no account baked in
    assert "aiornot:unpinned" in output  # the warning that says it is for review only


def test_cli_assembly_carries_no_error_annotations(cli_synth: tuple[int, str, Path]) -> None:
    code, output, outdir = cli_synth
    assert code == 0, output
    for metadata in outdir.glob("*.metadata.json"):
        entries = [e for items in load_json(metadata).values() for e in items]
        assert [e for e in entries if e["type"] == "aws:cdk:error"] == [], metadata.name
