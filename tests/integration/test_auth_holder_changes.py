"""The card's holder (利用者管理) changing while its authentication is being checked.

`Authenticator.complete` reads the card's holder with the challenge, before the checks (the OCSP
round trip among them), and opens the session in the transaction that spends the challenge. What
that transaction finds decides: a card unlinked, a resident removed from the register or a card
linked to someone else between the read and the session is treated as it is by then. The
revocation check stands in for the moment in between: it changes the holder, then answers GOOD.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from server.auth.revocation import RevocationStatus
from server.auth.service import AuthenticatedSession, Authenticator
from server.auth.verification import AuthFailed
from tests.integration.conftest import Bench


class _ChangesHolderThenGood:
    """A revocation checker that runs `change` (the holder changing meanwhile), then says GOOD."""

    def __init__(self, change: Callable[[], None]) -> None:
        self._change = change

    def check(self, cert: x509.Certificate) -> RevocationStatus:
        self._change()
        return RevocationStatus.good()


def _complete(bench: Bench, resident_id: str, change: Callable[[], None]) -> AuthenticatedSession:
    auth = Authenticator(
        bench.center.engine,
        trust_anchor=bench.authority.auth_ca_cert,
        revocation=_ChangesHolderThenGood(change),
        clock=bench.clock,
    )
    card = bench.seeded.cards[resident_id]
    key = load_pem_private_key(card.auth_key_pem, None)
    assert isinstance(key, rsa.RSAPrivateKey)
    challenge = auth.begin(bench.kiosk_id)
    return auth.complete(
        kiosk_id=bench.kiosk_id,
        challenge_id=challenge.challenge_id,
        certificate_der=card.auth_cert_der,
        signature=key.sign(challenge.to_be_signed, padding.PKCS1v15(), hashes.SHA256()),
    )


def _serial(bench: Bench, resident_id: str) -> str:
    return str(bench.serial_of(bench.seeded.cards[resident_id]))


def _sessions_of(bench: Bench, serial: str) -> list[tuple[object, ...]]:
    return bench.sql("SELECT resident_pk FROM kiosk_sessions WHERE card_serial = :s", s=serial)


def _pk(bench: Bench, resident_id: str) -> object:
    [(pk,)] = bench.sql("SELECT id FROM residents WHERE resident_id = :r", r=resident_id)
    return pk


def test_a_card_unlinked_while_it_is_checked_opens_no_session(bench: Bench) -> None:
    me = bench.take()
    serial = _serial(bench, me.resident_id)

    def unlink() -> None:
        bench.sql_write("UPDATE card_serials SET active = :a WHERE serial = :s", a=False, s=serial)

    with pytest.raises(AuthFailed) as refused:
        _complete(bench, me.resident_id, unlink)
    assert refused.value.error_reason == "CERTIFICATE_NOT_REGISTERED"
    assert _sessions_of(bench, serial) == []


def test_a_resident_removed_while_their_card_is_checked_opens_no_session(bench: Bench) -> None:
    me = bench.take()
    serial = _serial(bench, me.resident_id)

    def move_out() -> None:
        bench.sql_write(
            "UPDATE residents SET removed_on = :d, removed_reason = '転出' WHERE resident_id = :r",
            d=bench.clock.now.date(),
            r=me.resident_id,
        )

    with pytest.raises(AuthFailed) as refused:
        _complete(bench, me.resident_id, move_out)
    assert refused.value.error_reason == "CERTIFICATE_NOT_REGISTERED"
    assert _sessions_of(bench, serial) == []


def test_a_card_linked_to_someone_else_while_it_is_checked_signs_in_that_resident(
    bench: Bench,
) -> None:
    me = bench.take()
    other = bench.take()
    serial = _serial(bench, me.resident_id)

    def relink() -> None:
        bench.sql_write(
            "UPDATE card_serials SET resident_pk = :pk WHERE serial = :s",
            pk=_pk(bench, other.resident_id),
            s=serial,
        )

    session = _complete(bench, me.resident_id, relink)
    assert session.resident_pk == _pk(bench, other.resident_id)
    assert _sessions_of(bench, serial) == [(session.resident_pk,)]


def test_a_card_whose_holder_did_not_change_signs_in_its_holder(bench: Bench) -> None:
    me = bench.take()
    serial = _serial(bench, me.resident_id)
    session = _complete(bench, me.resident_id, lambda: None)
    assert session.resident_pk == _pk(bench, me.resident_id)
    assert session.municipality_code == bench.seeded.profile.code
    assert _sessions_of(bench, serial) == [(session.resident_pk,)]
