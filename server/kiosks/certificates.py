"""How a kiosk's client certificate names the kiosk (the TLS stack has already checked the chain).

A kiosk certificate, issued by the kiosk CA (`hardware_sim.authority.kiosk_ca`), carries the
kiosk id as a SAN URI `urn:konbini:kiosk:<kiosk id>` and, for people reading it, as the CN.
The URI is what counts; the CN is read only from a certificate without any SAN URI.
"""

from __future__ import annotations

import functools
import re

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KIOSK_URI_PREFIX = "urn:konbini:kiosk:"
KIOSK_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")


def kiosk_uri(kiosk_id: str) -> str:
    if not KIOSK_ID_PATTERN.fullmatch(kiosk_id):
        raise ValueError(f"a kiosk id is 1-32 letters, digits, _ or -, not {kiosk_id!r}")
    return KIOSK_URI_PREFIX + kiosk_id


def kiosk_id_of(certificate: x509.Certificate) -> str | None:
    """The kiosk a client certificate names, or None when it names none (or is not for clients)."""
    try:
        usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        if ExtendedKeyUsageOID.CLIENT_AUTH not in usage:
            return None  # e.g. the center's own server certificate
    except x509.ExtensionNotFound:
        pass
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    except x509.ExtensionNotFound:
        uris = []
    if uris:
        ids = {u.removeprefix(KIOSK_URI_PREFIX) for u in uris if u.startswith(KIOSK_URI_PREFIX)}
        if len(ids) != 1:
            return None  # none of ours, or two kiosks in one certificate
        (candidate,) = ids
    else:
        names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if len(names) != 1 or not isinstance(names[0].value, str):
            return None
        candidate = names[0].value
    return candidate if KIOSK_ID_PATTERN.fullmatch(candidate) else None


@functools.lru_cache(maxsize=1024)
def load_peer_certificate(pem: bytes) -> x509.Certificate:
    """The peer certificate gRPC hands over as PEM; parsed once per distinct certificate."""
    return x509.load_pem_x509_certificate(pem)
