"""The kiosk's channel to the center: mutual TLS with its own certificate, or plaintext (demo).

Under mTLS the kiosk presents the client certificate the kiosk CA issued to it and trusts only
that CA for the center's certificate; the center then knows the kiosk from the certificate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc
import grpc.experimental


@dataclass(frozen=True)
class KioskTls:
    """A kiosk's TLS material (PEM): its certificate and key, and the CA that signs the center."""

    cert_pem: bytes
    key_pem: bytes
    server_ca_pem: bytes

    def __post_init__(self) -> None:
        for name in ("cert_pem", "key_pem", "server_ca_pem"):
            if b"-----BEGIN" not in getattr(self, name):
                raise ValueError(f"{name} must be PEM")

    @classmethod
    def from_files(cls, cert: Path, key: Path, server_ca: Path) -> KioskTls:
        return cls(cert.read_bytes(), key.read_bytes(), server_ca.read_bytes())

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.server_ca_pem,
            private_key=self.key_pem,
            certificate_chain=self.cert_pem,
        )


# What every kiosk channel is opened with. A kiosk's one streaming call (Issue, the copy in
# chunks) is read on the calling thread, as its unary calls are: by default grpc polls a
# stream from a thread of its own, started for each call when none is running, and a kiosk
# makes one such call a visit (a thread started and ended per copy, and a hand-over between
# threads for each message: ~0.5 ms of CPU a visit, and some 40 fewer futex calls).
KIOSK_CHANNEL_OPTIONS: tuple[tuple[str, int], ...] = (
    (grpc.experimental.ChannelOptions.SingleThreadedUnaryStream, 1),
)


def open_channel(
    target: str, tls: KioskTls | None = None, *, own_connection: bool = False
) -> grpc.Channel:
    """A channel to the center at `target` ("host:port"); plaintext when `tls` is None.

    `own_connection`: a connection of its own rather than one shared with the process's other
    channels to the same target (grpc's default), as each real kiosk has; the center's worker
    processes are spread by connection, so a load generator's kiosks need it.
    """
    options = list(KIOSK_CHANNEL_OPTIONS)
    if own_connection:
        options.append(("grpc.use_local_subchannel_pool", 1))
    if tls is None:
        return grpc.insecure_channel(target, options=options)
    return grpc.secure_channel(target, tls.credentials(), options=options)
