"""The full demo trains for minutes. When its test is selected, its offline stages start in the
background as soon as collection ends, so the rest of the suite runs beside them, and the
test itself runs last: it waits for them, then starts the demo on what they made.

The background run is `python -m ops.demo --no-serve` with the demo's own settings, nothing
shortened; the test's run is plain `python -m ops.demo`, which reuses the finished stages
(as a user's second `make demo` does) and serves. Training is deterministic, so sharing the
CPU with other tests changes how long it takes, never what it learns.
"""

from __future__ import annotations

import pytest

from tests.support.background_demo import BackgroundDemo, start_background_demo

FULL_DEMO_TEST = "test_demo_detects_its_examples_and_stops_on_ctrl_c"
BACKGROUND = pytest.StashKey[BackgroundDemo]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The full demo's test goes last, so the suite runs while its stages train."""
    full = [item for item in items if item.name == FULL_DEMO_TEST]
    items[:] = [item for item in items if item.name != FULL_DEMO_TEST] + full


def pytest_collection_finish(session: pytest.Session) -> None:
    selected = any(item.name == FULL_DEMO_TEST for item in session.items)
    if selected and not session.config.option.collectonly:
        session.config.stash[BACKGROUND] = start_background_demo()


def pytest_unconfigure(config: pytest.Config) -> None:
    demo = config.stash.get(BACKGROUND, None)
    if demo is not None:
        demo.stop()


@pytest.fixture
def background_demo(request: pytest.FixtureRequest) -> BackgroundDemo:
    demo = request.config.stash.get(BACKGROUND, None)
    assert demo is not None, "the demo's stages were not started at collection"
    return demo
