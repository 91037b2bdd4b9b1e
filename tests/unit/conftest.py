"""The test JPKI of the unit tests: a frozen clock, the authority on it, its OCSP/CRL responder
on 127.0.0.1 and a card's user-authentication certificate (each fresh per test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography import x509

from hardware_sim.authority.ca import JpkiAuthority
from hardware_sim.authority.responder import ResponderHandle, serve_in_thread
from server.common.clock import FrozenClock
from tests.pki import auth_cert, issue_test_card, test_authority


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def authority(clock: FrozenClock) -> JpkiAuthority:
    return test_authority(clock)


@pytest.fixture
def responder(authority: JpkiAuthority) -> Iterator[ResponderHandle]:
    with serve_in_thread(authority) as handle:
        yield handle


@pytest.fixture
def cert(authority: JpkiAuthority) -> x509.Certificate:
    return auth_cert(issue_test_card(authority))
