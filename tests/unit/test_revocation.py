"""Revocation checking (OCSP and CRL) against the real HTTP responder on 127.0.0.1.

Every failure path must come back as a distinct value (UNAVAILABLE, STALE, UNKNOWN), never as
GOOD and never as an exception.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from cryptography import x509

from hardware_sim.authority.ca import JpkiAuthority
from hardware_sim.authority.responder import ResponderHandle, serve_in_thread
from server.auth.revocation import (
    CrlChecker,
    OcspChecker,
    RevocationOutcome,
    build_revocation_checker,
    urllib_get,
    urllib_post,
)
from server.common.clock import FrozenClock
from tests.pki import (
    auth_cert,
    foreign_authority,
    impostor_authority,
    issue_test_card,
    synthetic_revocations,
    test_authority,
)


def ocsp_checker(
    authority: JpkiAuthority, url: str, clock: FrozenClock, timeout: float = 5.0
) -> OcspChecker:
    checker = build_revocation_checker(
        "ocsp", base_url=url, issuer=authority.auth_ca_cert, clock=clock, timeout=timeout
    )
    assert isinstance(checker, OcspChecker)
    return checker


def crl_checker(authority: JpkiAuthority, url: str, clock: FrozenClock) -> CrlChecker:
    checker = build_revocation_checker(
        "crl", base_url=url, issuer=authority.auth_ca_cert, clock=clock, timeout=5.0
    )
    assert isinstance(checker, CrlChecker)
    return checker


# -- OCSP ---------------------------------------------------------------------------------------


def test_ocsp_good(
    authority: JpkiAuthority, responder: ResponderHandle, clock: FrozenClock, cert: x509.Certificate
) -> None:
    status = ocsp_checker(authority, responder.url, clock).check(cert)
    assert status.outcome is RevocationOutcome.GOOD
    assert status.is_good


def test_ocsp_revoked_with_time_and_reason(
    authority: JpkiAuthority, responder: ResponderHandle, clock: FrozenClock, cert: x509.Certificate
) -> None:
    at = clock() - timedelta(hours=1)
    authority.revoke(cert.serial_number, reason=x509.ReasonFlags.key_compromise, at=at)
    status = ocsp_checker(authority, responder.url, clock).check(cert)
    assert status.outcome is RevocationOutcome.REVOKED
    assert status.revoked_at == at.replace(microsecond=0)
    assert status.reason is x509.ReasonFlags.key_compromise


def test_ocsp_unknown_for_a_certificate_the_authority_never_issued(
    authority: JpkiAuthority, responder: ResponderHandle, clock: FrozenClock
) -> None:
    # Same CA keys, separate registry: a certificate the responder has no record of.
    stranger = auth_cert(issue_test_card(test_authority(clock)))
    status = ocsp_checker(authority, responder.url, clock).check(stranger)
    assert status.outcome is RevocationOutcome.UNKNOWN


def test_ocsp_responder_down_is_unavailable(
    authority: JpkiAuthority, clock: FrozenClock, cert: x509.Certificate
) -> None:
    handle = serve_in_thread(authority)
    handle.stop()
    status = ocsp_checker(authority, handle.url, clock).check(cert)
    assert status.outcome is RevocationOutcome.UNAVAILABLE
    assert "unreachable" in status.detail


def test_ocsp_responder_slower_than_the_timeout_is_unavailable(
    authority: JpkiAuthority, responder: ResponderHandle, clock: FrozenClock, cert: x509.Certificate
) -> None:
    responder.faults.delay_seconds = 5.0
    status = ocsp_checker(authority, responder.url, clock, timeout=0.2).check(cert)
    assert status.outcome is RevocationOutcome.UNAVAILABLE
    assert "timed out" in status.detail


def test_ocsp_responder_answering_503_is_unavailable(
    authority: JpkiAuthority, responder: ResponderHandle, clock: FrozenClock, cert: x509.Certificate
) -> None:
    responder.faults.status = 503
    status = ocsp_checker(authority, responder.url, clock).check(cert)
    assert status.outcome is RevocationOutcome.UNAVAILABLE
    assert "HTTP 503" in status.detail


def test_ocsp_answer_signed_by_a_forged_hierarchy_is_unavailable(
    authority: JpkiAuthority, clock: FrozenClock
) -> None:
    impostor = impostor_authority(clock)
    forged = auth_cert(issue_test_card(impostor))
    with serve_in_thread(impostor) as handle:
        # The impostor signs "good" for its own certificate; our issuer must not accept it.
        status = ocsp_checker(authority, handle.url, clock).check(forged)
    assert status.outcome is RevocationOutcome.UNAVAILABLE
    assert "signer" in status.detail


def test_ocsp_replayed_answer_fails_the_nonce_check(
    authority: JpkiAuthority, responder: ResponderHandle, clock: FrozenClock, cert: x509.Certificate
) -> None:
    recorded: list[bytes] = []

    def record_then_replay(url: str, body: bytes, timeout: float) -> bytes:
        if not recorded:
            recorded.append(urllib_post(url, body, timeout))
        return recorded[0]

    checker = OcspChecker(
        responder.url + "/ocsp",
        authority.auth_ca_cert,
        timeout=5.0,
        clock=clock,
        post=record_then_replay,
    )
    assert checker.check(cert).outcome is RevocationOutcome.GOOD
    authority.revoke(cert.serial_number)
    replayed = checker.check(cert)
    assert replayed.outcome is RevocationOutcome.UNAVAILABLE
    assert "nonce" in replayed.detail


def test_ocsp_answer_past_its_next_update_is_unavailable(
    authority: JpkiAuthority, responder: ResponderHandle, clock: FrozenClock, cert: x509.Certificate
) -> None:
    def slow_network(url: str, body: bytes, timeout: float) -> bytes:
        answer = urllib_post(url, body, timeout)
        clock.advance(timedelta(hours=2))  # the answer arrives long after it was produced
        return answer

    checker = OcspChecker(
        responder.url + "/ocsp", authority.auth_ca_cert, timeout=5.0, clock=clock, post=slow_network
    )
    status = checker.check(cert)
    assert status.outcome is RevocationOutcome.UNAVAILABLE
    assert "nextUpdate" in status.detail


@pytest.mark.parametrize(
    "transport",
    [
        lambda url, body, timeout: b"garbage",
        lambda url, body, timeout: b"",
        lambda url, body, timeout: (_ for _ in ()).throw(RuntimeError("boom")),
    ],
    ids=["garbage", "empty", "transport-raises"],
)
def test_ocsp_misbehaving_transport_is_unavailable(
    authority: JpkiAuthority,
    clock: FrozenClock,
    cert: x509.Certificate,
    transport: Callable[[str, bytes, float], bytes],
) -> None:
    checker = OcspChecker(
        "http://127.0.0.1:9/ocsp", authority.auth_ca_cert, timeout=1.0, clock=clock, post=transport
    )
    assert checker.check(cert).outcome is RevocationOutcome.UNAVAILABLE


# -- CRL ----------------------------------------------------------------------------------------


def test_crl_good_and_revoked(
    authority: JpkiAuthority, responder: ResponderHandle, clock: FrozenClock, cert: x509.Certificate
) -> None:
    other = auth_cert(issue_test_card(authority))
    at = clock() - timedelta(days=2)
    authority.revoke(other.serial_number, reason=x509.ReasonFlags.superseded, at=at)
    checker = crl_checker(authority, responder.url, clock)
    assert checker.check(cert).outcome is RevocationOutcome.GOOD
    status = checker.check(other)
    assert status.outcome is RevocationOutcome.REVOKED
    assert status.revoked_at == at.replace(microsecond=0)
    assert status.reason is x509.ReasonFlags.superseded


def test_crl_is_cached_for_a_day_then_refreshed(
    authority: JpkiAuthority, responder: ResponderHandle, clock: FrozenClock, cert: x509.Certificate
) -> None:
    checker = crl_checker(authority, responder.url, clock)
    assert checker.check(cert).outcome is RevocationOutcome.GOOD
    authority.revoke(cert.serial_number)
    clock.advance(timedelta(hours=23))
    # Daily mode: a revocation shows up with the next download, not before.
    assert checker.check(cert).outcome is RevocationOutcome.GOOD
    clock.advance(timedelta(hours=1))
    assert checker.check(cert).outcome is RevocationOutcome.REVOKED


def test_crl_responder_down_within_next_update_answers_from_cache(
    authority: JpkiAuthority, clock: FrozenClock, cert: x509.Certificate
) -> None:
    handle = serve_in_thread(authority)
    checker = CrlChecker(
        handle.url + "/crl/auth.crl",
        authority.auth_ca_cert,
        clock=clock,
        refresh_interval=timedelta(hours=6),
    )
    assert checker.check(cert).outcome is RevocationOutcome.GOOD
    handle.stop()
    clock.advance(timedelta(hours=7))  # refresh due, fails, the CRL is still current
    assert checker.check(cert).outcome is RevocationOutcome.GOOD


def test_stale_crl_with_responder_down_is_stale_not_good(
    authority: JpkiAuthority, clock: FrozenClock, cert: x509.Certificate
) -> None:
    handle = serve_in_thread(authority)
    checker = crl_checker(authority, handle.url, clock)
    assert checker.check(cert).outcome is RevocationOutcome.GOOD
    handle.stop()
    clock.advance(timedelta(days=1, seconds=1))
    status = checker.check(cert)
    assert status.outcome is RevocationOutcome.STALE
    assert "nextUpdate" in status.detail
    # Still stale on later checks, inside and after the retry back-off.
    assert checker.check(cert).outcome is RevocationOutcome.STALE
    clock.advance(timedelta(minutes=10))
    assert checker.check(cert).outcome is RevocationOutcome.STALE


def test_crl_never_downloaded_with_responder_down_is_unavailable(
    authority: JpkiAuthority, clock: FrozenClock, cert: x509.Certificate
) -> None:
    handle = serve_in_thread(authority)
    handle.stop()
    status = crl_checker(authority, handle.url, clock).check(cert)
    assert status.outcome is RevocationOutcome.UNAVAILABLE


def test_crl_responder_answering_503_is_unavailable(
    authority: JpkiAuthority, responder: ResponderHandle, clock: FrozenClock, cert: x509.Certificate
) -> None:
    responder.faults.status = 503
    status = crl_checker(authority, responder.url, clock).check(cert)
    assert status.outcome is RevocationOutcome.UNAVAILABLE
    assert "HTTP 503" in status.detail


def test_crl_forged_under_the_same_ca_name_is_unavailable(
    authority: JpkiAuthority, clock: FrozenClock, cert: x509.Certificate
) -> None:
    with serve_in_thread(impostor_authority(clock)) as handle:
        status = crl_checker(authority, handle.url, clock).check(cert)
    assert status.outcome is RevocationOutcome.UNAVAILABLE
    assert "signature" in status.detail


def test_crl_of_another_ca_is_unavailable(
    authority: JpkiAuthority, clock: FrozenClock, cert: x509.Certificate
) -> None:
    with serve_in_thread(foreign_authority(clock)) as handle:
        status = crl_checker(authority, handle.url, clock).check(cert)
    assert status.outcome is RevocationOutcome.UNAVAILABLE
    assert "another CA" in status.detail


def test_crl_check_of_a_certificate_from_another_issuer_is_unknown(
    authority: JpkiAuthority, responder: ResponderHandle, clock: FrozenClock
) -> None:
    foreign = auth_cert(issue_test_card(foreign_authority(clock)))
    status = crl_checker(authority, responder.url, clock).check(foreign)
    assert status.outcome is RevocationOutcome.UNKNOWN


def test_a_replayed_older_crl_does_not_unrevoke(
    authority: JpkiAuthority, clock: FrozenClock, cert: x509.Certificate
) -> None:
    older = authority.crl_der(next_update_in=timedelta(days=3))
    authority.revoke(cert.serial_number)
    newer = authority.crl_der(next_update_in=timedelta(days=3))
    served = iter([newer, older])
    checker = CrlChecker(
        "http://127.0.0.1:9/crl/auth.crl",
        authority.auth_ca_cert,
        clock=clock,
        get=lambda url, timeout: next(served),
    )
    assert checker.check(cert).outcome is RevocationOutcome.REVOKED
    clock.advance(timedelta(days=1, minutes=1))
    assert checker.check(cert).outcome is RevocationOutcome.REVOKED


def test_crl_with_20000_entries_looks_serials_up(
    authority: JpkiAuthority, responder: ResponderHandle, clock: FrozenClock, cert: x509.Certificate
) -> None:
    records = synthetic_revocations(20_000, at=clock() - timedelta(days=1))
    authority.import_revocations(records)
    checker = crl_checker(authority, responder.url, clock)
    assert checker.check(cert).outcome is RevocationOutcome.GOOD
    for record in (records[0], records[9_999], records[-1]):
        status = checker.check_serial(record.serial)
        assert status.outcome is RevocationOutcome.REVOKED
        assert status.reason is x509.ReasonFlags.superseded


def test_concurrent_checks_share_one_download(
    authority: JpkiAuthority, responder: ResponderHandle, clock: FrozenClock, cert: x509.Certificate
) -> None:
    authority.revoke(cert.serial_number)
    downloads: list[str] = []

    def counting_get(url: str, timeout: float) -> bytes:
        downloads.append(url)
        return urllib_get(url, timeout)

    checker = CrlChecker(
        responder.url + "/crl/auth.crl", authority.auth_ca_cert, clock=clock, get=counting_get
    )
    outcomes: list[RevocationOutcome] = []
    lock = threading.Lock()

    def worker() -> None:
        status = checker.check(cert)
        with lock:
            outcomes.append(status.outcome)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == [RevocationOutcome.REVOKED] * 16
    assert len(downloads) == 1


# -- configuration ------------------------------------------------------------------------------


def test_unknown_mode_is_a_caller_error(authority: JpkiAuthority, clock: FrozenClock) -> None:
    with pytest.raises(ValueError, match="mode"):
        build_revocation_checker(
            "none",  # type: ignore[arg-type]
            base_url="http://127.0.0.1:1",
            issuer=authority.auth_ca_cert,
            clock=clock,
            timeout=1.0,
        )


def test_non_http_url_is_a_caller_error(authority: JpkiAuthority, clock: FrozenClock) -> None:
    with pytest.raises(ValueError, match="http"):
        OcspChecker("file:///etc/passwd", authority.auth_ca_cert, timeout=1.0, clock=clock)
