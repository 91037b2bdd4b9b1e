"""Server-side verification of a presented user-authentication certificate and its signature."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from hardware_sim.authority.ca import JpkiAuthority
from server.auth.certs import (
    CertificateOutcome,
    verify_certificate,
    verify_challenge_signature,
)
from server.common.clock import FrozenClock
from tests.pki import (
    auth_cert,
    foreign_authority,
    impostor_authority,
    issue_custom_auth_cert,
    issue_test_card,
)

DER = serialization.Encoding.DER


def check(authority: JpkiAuthority, der: bytes, at: datetime) -> CertificateOutcome:
    return verify_certificate(der, trust_anchor=authority.auth_ca_cert, at=at).outcome


def test_a_current_card_certificate_is_ok_with_its_serial(
    authority: JpkiAuthority, clock: FrozenClock
) -> None:
    card = issue_test_card(authority)
    result = verify_certificate(card.auth_cert_der, trust_anchor=authority.auth_ca_cert, at=clock())
    assert result.ok
    assert result.certificate == auth_cert(card)
    assert result.serial == auth_cert(card).serial_number


def test_expired_certificate_is_expired(authority: JpkiAuthority, clock: FrozenClock) -> None:
    card = issue_test_card(authority, not_before=clock() - timedelta(days=5 * 365 + 30))
    assert check(authority, card.auth_cert_der, clock()) is CertificateOutcome.EXPIRED


def test_certificate_is_valid_through_its_last_second(
    authority: JpkiAuthority, clock: FrozenClock
) -> None:
    cert = auth_cert(issue_test_card(authority))
    der = cert.public_bytes(DER)
    assert check(authority, der, cert.not_valid_after_utc) is CertificateOutcome.OK
    after = cert.not_valid_after_utc + timedelta(seconds=1)
    assert check(authority, der, after) is CertificateOutcome.EXPIRED


def test_not_yet_valid_certificate_is_not_yet_valid(
    authority: JpkiAuthority, clock: FrozenClock
) -> None:
    card = issue_test_card(authority, not_before=clock() + timedelta(days=1))
    assert check(authority, card.auth_cert_der, clock()) is CertificateOutcome.NOT_YET_VALID


def test_certificate_of_a_foreign_ca_is_untrusted(
    authority: JpkiAuthority, clock: FrozenClock
) -> None:
    card = issue_test_card(foreign_authority(clock))
    result = verify_certificate(card.auth_cert_der, trust_anchor=authority.auth_ca_cert, at=clock())
    assert result.outcome is CertificateOutcome.UNTRUSTED_ISSUER
    assert result.serial == auth_cert(card).serial_number


def test_certificate_forged_under_the_same_ca_name_is_untrusted(
    authority: JpkiAuthority, clock: FrozenClock
) -> None:
    impostor = impostor_authority(clock)
    assert impostor.auth_ca_cert.subject == authority.auth_ca_cert.subject
    card = issue_test_card(impostor)
    assert check(authority, card.auth_cert_der, clock()) is CertificateOutcome.UNTRUSTED_ISSUER


@pytest.mark.parametrize(
    "der",
    [b"", b"\x30\x82\x01", b"not a certificate", b"\x30\x03\x02\x01\x00"],
    ids=["empty", "truncated-header", "text", "wrong-structure"],
)
def test_malformed_der_is_malformed(authority: JpkiAuthority, der: bytes) -> None:
    result = verify_certificate(der, trust_anchor=authority.auth_ca_cert, at=authority.clock())
    assert result.outcome is CertificateOutcome.MALFORMED
    assert result.certificate is None


def test_truncated_certificate_is_malformed(authority: JpkiAuthority) -> None:
    der = issue_test_card(authority).auth_cert_der
    assert check(authority, der[:-10], authority.clock()) is CertificateOutcome.MALFORMED


def test_the_ca_and_ocsp_signer_certificates_are_not_card_certificates(
    authority: JpkiAuthority, clock: FrozenClock
) -> None:
    for cert in (authority.auth_ca_cert, authority.ocsp_signer_cert):
        assert check(authority, cert.public_bytes(DER), clock()) is CertificateOutcome.WRONG_USAGE


@pytest.mark.parametrize("key_kind", ["rsa-1024", "ec-p256"])
def test_key_other_than_rsa_2048_is_wrong_key_type(
    authority: JpkiAuthority, clock: FrozenClock, key_kind: str
) -> None:
    public_key = (
        rsa.generate_private_key(65537, 1024).public_key()
        if key_kind == "rsa-1024"
        else ec.generate_private_key(ec.SECP256R1()).public_key()
    )
    cert = issue_custom_auth_cert(
        authority,
        public_key,
        not_before=clock() - timedelta(days=1),
        not_after=clock() + timedelta(days=1),
    )
    assert check(authority, cert.public_bytes(DER), clock()) is CertificateOutcome.WRONG_KEY_TYPE


def test_naive_time_is_a_caller_error(authority: JpkiAuthority) -> None:
    der = issue_test_card(authority).auth_cert_der
    with pytest.raises(ValueError, match="timezone"):
        verify_certificate(der, trust_anchor=authority.auth_ca_cert, at=datetime(2026, 4, 1))


# -- challenge signatures ---------------------------------------------------------------------


def _card_sign(key_pem: bytes, message: bytes) -> bytes:
    key = serialization.load_pem_private_key(key_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key.sign(message, padding.PKCS1v15(), hashes.SHA256())


def test_challenge_signed_by_the_card_key_verifies(authority: JpkiAuthority) -> None:
    card = issue_test_card(authority)
    signature = _card_sign(card.auth_key_pem, b"challenge-0001")
    assert verify_challenge_signature(auth_cert(card), b"challenge-0001", signature)


def test_signature_over_another_challenge_is_refused(authority: JpkiAuthority) -> None:
    card = issue_test_card(authority)
    signature = _card_sign(card.auth_key_pem, b"challenge-0001")
    assert not verify_challenge_signature(auth_cert(card), b"challenge-0002", signature)


def test_signature_by_the_signing_key_is_refused_for_authentication(
    authority: JpkiAuthority,
) -> None:
    card = issue_test_card(authority)
    signature = _card_sign(card.sign_key_pem, b"challenge-0001")
    assert not verify_challenge_signature(auth_cert(card), b"challenge-0001", signature)


@pytest.mark.parametrize("signature", [b"", b"\x00" * 256, b"\x01" * 300])
def test_garbage_signature_is_refused(authority: JpkiAuthority, signature: bytes) -> None:
    card = issue_test_card(authority)
    assert not verify_challenge_signature(auth_cert(card), b"challenge-0001", signature)
