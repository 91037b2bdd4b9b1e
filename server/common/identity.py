"""Who is calling: the kiosk identity of a channel.

Kiosks name themselves in the `konbini-kiosk-id` metadata header; mTLS client certificates
(issued per kiosk) replace this header as the source of identity in the hardware issue. Every
kiosk RPC goes through this one function so that change stays in one place.
"""

from __future__ import annotations

import grpc

from server.common.errors import Unauthenticated

KIOSK_ID_HEADER = "konbini-kiosk-id"


class KioskIdentityMissing(Unauthenticated):
    reason = "KIOSK_IDENTITY_MISSING"


def kiosk_id_from_context(context: grpc.ServicerContext) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == KIOSK_ID_HEADER and isinstance(value, str) and 0 < len(value) <= 64:
            return value
    raise KioskIdentityMissing(f"calls from kiosks must carry the {KIOSK_ID_HEADER} header")
