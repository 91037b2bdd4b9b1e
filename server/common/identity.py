"""Who is calling: the kiosk identity of a call.

Under mutual TLS (production; `ServerConfig` with TLS settings) the kiosk is the one its client
certificate names (`server.kiosks.certificates`); gRPC has already checked the chain to the kiosk
CA. The `konbini-kiosk-id` header, which kiosks still send, must then name the same kiosk.
Without TLS (the demo, and tests of the header path) the header alone names the kiosk. Every
kiosk RPC goes through this one function.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import cast

import grpc

from server.common.errors import PermissionDenied, Unauthenticated
from server.kiosks.certificates import kiosk_id_of, load_peer_certificate

KIOSK_ID_HEADER = "konbini-kiosk-id"


class KioskIdentityMissing(Unauthenticated):
    reason = "KIOSK_IDENTITY_MISSING"


class KioskCertificateInvalid(Unauthenticated):
    reason = "KIOSK_CERTIFICATE_INVALID"


class KioskIdMismatch(PermissionDenied):
    reason = "KIOSK_ID_MISMATCH"


def kiosk_header(metadata: Iterable[tuple[str, str | bytes]]) -> str | None:
    """The kiosk id header among a call's metadata, None without a usable one."""
    for key, value in metadata:
        if key == KIOSK_ID_HEADER and isinstance(value, str) and 0 < len(value) <= 64:
            return value
    return None


def auth_properties(context: grpc.ServicerContext) -> Mapping[str, Sequence[bytes]]:
    """The call's auth context (gRPC builds a new dict at each `auth_context()`: read it once)."""
    # grpc-stubs types the values as bytes; gRPC hands over a list of bytes per property.
    return cast("Mapping[str, Sequence[bytes]]", context.auth_context() or {})


def is_tls(auth: Mapping[str, Sequence[bytes]]) -> bool:
    """Whether the call came over TLS (its auth context, `auth_properties`)."""
    return list(auth.get("transport_security_type", ())) == [b"ssl"]


def kiosk_id_from_context(context: grpc.ServicerContext) -> str:
    return kiosk_id_from(
        auth_properties(context), kiosk_header(context.invocation_metadata() or ())
    )


def kiosk_id_from(auth: Mapping[str, Sequence[bytes]], header: str | None) -> str:
    """The same, from the call's auth context and kiosk id header once read (the resolver)."""
    if not is_tls(auth):
        if header is None:
            raise KioskIdentityMissing(f"calls from kiosks must carry the {KIOSK_ID_HEADER} header")
        return header
    pems = auth.get("x509_pem_cert")
    if not pems:  # only a server set up without client authentication lets this happen
        raise KioskIdentityMissing("kiosks must present a client certificate")
    kiosk_id = kiosk_id_of(load_peer_certificate(bytes(pems[0])))
    if kiosk_id is None:
        raise KioskCertificateInvalid("the client certificate does not name a kiosk")
    if header is not None and header != kiosk_id:
        raise KioskIdMismatch("the kiosk id header differs from the client certificate")
    return kiosk_id
