"""The card check kiosk authentication and e-review auto-fill share (`server.auth.verification`),
against the test authority and its real OCSP responder on 127.0.0.1."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from hardware_sim.authority.ca import JpkiAuthority
from hardware_sim.authority.responder import ResponderHandle
from hardware_sim.card.credentials import CardCredentials
from server.auth.revocation import OcspChecker
from server.auth.verification import (
    AuthFailed,
    RevocationUnavailable,
    check_certificate,
    check_signature_and_status,
)
from server.common.clock import FrozenClock
from tests.pki import auth_cert, foreign_authority, issue_test_card

CHALLENGE = b"konbini-test\x00challenge-1"


def signed(card: CardCredentials, message: bytes) -> bytes:
    key = serialization.load_pem_private_key(card.auth_key_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key.sign(message, padding.PKCS1v15(), hashes.SHA256())


def ocsp(authority: JpkiAuthority, responder: ResponderHandle, clock: FrozenClock) -> OcspChecker:
    return OcspChecker(responder.url + "/ocsp", authority.auth_ca_cert, timeout=5.0, clock=clock)


@pytest.fixture
def card(authority: JpkiAuthority) -> CardCredentials:
    return issue_test_card(authority)


def test_a_valid_card_that_signed_the_challenge_passes_both_steps(
    authority: JpkiAuthority, responder: ResponderHandle, clock: FrozenClock, card: CardCredentials
) -> None:
    cert = check_certificate(card.auth_cert_der, trust_anchor=authority.auth_ca_cert, at=clock())
    assert cert.serial_number == auth_cert(card).serial_number
    check_signature_and_status(
        cert, CHALLENGE, signed(card, CHALLENGE), revocation=ocsp(authority, responder, clock)
    )


def test_a_card_of_another_authority_is_refused_before_anything_else(
    authority: JpkiAuthority, clock: FrozenClock
) -> None:
    stranger = issue_test_card(foreign_authority(clock))
    with pytest.raises(AuthFailed) as refused:
        check_certificate(stranger.auth_cert_der, trust_anchor=authority.auth_ca_cert, at=clock())
    assert refused.value.error_reason == "CERTIFICATE_UNTRUSTED_ISSUER"


def test_bytes_that_are_no_certificate_are_refused_as_malformed(
    authority: JpkiAuthority, clock: FrozenClock
) -> None:
    with pytest.raises(AuthFailed) as refused:
        check_certificate(b"\x30\x03abc", trust_anchor=authority.auth_ca_cert, at=clock())
    assert refused.value.error_reason == "CERTIFICATE_MALFORMED"


def test_a_signature_over_another_challenge_is_refused(
    authority: JpkiAuthority, responder: ResponderHandle, clock: FrozenClock, card: CardCredentials
) -> None:
    cert = auth_cert(card)
    with pytest.raises(AuthFailed) as refused:
        check_signature_and_status(
            cert, CHALLENGE, signed(card, b"another"), revocation=ocsp(authority, responder, clock)
        )
    assert refused.value.error_reason == "SIGNATURE_INVALID"


def test_a_revoked_card_is_refused_as_revoked(
    authority: JpkiAuthority, responder: ResponderHandle, clock: FrozenClock, card: CardCredentials
) -> None:
    cert = auth_cert(card)
    authority.revoke(cert.serial_number)
    with pytest.raises(AuthFailed) as refused:
        check_signature_and_status(
            cert, CHALLENGE, signed(card, CHALLENGE), revocation=ocsp(authority, responder, clock)
        )
    assert refused.value.error_reason == "CERTIFICATE_REVOKED"


def test_a_failing_responder_makes_the_card_unavailable_never_valid(
    authority: JpkiAuthority, responder: ResponderHandle, clock: FrozenClock, card: CardCredentials
) -> None:
    responder.faults.status = 503
    cert: x509.Certificate = auth_cert(card)
    with pytest.raises(RevocationUnavailable) as unavailable:
        check_signature_and_status(
            cert, CHALLENGE, signed(card, CHALLENGE), revocation=ocsp(authority, responder, clock)
        )
    assert unavailable.value.metadata["revocation"] == "UNAVAILABLE"
    assert "503" in unavailable.value.metadata["detail"]
