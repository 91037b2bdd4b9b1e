"""The center's side of mutual TLS: its certificate, and the kiosk CA it trusts for clients."""

from __future__ import annotations

from pathlib import Path

import grpc

from server.config import ServerConfig


def kiosk_mtls_credentials(
    *, server_cert: Path, server_key: Path, kiosk_ca: Path
) -> grpc.ServerCredentials:
    """Server credentials that refuse any client without a certificate from the kiosk CA."""
    return grpc.ssl_server_credentials(
        [(server_key.read_bytes(), server_cert.read_bytes())],
        root_certificates=kiosk_ca.read_bytes(),
        require_client_auth=True,
    )


def add_kiosk_port(server: grpc.Server, config: ServerConfig) -> int:
    """Bind the configured address: mutual TLS when the config has TLS settings, else plaintext.

    Returns the bound port (0 when the address could not be bound).
    """
    address = f"{config.host}:{config.port}"
    if config.tls_cert_path is None or config.tls_key_path is None or config.kiosk_ca_path is None:
        return server.add_insecure_port(address)
    credentials = kiosk_mtls_credentials(
        server_cert=config.tls_cert_path,
        server_key=config.tls_key_path,
        kiosk_ca=config.kiosk_ca_path,
    )
    return server.add_secure_port(address, credentials)
