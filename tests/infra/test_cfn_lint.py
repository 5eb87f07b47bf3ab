"""cfn-lint over every synthesized template, in-process and from the CDK CLI: zero errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint_file

from tests.infra.synth import Synthesized


def lint_errors(template: Path, region: str) -> list[str]:
    matches = lint_file(template, config=ManualArgs(regions=[region]))
    return [f"{m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")]


@pytest.mark.parametrize("variant", ["default_synth", "variant_synth", "snapstart_synth"])
def test_synthesized_templates_pass_cfn_lint(variant: str, request: pytest.FixtureRequest) -> None:
    synth: Synthesized = request.getfixturevalue(variant)
    files = synth.template_files()
    assert len(files) == 3
    for template in files:
        assert lint_errors(template, synth.context["region"]) == [], template.name


def test_cli_templates_pass_cfn_lint(cli_synth: tuple[int, str, Path]) -> None:
    code, output, outdir = cli_synth
    assert code == 0, output
    files = sorted(outdir.glob("*.template.json"))
    assert len(files) == 3
    for template in files:
        assert lint_errors(template, "us-east-1") == [], template.name
