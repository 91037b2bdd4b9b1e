"""The kiosk's channel to the center: mutual TLS with its own certificate, or plaintext (demo).

Under mTLS the kiosk presents the client certificate the kiosk CA issued to it and trusts only
that CA for the center's certificate; the center then knows the kiosk from the certificate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc


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


def open_channel(target: str, tls: KioskTls | None = None) -> grpc.Channel:
    """A channel to the center at `target` ("host:port"); plaintext when `tls` is None."""
    if tls is None:
        return grpc.insecure_channel(target)
    return grpc.secure_channel(target, tls.credentials())
