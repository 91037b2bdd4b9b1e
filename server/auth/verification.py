"""The JPKI card check shared by every place a resident signs in with a card.

Kiosk authentication (`server.auth.service`) and e-review auto-fill (`server.ereview.autofill`)
check the card the same way: the 利用者証明用電子証明書 chains to the JPKI user-auth CA, is in
its validity period and has the right key and usage (`server.auth.certs`); its key signed the
challenge; and the authority says it is not revoked (OCSP or CRL). A refusal is `AuthFailed`
with a machine-readable reason; a revocation status that cannot be established now is
`RevocationUnavailable`, never "valid".

The two steps are separate so that a caller can act between them (the kiosk's attempt limiter
looks at the serial before the signature and the status are checked).
"""

from __future__ import annotations

from datetime import datetime

from cryptography import x509

from server.auth.certs import CertificateOutcome, verify_certificate, verify_challenge_signature
from server.auth.revocation import RevocationChecker, RevocationOutcome
from server.common.errors import Unauthenticated, Unavailable


class AuthFailed(Unauthenticated):
    """Authentication refused; `reason` says why in machine-readable form."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, reason=reason)


class RevocationUnavailable(Unavailable):
    """Revocation status cannot be established now (responder down, CRL stale)."""

    reason = "REVOCATION_UNAVAILABLE"


def check_certificate(
    certificate_der: bytes, *, trust_anchor: x509.Certificate, at: datetime
) -> x509.Certificate:
    """The parsed card certificate if it chains to `trust_anchor` and is valid `at`; else raises."""
    check = verify_certificate(certificate_der, trust_anchor=trust_anchor, at=at)
    if check.outcome is not CertificateOutcome.OK or check.certificate is None:
        raise AuthFailed(f"CERTIFICATE_{check.outcome.name}", _CERT_MESSAGES[check.outcome])
    return check.certificate


def check_signature_and_status(
    cert: x509.Certificate, tbs: bytes, signature: bytes, *, revocation: RevocationChecker
) -> None:
    """Raises unless the certificate's key signed `tbs` and the certificate is not revoked."""
    if not verify_challenge_signature(cert, tbs, signature):
        raise AuthFailed("SIGNATURE_INVALID", "the signature does not match the certificate")
    status = revocation.check(cert)
    if status.outcome is RevocationOutcome.REVOKED:
        raise AuthFailed("CERTIFICATE_REVOKED", "the certificate has been revoked")
    if status.outcome is RevocationOutcome.UNKNOWN:
        raise AuthFailed("CERTIFICATE_UNKNOWN", "the authority does not know this certificate")
    if status.outcome is not RevocationOutcome.GOOD:
        raise RevocationUnavailable(
            "revocation status cannot be checked now; try again later",
            metadata={"revocation": status.outcome.name, "detail": status.detail},
        )


_CERT_MESSAGES: dict[CertificateOutcome, str] = {
    CertificateOutcome.OK: "",
    CertificateOutcome.MALFORMED: "the certificate could not be parsed",
    CertificateOutcome.UNTRUSTED_ISSUER: "the certificate was not issued by the JPKI user-auth CA",
    CertificateOutcome.NOT_YET_VALID: "the certificate is not valid yet",
    CertificateOutcome.EXPIRED: "the certificate has expired",
    CertificateOutcome.WRONG_KEY_TYPE: "the certificate key is not RSA-2048",
    CertificateOutcome.WRONG_USAGE: "this is not a user-authentication certificate",
}
