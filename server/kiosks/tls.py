"""The center's listeners: TLS on every one, or plaintext only in the explicit demo mode.

With TLS the center has two doors to the one server: the terminal port, mutual TLS with a
client certificate from the kiosk CA required (kiosks and counter terminals), and the API port,
server TLS only, for callers who present bearer credentials or nothing (staff, operators,
e-review clients, anonymous). gRPC's server credentials can require a client certificate or not
ask for one at all, not ask and accept its absence; hence two ports (docs/security.md).
"""

from __future__ import annotations

from pathlib import Path

import grpc

from server.config import ServerConfig


class InsecureListenerRefused(RuntimeError):
    """The configuration has no TLS and does not say it is the demo."""


LOOPBACK = ("127.0.0.1", "::1", "localhost")


def require_tls_or_demo(config: ServerConfig) -> None:
    """TLS, or the explicit demo mode, and that only on the loopback interface."""
    if config.tls_cert_path is not None:
        return
    if not config.insecure:
        raise InsecureListenerRefused(
            "no TLS configured (KONBINI_TLS_CERT, KONBINI_TLS_KEY, KONBINI_KIOSK_CA); "
            "plaintext only in the demo mode (KONBINI_INSECURE=1, --insecure-demo)"
        )
    if config.host not in LOOPBACK:
        raise InsecureListenerRefused(
            f"the plaintext demo mode listens on loopback only, not on {config.host}"
        )


def kiosk_mtls_credentials(
    *, server_cert: Path, server_key: Path, kiosk_ca: Path
) -> grpc.ServerCredentials:
    """Server credentials that refuse any client without a certificate from the kiosk CA."""
    return grpc.ssl_server_credentials(
        [(server_key.read_bytes(), server_cert.read_bytes())],
        root_certificates=kiosk_ca.read_bytes(),
        require_client_auth=True,
    )


def api_tls_credentials(*, server_cert: Path, server_key: Path) -> grpc.ServerCredentials:
    """Server TLS without client certificates: callers authenticate with bearer credentials."""
    return grpc.ssl_server_credentials([(server_key.read_bytes(), server_cert.read_bytes())])


def add_ports(server: grpc.Server, config: ServerConfig) -> tuple[int, int]:
    """Bind the terminal port and the API port; returns both (the same one in the demo mode).

    A port of 0 in the result means that address could not be bound.
    """
    address = f"{config.host}:{config.port}"
    if config.tls_cert_path is None or config.tls_key_path is None or config.kiosk_ca_path is None:
        require_tls_or_demo(config)
        port = server.add_insecure_port(address)
        return port, port
    terminals = kiosk_mtls_credentials(
        server_cert=config.tls_cert_path,
        server_key=config.tls_key_path,
        kiosk_ca=config.kiosk_ca_path,
    )
    port = server.add_secure_port(address, terminals)
    api = api_tls_credentials(server_cert=config.tls_cert_path, server_key=config.tls_key_path)
    api_port = server.add_secure_port(f"{config.host}:{config.effective_api_port}", api)
    return port, api_port
