"""OCSP over kept-alive connections (`KeepAlivePost`), against the real responder on 127.0.0.1.

Reusing the connection must change nothing a login sees: every check still asks the responder
(a revocation shows at the next login), a failing or stopped responder is still UNAVAILABLE,
and only a connection the responder closed while idle is silently replaced.
"""

from __future__ import annotations

from cryptography import x509

from hardware_sim.authority.ca import JpkiAuthority
from hardware_sim.authority.responder import ResponderHandle, serve_in_thread
from server.auth.revocation import KeepAlivePost, OcspChecker, RevocationOutcome
from server.common.clock import FrozenClock


def checker_at(url: str, authority: JpkiAuthority, clock: FrozenClock) -> OcspChecker:
    return OcspChecker(
        url + "/ocsp", authority.auth_ca_cert, timeout=5.0, clock=clock, post=KeepAlivePost()
    )


def _pool(checker: OcspChecker) -> KeepAlivePost:
    post = checker._post  # the transport under test
    assert isinstance(post, KeepAlivePost)
    return post


def test_consecutive_checks_share_one_connection(
    authority: JpkiAuthority, responder: ResponderHandle, clock: FrozenClock, cert: x509.Certificate
) -> None:
    checker = checker_at(responder.url, authority, clock)
    outcomes = [checker.check(cert).outcome for _ in range(5)]
    assert outcomes == [RevocationOutcome.GOOD] * 5
    assert _pool(checker).connections_opened == 1


def test_the_default_ocsp_transport_keeps_connections_alive(
    authority: JpkiAuthority, responder: ResponderHandle, clock: FrozenClock, cert: x509.Certificate
) -> None:
    checker = OcspChecker(responder.url + "/ocsp", authority.auth_ca_cert, timeout=5.0, clock=clock)
    checker.check(cert)
    checker.check(cert)
    assert _pool(checker).connections_opened == 1


def test_a_revocation_shows_at_the_next_check_on_the_same_connection(
    authority: JpkiAuthority, responder: ResponderHandle, clock: FrozenClock, cert: x509.Certificate
) -> None:
    checker = checker_at(responder.url, authority, clock)
    assert checker.check(cert).outcome is RevocationOutcome.GOOD
    authority.revoke(cert.serial_number)
    assert checker.check(cert).outcome is RevocationOutcome.REVOKED
    assert _pool(checker).connections_opened == 1


def test_an_error_status_is_unavailable_and_the_next_check_recovers(
    authority: JpkiAuthority, responder: ResponderHandle, clock: FrozenClock, cert: x509.Certificate
) -> None:
    checker = checker_at(responder.url, authority, clock)
    assert checker.check(cert).outcome is RevocationOutcome.GOOD
    responder.faults.status = 503
    refused = checker.check(cert)
    assert refused.outcome is RevocationOutcome.UNAVAILABLE
    assert "503" in refused.detail
    responder.faults.clear()
    assert checker.check(cert).outcome is RevocationOutcome.GOOD


def test_a_stopped_responder_answers_nobody_even_on_a_kept_connection(
    authority: JpkiAuthority, clock: FrozenClock, cert: x509.Certificate
) -> None:
    handle = serve_in_thread(authority)
    checker = checker_at(handle.url, authority, clock)
    assert checker.check(cert).outcome is RevocationOutcome.GOOD
    handle.stop()
    assert checker.check(cert).outcome is RevocationOutcome.UNAVAILABLE


def test_a_connection_closed_while_idle_is_replaced_once(
    authority: JpkiAuthority, clock: FrozenClock, cert: x509.Certificate
) -> None:
    first = serve_in_thread(authority)
    checker = checker_at(first.url, authority, clock)
    assert checker.check(cert).outcome is RevocationOutcome.GOOD
    first.stop()  # closes the kept connection; a new responder takes the same port
    with serve_in_thread(authority, port=first.port):
        assert checker.check(cert).outcome is RevocationOutcome.GOOD
    assert _pool(checker).connections_opened == 2
