"""How the non-kiosk clients reach the center: its API port over TLS, with a bearer credential.

Staff, operators and the national operator send `authorization: Bearer <token>` (issued by
`konbini municipality add-staff` or `konbini access issue`); e-review clients add their client
id (`clients.ereview`). The server certificate is checked against the CA that signed it
(`--server-ca` / KONBINI_SERVER_CA); without one the channel is plaintext, which only a center in
the demo mode accepts.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import grpc

Metadata = tuple[tuple[str, str], ...]


def bearer(token: str) -> Metadata:
    return (("authorization", f"Bearer {token}"),) if token else ()


def api_channel(target: str, server_ca: Path | None) -> grpc.Channel:
    if server_ca is None:
        return grpc.insecure_channel(target)
    credentials = grpc.ssl_channel_credentials(root_certificates=server_ca.read_bytes())
    return grpc.secure_channel(target, credentials)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--server-ca and --token, defaulting to KONBINI_SERVER_CA and KONBINI_TOKEN."""
    ca = os.environ.get("KONBINI_SERVER_CA")
    parser.add_argument(
        "--server-ca",
        type=Path,
        default=Path(ca) if ca else None,
        help="CA certificate (PEM) of the center's TLS certificate (default KONBINI_SERVER_CA;"
        " none: plaintext, the demo mode)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("KONBINI_TOKEN", ""),
        help="bearer token (default KONBINI_TOKEN)",
    )


def channel_of(args: argparse.Namespace) -> grpc.Channel:
    return api_channel(args.server, args.server_ca)
