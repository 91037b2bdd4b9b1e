"""Verification of a presented 利用者証明用電子証明書 (user-authentication certificate), no IO.

The kiosk hands over the certificate it read from the card (EF 000A) and later the card's
signature over the center's challenge. This module answers two questions about them: is the
certificate one our JPKI user-authentication CA issued, for authentication, valid at the given
time and with the expected RSA-2048 key; and does the signature verify under its key. Revocation
is a separate question (`revocation.py`), as is mapping the serial to a resident.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

REQUIRED_KEY_BITS = 2048


class CertificateOutcome(StrEnum):
    OK = "ok"
    MALFORMED = "malformed"  # not a DER X.509 certificate
    UNTRUSTED_ISSUER = "untrusted_issuer"  # another CA, or the signature does not verify
    WRONG_USAGE = "wrong_usage"  # a CA or OCSP-signer certificate, not a card's
    WRONG_KEY_TYPE = "wrong_key_type"  # not RSA-2048
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"


@dataclass(frozen=True)
class CertificateCheck:
    """The verdict on one certificate; `certificate` and `serial` are set once it parsed."""

    outcome: CertificateOutcome
    certificate: x509.Certificate | None = None
    serial: int | None = None

    def __post_init__(self) -> None:
        if self.outcome is not CertificateOutcome.MALFORMED and self.certificate is None:
            raise ValueError("a parsed certificate must accompany every outcome but MALFORMED")
        if self.certificate is not None and self.serial != self.certificate.serial_number:
            raise ValueError("serial must be the certificate's serial number")

    @property
    def ok(self) -> bool:
        return self.outcome is CertificateOutcome.OK


def verify_certificate(
    cert_der: bytes, *, trust_anchor: x509.Certificate, at: datetime
) -> CertificateCheck:
    """Check chain (directly under `trust_anchor`), usage, key and validity period at `at`.

    Trust is checked first: nothing else about a certificate from a foreign CA is worth saying.
    """
    if at.tzinfo is None:
        raise ValueError("`at` must be timezone-aware")
    try:
        cert = x509.load_der_x509_certificate(cert_der)
        serial = cert.serial_number
    except ValueError:
        return CertificateCheck(CertificateOutcome.MALFORMED)

    def verdict(outcome: CertificateOutcome) -> CertificateCheck:
        return CertificateCheck(outcome, cert, serial)

    try:
        cert.verify_directly_issued_by(trust_anchor)
    except (ValueError, TypeError, InvalidSignature):
        # ValueError: issuer name differs or signature algorithm unusable; TypeError: key type.
        return verdict(CertificateOutcome.UNTRUSTED_ISSUER)
    try:
        usable = _is_authentication_certificate(cert)
    except ValueError:  # a malformed extension, only noticed when read
        return verdict(CertificateOutcome.MALFORMED)
    if not usable:
        return verdict(CertificateOutcome.WRONG_USAGE)
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size != REQUIRED_KEY_BITS:
        return verdict(CertificateOutcome.WRONG_KEY_TYPE)
    if at < cert.not_valid_before_utc:
        return verdict(CertificateOutcome.NOT_YET_VALID)
    if at > cert.not_valid_after_utc:
        return verdict(CertificateOutcome.EXPIRED)
    return verdict(CertificateOutcome.OK)


def verify_challenge_signature(cert: x509.Certificate, message: bytes, signature: bytes) -> bool:
    """Whether `signature` is the card's RSA PKCS#1 v1.5 SHA-256 signature over `message`.

    The card pads a DigestInfo the kiosk built from SHA-256(message), which is exactly what
    PKCS#1 v1.5 verification over the message checks.
    """
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    try:
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def _is_authentication_certificate(cert: x509.Certificate) -> bool:
    """An end-entity certificate whose key may sign, and not the CA's delegated OCSP signer.

    Without this, the (public) CA or OCSP-signer certificate, both directly under the anchor,
    would pass the chain check.
    """
    extensions = cert.extensions
    try:
        if extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            return False
    except x509.ExtensionNotFound:
        pass
    try:
        if not extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature:
            return False
    except x509.ExtensionNotFound:
        pass
    try:
        eku = extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return ExtendedKeyUsageOID.OCSP_SIGNING not in eku
