"""Fault tests: inject a fault, then check the books (see tests/faults/books.py).

Markers: every test here is `faults`; the long ones are also `slow` (deselect locally with
`-m "not slow"`; CI runs them all). Those that need PostgreSQL start throwaway clusters of their
own (`tests/faults/pgcluster.py`) and are also marked `postgres`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hardware_sim.authority.ca import JpkiAuthority
from hardware_sim.authority.responder import ResponderHandle, serve_in_thread
from server.common.clock import system_clock
from tests.faults import summary
from tests.faults.pgcluster import Cluster, new_cluster, remove_cluster, unavailable_reason
from tests.faults.world import CenterProcess
from tests.pki import test_authority

HERE = Path(__file__).resolve().parent

Recorder = Callable[..., None]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "faults: fault-injection tests (tests/faults)")
    config.addinivalue_line("markers", "slow: takes tens of seconds; deselect with -m 'not slow'")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.faults)


@pytest.fixture(scope="module")
def authority() -> Iterator[tuple[JpkiAuthority, ResponderHandle]]:
    """The JPKI authority on the wall clock (the center runs in another process), serving
    OCSP and the CRL on loopback."""
    jpki = test_authority(system_clock)
    with serve_in_thread(jpki) as responder:
        yield jpki, responder


@pytest.fixture
def record_figures(request: pytest.FixtureRequest) -> Iterator[Recorder]:
    """`record_figures(faults_injected=…, copies_checked=…, ledger_differences=…, **more)`:
    this test's line in tests/faults/last-run.json, with how long it took."""
    started = time.monotonic()
    figures: dict[str, Any] = {}

    def record(**values: Any) -> None:
        figures.update(values)

    yield record
    if figures:
        name = re.sub(r"^tests/faults/", "", request.node.nodeid)
        figures["seconds"] = round(time.monotonic() - started, 1)
        summary.record(name, figures)


@pytest.fixture
def center_process(tmp_path: Path) -> Iterator[Callable[..., CenterProcess]]:
    """`center_process(database_url, trust_anchor, authority_url, port, **kw)`: a center
    subprocess (not started) that is stopped after the test whatever happened."""
    made: list[CenterProcess] = []

    def make(*args: Any, **kwargs: Any) -> CenterProcess:
        kwargs.setdefault("workdir", tmp_path)
        center = CenterProcess(*args, **kwargs)
        made.append(center)
        return center

    try:
        yield make
    finally:
        for center in made:
            center.stop()


@pytest.fixture
def clusters() -> Iterator[Callable[[], Cluster]]:
    """`clusters()` starts a throwaway PostgreSQL cluster; all are removed after the test."""
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    made: list[Cluster] = []

    def make() -> Cluster:
        cluster = new_cluster()
        made.append(cluster)
        return cluster

    try:
        yield make
    finally:
        remove_cluster(*made)
