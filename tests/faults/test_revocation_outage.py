"""The OCSP responder goes down or turns slow: authentication follows the configured policy.

Against the real HTTP responder (its fault switch `ResponderFaults`): `ocsp` fails closed with
REVOCATION_UNAVAILABLE; `ocsp-then-crl` answers from a CRL still within its nextUpdate and
says STALE once it is not; both recover by themselves when the responder does. The policy
checker runs on a frozen clock, so cool-downs and CRL ages are moved, not waited for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from konbini.auth.v1 import auth_pb2_grpc

from clients.errors import decode_error
from hardware_sim.authority.ca import JpkiAuthority
from hardware_sim.authority.responder import ResponderHandle, serve_in_thread
from server.app import Center, create_server
from server.auth.revocation import RevocationOutcome, RevocationStatus
from server.auth.revocation_policy import (
    BreakerSettings,
    PolicyChecker,
    RevocationPolicy,
    build_policy_checker,
)
from server.common.clock import FrozenClock
from server.config import ServerConfig
from tests.faults.conftest import Recorder
from tests.faults.kiosks import sign_in
from tests.faults.world import Seeded, seed, write_anchor
from tests.pki import auth_cert, issue_test_card, test_authority


def _inline(task: Callable[[], None]) -> None:
    task()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def jpki(clock: FrozenClock) -> JpkiAuthority:
    return test_authority(clock)


@pytest.fixture
def responder(jpki: JpkiAuthority) -> Iterator[ResponderHandle]:
    with serve_in_thread(jpki) as handle:
        yield handle


def checker(
    mode: str, jpki: JpkiAuthority, responder: ResponderHandle, clock: FrozenClock
) -> PolicyChecker:
    return build_policy_checker(
        mode,
        base_url=responder.url,
        issuer=jpki.auth_ca_cert,
        clock=clock,
        timeout=0.3,
        breaker=BreakerSettings(failure_threshold=2, cooldown=timedelta(seconds=10)),
        background=_inline,
    )


def card(jpki: JpkiAuthority, resident_id: str) -> x509.Certificate:
    return auth_cert(issue_test_card(jpki, resident_id))


def test_ocsp_policy_fails_closed_while_the_responder_is_down_and_recovers_by_itself(
    jpki: JpkiAuthority, responder: ResponderHandle, clock: FrozenClock, record_figures: Recorder
) -> None:
    policy = checker("ocsp", jpki, responder, clock)
    me = card(jpki, "R-1")
    assert policy.check(me).outcome is RevocationOutcome.GOOD

    responder.faults.status = 503
    first = policy.check(me)
    assert first.outcome is RevocationOutcome.UNAVAILABLE
    assert "HTTP 503" in first.detail
    policy.check(me)  # the second failure in a row opens the breaker
    assert policy.ocsp_suspended
    skipped = policy.check(me)
    assert skipped.outcome is RevocationOutcome.UNAVAILABLE
    assert skipped.detail.startswith("OCSP not asked")

    responder.faults.clear()
    # Until the cool-down is over, logins still fail at once instead of each waiting.
    assert policy.check(me).outcome is RevocationOutcome.UNAVAILABLE
    clock.advance(timedelta(seconds=11))
    assert policy.check(me).outcome is RevocationOutcome.GOOD  # the probe went through
    assert not policy.ocsp_suspended
    assert policy.check(me).outcome is RevocationOutcome.GOOD
    record_figures(faults_injected=1, copies_checked=0, ledger_differences=0)


def test_a_responder_slower_than_the_timeout_counts_as_down(
    jpki: JpkiAuthority, responder: ResponderHandle, clock: FrozenClock, record_figures: Recorder
) -> None:
    policy = checker("ocsp", jpki, responder, clock)
    me = card(jpki, "R-1")
    responder.faults.delay_seconds = 5.0
    slow = policy.check(me)
    assert slow.outcome is RevocationOutcome.UNAVAILABLE
    assert "timed out" in slow.detail
    responder.faults.clear()
    assert policy.check(me).outcome is RevocationOutcome.GOOD
    record_figures(faults_injected=1, copies_checked=0, ledger_differences=0)


def test_ocsp_then_crl_answers_from_a_fresh_crl_while_the_responder_is_down(
    jpki: JpkiAuthority, responder: ResponderHandle, clock: FrozenClock, record_figures: Recorder
) -> None:
    revoked_earlier = card(jpki, "R-1")
    jpki.revoke(revoked_earlier.serial_number, at=clock() - timedelta(hours=1))
    revoked_later = card(jpki, "R-2")
    me = card(jpki, "R-3")
    policy = checker("ocsp-then-crl", jpki, responder, clock)  # downloads the CRL at start
    jpki.revoke(revoked_later.serial_number)  # after the CRL the center holds was published

    responder.faults.status = 503  # OCSP and the CRL distribution point alike
    assert policy.check(me).outcome is RevocationOutcome.GOOD
    assert policy.check(revoked_earlier).outcome is RevocationOutcome.REVOKED
    # The trade-off of this policy, as documented: a revocation newer than the CRL the
    # center holds is not seen until OCSP answers again or the next CRL is fetched.
    assert policy.check(revoked_later).outcome is RevocationOutcome.GOOD

    responder.faults.clear()
    clock.advance(timedelta(seconds=11))
    assert policy.check(revoked_later).outcome is RevocationOutcome.REVOKED  # OCSP is back
    record_figures(faults_injected=1, copies_checked=0, ledger_differences=0)


def test_ocsp_then_crl_never_trusts_a_crl_past_its_next_update(
    jpki: JpkiAuthority, responder: ResponderHandle, clock: FrozenClock, record_figures: Recorder
) -> None:
    me = card(jpki, "R-1")
    policy = checker("ocsp-then-crl", jpki, responder, clock)
    responder.faults.status = 503
    assert policy.check(me).outcome is RevocationOutcome.GOOD  # from the CRL

    clock.advance(timedelta(days=1, minutes=1))  # past the CRL's nextUpdate; no newer one
    stale = policy.check(me)
    assert stale.outcome is RevocationOutcome.STALE
    assert "OCSP" in stale.detail and "nextUpdate" in stale.detail

    responder.faults.clear()
    clock.advance(timedelta(seconds=11))
    assert policy.check(me).outcome is RevocationOutcome.GOOD
    record_figures(faults_injected=1, copies_checked=0, ledger_differences=0)


def test_ocsp_then_crl_without_any_crl_is_unavailable_not_good(
    jpki: JpkiAuthority, clock: FrozenClock, record_figures: Recorder
) -> None:
    down = serve_in_thread(jpki)
    down.stop()  # nothing listens there: no OCSP, and no CRL was ever fetched
    policy = checker("ocsp-then-crl", jpki, down, clock)
    status = policy.check(card(jpki, "R-1"))
    assert status.outcome is RevocationOutcome.UNAVAILABLE
    assert "OCSP" in status.detail and "CRL" in status.detail
    record_figures(faults_injected=1, copies_checked=0, ledger_differences=0)


def test_the_policies_are_the_configured_revocation_modes() -> None:
    assert {p.value for p in RevocationPolicy} == {"ocsp", "crl", "ocsp-then-crl"}
    config = ServerConfig.from_env(
        {"KONBINI_TRUST_ANCHOR": "ca.der", "KONBINI_AUTHORITY_URL": "http://127.0.0.1:1"},
        revocation_mode="ocsp-then-crl",
    )
    assert config.revocation_mode == "ocsp-then-crl"
    with pytest.raises(ValueError, match="revocation mode"):
        ServerConfig(Path("ca.der"), "http://127.0.0.1:1", revocation_mode="crl-then-ocsp")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown revocation mode"):
        build_policy_checker(
            "crl-then-ocsp",
            base_url="http://127.0.0.1:1",
            issuer=test_authority(FrozenClock()).auth_ca_cert,
            clock=FrozenClock(),
            timeout=1.0,
        )


# -- through the center ------------------------------------------------------------------------


@dataclass
class Centers:
    """In-process centers on the wall clock over one seeded database, one per revocation mode."""

    seeded: Seeded
    base: ServerConfig
    started: list[tuple[Center, grpc.Channel]] = field(default_factory=list)

    def start(self, mode: str) -> auth_pb2_grpc.AuthServiceStub:
        config = dataclasses.replace(self.base, revocation_mode=mode)  # type: ignore[arg-type]
        center = create_server(config)
        center.server.start()
        channel = grpc.insecure_channel(f"127.0.0.1:{center.port}")
        self.started.append((center, channel))
        return auth_pb2_grpc.AuthServiceStub(channel)


@pytest.fixture
def centers(authority: tuple[JpkiAuthority, ResponderHandle], tmp_path: Path) -> Iterator[Centers]:
    jpki, responder = authority
    url = f"sqlite:///{tmp_path / 'center.db'}"
    base = ServerConfig(
        trust_anchor_path=write_anchor(jpki, tmp_path),
        authority_url=responder.url,
        database_url=url,
        port=0,
        revocation_timeout_s=0.5,
        kiosk_hours="00:00-24:00",
        max_workers=4,
        insecure=True,  # plaintext loopback (the demo mode)
    )
    made = Centers(seed(url, jpki, kiosks=1), base)
    try:
        yield made
    finally:
        responder.faults.clear()
        for center, channel in made.started:
            channel.close()
            center.server.stop(grace=None).wait()
            center.engine.dispose()


def test_kiosk_login_fails_closed_then_recovers_without_a_restart_in_ocsp_mode(
    centers: Centers, authority: tuple[JpkiAuthority, ResponderHandle], record_figures: Recorder
) -> None:
    _, responder = authority
    auth = centers.start("ocsp")
    kiosk, me = centers.seeded.kiosk_ids[0], centers.seeded.cards[0]
    responder.faults.status = 503
    with pytest.raises(grpc.RpcError) as refused:
        sign_in(auth, kiosk, me, timeout=10)
    details = decode_error(refused.value)
    assert details.code is grpc.StatusCode.UNAVAILABLE
    assert details.reason == "REVOCATION_UNAVAILABLE"
    assert details.metadata["revocation"] == "UNAVAILABLE"
    responder.faults.clear()
    assert sign_in(auth, kiosk, me, timeout=10)
    record_figures(faults_injected=1, copies_checked=0, ledger_differences=0)


def test_kiosk_login_falls_back_to_the_crl_in_ocsp_then_crl_mode(
    centers: Centers, authority: tuple[JpkiAuthority, ResponderHandle], record_figures: Recorder
) -> None:
    _, responder = authority
    auth = centers.start("ocsp-then-crl")  # fetched the CRL while starting
    responder.faults.delay_seconds = 5.0  # slower than the center waits
    assert sign_in(auth, centers.seeded.kiosk_ids[0], centers.seeded.cards[0], timeout=10)
    record_figures(faults_injected=1, copies_checked=0, ledger_differences=0)


class _Exploding:
    def __init__(self) -> None:
        self.calls = 0

    def check(self, cert: x509.Certificate) -> RevocationStatus:
        self.calls += 1
        raise ConnectionResetError("peer went away")


def test_an_ocsp_checker_that_raises_is_unavailable_and_the_breaker_still_probes(
    jpki: JpkiAuthority, clock: FrozenClock
) -> None:
    exploding = _Exploding()
    policy = PolicyChecker(
        RevocationPolicy.OCSP,
        clock=clock,
        ocsp=exploding,
        breaker=BreakerSettings(failure_threshold=1, cooldown=timedelta(seconds=10)),
    )
    me = card(jpki, "R-1")
    status = policy.check(me)
    assert status.outcome is RevocationOutcome.UNAVAILABLE
    assert "ConnectionResetError" in status.detail
    clock.advance(timedelta(seconds=11))
    policy.check(me)  # the probe, failing again
    clock.advance(timedelta(seconds=11))
    policy.check(me)  # and the next probe is let through: none stays in flight
    assert exploding.calls == 3
