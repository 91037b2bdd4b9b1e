"""The fuzz runs use the loopback center of the integration tests, and count what they sent."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.integration.conftest import bench, database_url  # noqa: F401 (fixtures)

# Calls sent by the fuzz tests of this run, by outcome ("ok", "refused", "malformed").
FUZZ_CALLS: Counter[str] = Counter()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FUZZ_CALLS:
        total = sum(FUZZ_CALLS.values())
        parts = ", ".join(f"{k} {v}" for k, v in sorted(FUZZ_CALLS.items()))
        terminalreporter.write_line(f"gRPC fuzz: {total} calls sent ({parts})")
