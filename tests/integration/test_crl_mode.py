"""The same center with revocation checked against the daily CRL instead of OCSP.

It runs as the bench's own center does, mutual TLS with the kiosk's client certificate, so
the kiosk is named by its certificate as in production, not by the demo's plaintext header.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta

import pytest

from clients.kiosk.channel import open_channel
from clients.kiosk.terminal import CertificateChoice, KioskTerminal, Order, VisitStatus
from hardware_sim.printer import KioskPrinter
from server.app import create_server
from tests.integration.conftest import Bench


@pytest.fixture
def crl_terminal(bench: Bench) -> Iterator[KioskTerminal]:
    # Time only moves forward in this module: the authority's published CRL carries the
    # moment it was made, and a CRL from "the future" is rightly refused.
    center = create_server(
        dataclasses.replace(bench.tls_config, revocation_mode="crl"), clock=bench.clock
    )
    center.server.start()
    channel = open_channel(f"127.0.0.1:{center.port}", bench.kiosk_tls(bench.kiosk_id))
    try:
        yield KioskTerminal(channel, kiosk_id=bench.kiosk_id, printer=KioskPrinter("P1"))
    finally:
        channel.close()
        center.server.stop(grace=None).wait()
        center.engine.dispose()
        bench.responder.faults.clear()


def test_crl_mode_refuses_a_card_once_the_next_days_crl_lists_it(
    bench: Bench, crl_terminal: KioskTerminal
) -> None:
    me = bench.take()
    order = Order(CertificateChoice.JUMINHYO)
    assert crl_terminal.visit(bench.reader(me), bench.pin(me), order).status is VisitStatus.ISSUED
    bench.authority.revoke(bench.serial_of(bench.seeded.cards[me.resident_id]))
    # The center checks against the CRL it downloaded; the new list is fetched a day later.
    bench.clock.advance(timedelta(days=1, minutes=1))
    refused = crl_terminal.visit(bench.reader(me), bench.pin(me), order)
    assert refused.status is VisitStatus.AUTH_REFUSED
    assert refused.error is not None and refused.error.reason == "CERTIFICATE_REVOKED"


def test_a_stale_crl_is_never_trusted_silently(bench: Bench, crl_terminal: KioskTerminal) -> None:
    me = bench.take()
    order = Order(CertificateChoice.JUMINHYO)
    assert crl_terminal.visit(bench.reader(me), bench.pin(me), order).status is VisitStatus.ISSUED
    bench.responder.faults.status = 503
    bench.clock.advance(timedelta(days=2))
    outcome = crl_terminal.visit(bench.reader(me), bench.pin(me), order)
    assert outcome.status is VisitStatus.SERVICE_UNAVAILABLE
    assert outcome.error is not None
    assert outcome.error.reason == "REVOCATION_UNAVAILABLE"
    assert outcome.error.metadata["revocation"] == "STALE"
