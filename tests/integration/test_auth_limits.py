"""Limits on authentication attempts, over gRPC, shared by centers that share a database.

Two centers (two `create_server` on the bench's database, as two processes of a multi-process
center would be) with small limits: 2 failed authentications per card per 15 minutes, 3
challenges per kiosk per minute. Over a limit: RESOURCE_EXHAUSTED with a reason and a
`google.rpc.RetryInfo` that says when the window ends.

Also the lifetimes the limits rely on (challenge replay, expiry and kiosk binding are covered
in test_kiosk_visits): a session ends after its ten minutes, or when the kiosk ends it; and
attempts of one card racing each other over both centers, which must not get past the limit
(threads released by one barrier, as in test_races).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta

import grpc
import pytest
from cryptography import x509
from konbini.auth.v1 import auth_pb2, auth_pb2_grpc
from konbini.issuance.v1 import issuance_pb2, issuance_pb2_grpc

from clients.errors import ErrorDetails, decode_error
from clients.kiosk.jpki import JpkiClient
from clients.kiosk.terminal import CertificateChoice, KioskTerminal, Order, VisitStatus
from hardware_sim.printer import KioskPrinter
from server.app import Center, create_server
from server.common.identity import KIOSK_ID_HEADER
from tests.integration.conftest import Bench
from tests.integration.test_races import Outcome, together

CARD_FAILURES = 2
KIOSK_CHALLENGES = 3


@dataclasses.dataclass
class Twin:
    """Two centers on one database; `stub(n)` is center n's AuthService."""

    centers: tuple[Center, Center]
    channels: tuple[grpc.Channel, grpc.Channel]

    def stub(self, n: int) -> auth_pb2_grpc.AuthServiceStub:
        return auth_pb2_grpc.AuthServiceStub(self.channels[n])


@pytest.fixture(scope="module")
def twin(bench: Bench) -> Iterator[Twin]:
    config = dataclasses.replace(
        bench.config,
        auth_card_failures=CARD_FAILURES,
        auth_card_window_s=900,
        auth_kiosk_challenges=KIOSK_CHALLENGES,
        auth_kiosk_window_s=60,
        insecure=True,  # callers named by header: the limits, not TLS, are under test here
    )
    centers = (create_server(config, clock=bench.clock), create_server(config, clock=bench.clock))
    for c in centers:
        c.server.start()
    channels = (
        grpc.insecure_channel(f"127.0.0.1:{centers[0].port}"),
        grpc.insecure_channel(f"127.0.0.1:{centers[1].port}"),
    )
    try:
        yield Twin(centers, channels)
    finally:
        for ch in channels:
            ch.close()
        for c in centers:
            c.server.stop(grace=None).wait()
            c.engine.dispose()


def _md(kiosk_id: str) -> tuple[tuple[str, str], ...]:
    return ((KIOSK_ID_HEADER, kiosk_id),)


def _sign_in(
    stub: auth_pb2_grpc.AuthServiceStub,
    bench: Bench,
    kiosk_id: str,
    card: JpkiClient,
    *,
    forge: bool,
) -> auth_pb2.CompleteAuthenticationResponse:
    """One authentication a minute later (each in a kiosk window of its own, so that only the
    card's limit is in play); `forge` signs something other than the challenge."""
    bench.clock.advance(timedelta(seconds=61))
    challenge = stub.BeginAuthentication(
        auth_pb2.BeginAuthenticationRequest(kiosk_id=kiosk_id), metadata=_md(kiosk_id)
    )
    signed = challenge.to_be_signed + (b"forged" if forge else b"")
    return stub.CompleteAuthentication(
        auth_pb2.CompleteAuthenticationRequest(
            kiosk_id=kiosk_id,
            challenge_id=challenge.challenge_id,
            certificate=card.read_auth_certificate(),
            signature=card.sign_with_auth_key(signed),
        ),
        metadata=_md(kiosk_id),
    )


def _card(bench: Bench) -> JpkiClient:
    me = bench.take()
    card = JpkiClient(bench.reader(me))
    card.select_ap()
    assert card.verify_auth_pin(bench.pin(me)).ok
    return card


def _refusal(call: object) -> ErrorDetails:
    with pytest.raises(grpc.RpcError) as refused:
        call()  # type: ignore[operator]
    return decode_error(refused.value)


def _begin(twin: Twin, n: int, kiosk_id: str) -> auth_pb2.BeginAuthenticationResponse:
    return twin.stub(n).BeginAuthentication(
        auth_pb2.BeginAuthenticationRequest(kiosk_id=kiosk_id), metadata=_md(kiosk_id)
    )


def test_a_card_that_keeps_failing_is_refused_on_every_center_until_its_window_ends(
    bench: Bench, twin: Twin
) -> None:
    kiosk = bench.seeded.kiosk_ids[1]
    card = _card(bench)
    for n in range(CARD_FAILURES):  # one failure on each center: the count is in the database
        err = _refusal(lambda n=n: _sign_in(twin.stub(n), bench, kiosk, card, forge=True))
        assert (err.code, err.reason) == (grpc.StatusCode.UNAUTHENTICATED, "SIGNATURE_INVALID")
    # Now even a correct signature is refused, before it is checked.
    err = _refusal(lambda: _sign_in(twin.stub(0), bench, kiosk, card, forge=False))
    assert (err.code, err.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "CARD_ATTEMPTS_EXCEEDED")
    assert err.retry_after_s is not None and 0 < err.retry_after_s <= 900
    bench.clock.advance(timedelta(seconds=err.retry_after_s))
    session = _sign_in(twin.stub(1), bench, kiosk, card, forge=False)
    assert session.session_token


def test_failures_of_one_card_do_not_lock_out_another(bench: Bench, twin: Twin) -> None:
    kiosk = bench.seeded.kiosk_ids[1]
    bad, good = _card(bench), _card(bench)
    for _ in range(CARD_FAILURES + 1):
        _refusal(lambda: _sign_in(twin.stub(0), bench, kiosk, bad, forge=True))
    assert _sign_in(twin.stub(0), bench, kiosk, good, forge=False).session_token
    err = _refusal(lambda: _sign_in(twin.stub(0), bench, kiosk, bad, forge=False))
    assert err.reason == "CARD_ATTEMPTS_EXCEEDED"


def test_a_kiosk_asking_for_too_many_challenges_waits_for_the_next_minute(
    bench: Bench, twin: Twin
) -> None:
    kiosk, other = bench.seeded.kiosk_ids[2], bench.seeded.kiosk_ids[1]
    bench.clock.advance(timedelta(seconds=61))
    for n in range(KIOSK_CHALLENGES):  # spread over both centers
        assert _begin(twin, n % 2, kiosk).challenge_id
    err = _refusal(lambda: _begin(twin, 1, kiosk))
    assert (err.code, err.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "KIOSK_RATE_EXCEEDED")
    assert err.retry_after_s is not None and 0 < err.retry_after_s <= 60
    assert _begin(twin, 0, other).challenge_id  # another kiosk is not held up
    err = _refusal(lambda: _begin(twin, 0, kiosk))  # still over: refusals do not reset it
    assert err.reason == "KIOSK_RATE_EXCEEDED" and err.retry_after_s is not None
    bench.clock.advance(timedelta(seconds=err.retry_after_s))
    assert _begin(twin, 0, kiosk).challenge_id


def test_the_kiosk_screen_says_why_without_a_crash(bench: Bench, twin: Twin) -> None:
    """A card over its limit cannot be used now; a kiosk over its rate is out for a moment."""
    kiosk, busy = bench.seeded.kiosk_ids[1], bench.seeded.kiosk_ids[2]
    me = bench.take()
    card = JpkiClient(bench.reader(me))
    card.select_ap()
    assert card.verify_auth_pin(bench.pin(me)).ok
    for _ in range(CARD_FAILURES):
        _refusal(lambda: _sign_in(twin.stub(0), bench, kiosk, card, forge=True))
    terminal = KioskTerminal(twin.channels[0], kiosk_id=kiosk, printer=KioskPrinter("P1"))
    outcome = terminal.visit(bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO))
    assert outcome.status is VisitStatus.AUTH_REFUSED
    assert outcome.error is not None and outcome.error.reason == "CARD_ATTEMPTS_EXCEEDED"
    for _ in range(KIOSK_CHALLENGES):
        _begin(twin, 0, busy)
    other = bench.take()
    terminal = KioskTerminal(twin.channels[1], kiosk_id=busy, printer=KioskPrinter("P1"))
    outcome = terminal.visit(
        bench.reader(other), bench.pin(other), Order(CertificateChoice.JUMINHYO)
    )
    assert outcome.status is VisitStatus.SERVICE_UNAVAILABLE
    assert outcome.error is not None and outcome.error.reason == "KIOSK_RATE_EXCEEDED"


def _offerings(twin: Twin, kiosk_id: str, token: str) -> issuance_pb2.ListOfferingsResponse:
    return issuance_pb2_grpc.IssuanceServiceStub(twin.channels[0]).ListOfferings(
        issuance_pb2.ListOfferingsRequest(session_token=token), metadata=_md(kiosk_id)
    )


def test_a_session_expires_after_its_ten_minutes(bench: Bench, twin: Twin) -> None:
    kiosk = bench.seeded.kiosk_ids[1]
    token = _sign_in(twin.stub(0), bench, kiosk, _card(bench), forge=False).session_token
    bench.clock.advance(timedelta(minutes=9, seconds=59))
    assert _offerings(twin, kiosk, token).offerings
    bench.clock.advance(timedelta(seconds=1))
    err = _refusal(lambda: _offerings(twin, kiosk, token))
    assert (err.code, err.reason) == (grpc.StatusCode.UNAUTHENTICATED, "SESSION_EXPIRED")


def test_a_session_the_kiosk_ended_is_no_longer_accepted(bench: Bench, twin: Twin) -> None:
    kiosk = bench.seeded.kiosk_ids[1]
    token = _sign_in(twin.stub(0), bench, kiosk, _card(bench), forge=False).session_token
    twin.stub(1).EndSession(auth_pb2.EndSessionRequest(session_token=token), metadata=_md(kiosk))
    err = _refusal(lambda: _offerings(twin, kiosk, token))
    assert (err.code, err.reason) == (grpc.StatusCode.UNAUTHENTICATED, "SESSION_INVALID")


def test_old_attempt_windows_are_purged_with_the_challenges(bench: Bench, twin: Twin) -> None:
    kiosk = bench.seeded.kiosk_ids[2]
    bench.clock.advance(timedelta(seconds=61))
    _begin(twin, 0, kiosk)
    assert bench.sql("SELECT count(*) FROM auth_attempt_windows") != [(0,)]
    bench.clock.advance(timedelta(days=1, minutes=16))
    twin.centers[0].authenticator.purge_expired()
    assert bench.sql("SELECT count(*) FROM auth_attempt_windows") == [(0,)]


RACERS = 8  # attempts of one card at once, over both centers


@pytest.fixture(scope="module")
def racing(bench: Bench) -> Iterator[Twin]:
    """Two centers with the card limit of `twin` and no kiosk limit, so that one kiosk can hold
    a challenge for each of the racing attempts."""
    config = dataclasses.replace(
        bench.config,
        auth_card_failures=CARD_FAILURES,
        auth_card_window_s=900,
        auth_kiosk_challenges=0,
        insecure=True,
    )
    centers = (create_server(config, clock=bench.clock), create_server(config, clock=bench.clock))
    for c in centers:
        c.server.start()
    channels = tuple(grpc.insecure_channel(f"127.0.0.1:{c.port}") for c in centers)
    try:
        yield Twin(centers, (channels[0], channels[1]))
    finally:
        for ch in channels:
            ch.close()
        for c in centers:
            c.server.stop(grace=None).wait()
            c.engine.dispose()


def _race(
    racing: Twin, bench: Bench, kiosk: str, card: JpkiClient, *, forged: list[bool]
) -> list[Outcome]:
    """One attempt per entry of `forged`, each with a challenge of its own, all completed at
    once (alternately on the two centers)."""
    bench.clock.advance(timedelta(seconds=61))
    requests = []
    for forge in forged:
        challenge = _begin(racing, 0, kiosk)
        signed = challenge.to_be_signed + (b"forged" if forge else b"")
        requests.append(
            auth_pb2.CompleteAuthenticationRequest(
                kiosk_id=kiosk,
                challenge_id=challenge.challenge_id,
                certificate=card.read_auth_certificate(),
                signature=card.sign_with_auth_key(signed),
            )
        )
    return together(
        *(
            lambda n=n, r=r: racing.stub(n % 2).CompleteAuthentication(r, metadata=_md(kiosk))
            for n, r in enumerate(requests)
        )
    )


def _failures_counted(bench: Bench, card: JpkiClient) -> int:
    serial = str(x509.load_der_x509_certificate(card.read_auth_certificate()).serial_number)
    [(attempts,)] = bench.sql(
        "SELECT attempts FROM auth_attempt_windows WHERE scope = 'card_failures' AND key = :k",
        k=serial,
    )
    assert isinstance(attempts, int)
    return attempts


def test_failures_racing_each_other_never_get_past_the_limit(bench: Bench, racing: Twin) -> None:
    """Every attempt passed the check before any failure was counted: only as many are checked
    and answered as the limit allows; the others are told the card is over its limit."""
    kiosk = bench.seeded.kiosk_ids[1]
    card = _card(bench)
    outcomes = _race(racing, bench, kiosk, card, forged=[True] * RACERS)
    reasons = sorted(o.reason for o in outcomes)
    assert (
        reasons
        == ["CARD_ATTEMPTS_EXCEEDED"] * (RACERS - CARD_FAILURES)
        + ["SIGNATURE_INVALID"] * CARD_FAILURES
    ), outcomes
    assert _failures_counted(bench, card) == CARD_FAILURES
    err = _refusal(lambda: _sign_in(racing.stub(0), bench, kiosk, card, forge=False))
    assert err.reason == "CARD_ATTEMPTS_EXCEEDED"


def test_a_valid_signature_racing_failures_is_served_only_under_the_limit(
    bench: Bench, racing: Twin
) -> None:
    """The resident's own attempt among forged ones: it opens a session only if it came before
    the limit was reached; either way no more failures count than the limit."""
    kiosk = bench.seeded.kiosk_ids[1]
    card = _card(bench)
    outcomes = _race(racing, bench, kiosk, card, forged=[False] + [True] * RACERS)
    own, forged = outcomes[0], outcomes[1:]
    assert own.ok or own.reason == "CARD_ATTEMPTS_EXCEEDED", own
    assert (
        sorted(o.reason for o in forged)
        == ["CARD_ATTEMPTS_EXCEEDED"] * (RACERS - CARD_FAILURES)
        + ["SIGNATURE_INVALID"] * CARD_FAILURES
    ), forged
    assert _failures_counted(bench, card) == CARD_FAILURES
