"""checkov on synthesized templates, held to `checkov-baseline.yaml` (every accepted finding
listed there with its reason). `python -m tests.infra.checkov_findings CDK_OUT` is the
`make lint` step; tests/infra/test_checkov.py runs the same on the CLI's assembly.

checkov lives in its own virtual environment (`.venv-checkov`, made by `make setup`): its
pins clash with the project's, and it is a tool we run, not a library we import.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
BASELINE = ROOT / "checkov-baseline.yaml"

Finding = tuple[str, str]  # (check id, TYPE.LogicalId)


@dataclass(frozen=True)
class Verdict:
    new: set[Finding]  # failing findings no one accepted
    stale: set[Finding]  # accepted findings that no longer occur

    @property
    def ok(self) -> bool:
        return not self.new and not self.stale


def run_checkov(assembly: Path) -> set[Finding]:
    """The failed checks on every template in a cloud assembly directory."""
    if not CHECKOV.exists():
        raise FileNotFoundError(f"{CHECKOV} is missing: run `make setup`")
    command = [str(CHECKOV), "-d", str(assembly), "--framework", "cloudformation",
               "--quiet", "--compact", "-o", "json", "--skip-download"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    return {
        (failed["check_id"], failed["resource"])
        for report in reports
        for failed in report.get("results", {}).get("failed_checks", [])
    }


def accepted(baseline: Path = BASELINE) -> set[Finding]:
    entries = yaml.safe_load(baseline.read_text())["accepted"]
    missing_reason = [e for e in entries if not str(e.get("why", "")).strip()]
    if missing_reason:
        raise ValueError(f"{baseline}: every accepted finding needs a `why`: {missing_reason}")
    return {(entry["check"], entry["resource"]) for entry in entries}


def judge(found: set[Finding], allowed: set[Finding]) -> Verdict:
    return Verdict(new=found - allowed, stale=allowed - found)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    assembly = Path(args[0] if args else "cdk.out")
    verdict = judge(run_checkov(assembly), accepted())
    for check, resource in sorted(verdict.new):
        print(f"checkov: new finding {check} on {resource}: fix it or justify it in "
              f"{BASELINE.name}")  # fmt: skip
    for check, resource in sorted(verdict.stale):
        print(f"checkov: {BASELINE.name} accepts {check} on {resource}, which no longer "
              "occurs: remove the entry")  # fmt: skip
    if verdict.ok:
        print("checkov: only accepted findings")
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
