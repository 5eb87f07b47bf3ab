"""checkov's findings on the synthesized templates are exactly those accepted, with reasons,
in checkov-baseline.yaml: a new one fails, and so does an entry that no longer applies."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.checkov_findings import accepted, judge, run_checkov

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def findings(cli_synth: tuple[int, str, Path]) -> set[tuple[str, str]]:
    returncode, output, assembly = cli_synth
    assert returncode == 0, output
    return run_checkov(assembly)


def test_every_finding_is_accepted_and_every_acceptance_still_applies(
    findings: set[tuple[str, str]],
) -> None:
    verdict = judge(findings, accepted())
    assert verdict.new == set()
    assert verdict.stale == set()


def test_an_unlisted_finding_or_a_stale_entry_fails(findings: set[tuple[str, str]]) -> None:
    allowed = accepted()
    dropped = sorted(allowed)[0]
    assert judge(findings, allowed - {dropped}).new == {dropped}
    phantom = ("CKV_AWS_999", "AWS::S3::Bucket.Nowhere")
    assert judge(findings, allowed | {phantom}).stale == {phantom}


def test_an_acceptance_without_a_reason_is_refused(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.yaml"
    baseline.write_text("accepted:\n  - check: CKV_AWS_1\n    resource: AWS::S3::Bucket.B\n")
    with pytest.raises(ValueError, match="needs a `why`"):
        accepted(baseline)
