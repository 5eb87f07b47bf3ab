"""Print a step, then run it: the one runner behind `make deploy` and `make demo`.

Every step is shown as the exact command a person could paste (`[n/N] title`, then
`  $ command`) before it runs, so the tools teach the pipeline as they drive it.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Step:
    """One command; `stdin_from` is piped into it; it is skipped when `unless` succeeds."""

    title: str
    argv: Sequence[str]
    stdin_from: Sequence[str] | None = None
    unless: Sequence[str] | None = None
    env: dict[str, str] = field(default_factory=dict)

    def render(self) -> str:
        command = shlex.join(self.argv)
        if self.env:
            command = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items()) + " " + command
        if self.stdin_from:
            command = f"{shlex.join(self.stdin_from)} | {command}"
        if self.unless:
            command += f"\n      (skipped if this succeeds: {shlex.join(self.unless)})"
        return command


def say(message: str) -> None:
    """One line of the runner's own narration, set apart from the commands' output."""
    arrow = "\033[1;36m==>\033[0m" if sys.stdout.isatty() else "==>"
    print(f"{arrow} {message}", flush=True)


def announce(step: Step, number: int, total: int) -> None:
    say(f"[{number}/{total}] {step.title}")
    print(f"  $ {step.render()}", flush=True)


def run_step(step: Step, *, cwd: Path | None = None) -> int:
    """Run an announced step: its exit status, or 0 without running when `unless` succeeds."""
    if step.unless and subprocess.run(list(step.unless), capture_output=True).returncode == 0:
        say("  already done: skipped")
        return 0
    stdin = None
    if step.stdin_from:
        stdin = subprocess.run(list(step.stdin_from), check=True, capture_output=True).stdout
    env = {**os.environ, **step.env}
    return subprocess.run(list(step.argv), cwd=cwd, env=env, input=stdin, check=False).returncode
