"""The test PKI for card-level unit tests: one CA, one card's keys and certificates.

Self-contained on purpose (the real authority lives in `hardware_sim.authority`; card tests must
not depend on it). RSA-2048 key generation is slow, so the keys are made once per process.
Dates and serial numbers are fixed so certificates differ between runs only by their keys.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from hardware_sim.card.credentials import CardCredentials, TokenKind

AUTH_PIN = "1234"
SIGN_PASSWORD = "ABC123"
NOT_BEFORE = datetime(2026, 4, 1, tzinfo=UTC)
NOT_AFTER = datetime(2031, 4, 1, tzinfo=UTC)


@dataclass(frozen=True)
class CardPki:
    ca_key: rsa.RSAPrivateKey
    ca_cert: x509.Certificate
    auth_key: rsa.RSAPrivateKey
    auth_cert: x509.Certificate
    sign_key: rsa.RSAPrivateKey
    sign_cert: x509.Certificate


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str,
    key: rsa.RSAPrivateKey,
    issuer: str,
    issuer_key: rsa.RSAPrivateKey,
    serial: int,
    *,
    ca: bool,
) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


@functools.cache
def card_pki() -> CardPki:
    """Generated on first use, then shared by every test in the process."""

    def new_key() -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    ca_key, auth_key, sign_key = new_key(), new_key(), new_key()
    ca_name = "Test JPKI CA"
    ca_cert = _certificate(ca_name, ca_key, ca_name, ca_key, 1, ca=True)
    auth_cert = _certificate("auth 0001", auth_key, ca_name, ca_key, 0x1001, ca=False)
    sign_cert = _certificate("sign 0001", sign_key, ca_name, ca_key, 0x2001, ca=False)
    return CardPki(ca_key, ca_cert, auth_key, auth_cert, sign_key, sign_cert)


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def card_credentials(token: TokenKind = TokenKind.CARD) -> CardCredentials:
    """Credentials of the test card (PIN 1234, signing password ABC123)."""
    pki = card_pki()
    return CardCredentials(
        token=token,
        auth_cert_der=_der(pki.auth_cert),
        auth_ca_cert_der=_der(pki.ca_cert),
        auth_key_pem=_pem(pki.auth_key),
        auth_pin=AUTH_PIN,
        sign_cert_der=_der(pki.sign_cert),
        sign_ca_cert_der=_der(pki.ca_cert),
        sign_key_pem=_pem(pki.sign_key),
        sign_password=SIGN_PASSWORD,
    )
