"""Shared pytest set-up: the project on sys.path, and skips that must not pass silently.

With DJANGO_STACK_REQUIRE_E2E=1 (set by CI) a skipped test is reported as a failure: a test
that cannot run there (no Docker engine, no nginx binary, ...) must turn CI red, not green.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[1]
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

REQUIRE_ALL = os.environ.get("DJANGO_STACK_REQUIRE_E2E") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_ALL and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = (
            f"skipped, but DJANGO_STACK_REQUIRE_E2E=1 forbids skips: {report.longrepr}"
        )
