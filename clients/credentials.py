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
from typing import Any, NamedTuple

import grpc

Metadata = tuple[tuple[str, str], ...]


def bearer(token: str) -> Metadata:
    return (("authorization", f"Bearer {token}"),) if token else ()


class _Bearer(
    grpc.UnaryUnaryClientInterceptor,  # type: ignore[type-arg]
    grpc.UnaryStreamClientInterceptor,  # type: ignore[type-arg]
    grpc.StreamUnaryClientInterceptor,  # type: ignore[type-arg]
    grpc.StreamStreamClientInterceptor,  # type: ignore[type-arg]
):
    """Adds the bearer header to every call (also over plaintext, where gRPC's own call
    credentials refuse to go)."""

    def __init__(self, token: str) -> None:
        self._metadata = bearer(token)

    def _details(self, details: Any) -> Any:
        metadata = (*(details.metadata or ()), *self._metadata)
        return _Details(
            details.method, details.timeout, metadata, details.credentials,
            details.wait_for_ready, details.compression,
        )  # fmt: skip

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._details(details), requests)

    def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._details(details), requests)


class _Details(NamedTuple):
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: bool | None
    compression: Any


def api_channel(target: str, server_ca: Path | None, token: str = "") -> grpc.Channel:
    """A channel to the center's API port; with `token`, every call carries it."""
    if server_ca is None:
        channel = grpc.insecure_channel(target)
    else:
        credentials = grpc.ssl_channel_credentials(root_certificates=server_ca.read_bytes())
        channel = grpc.secure_channel(target, credentials)
    return grpc.intercept_channel(channel, _Bearer(token)) if token else channel


def add_server_ca(parser: argparse.ArgumentParser) -> None:
    """--server-ca, defaulting to KONBINI_SERVER_CA."""
    ca = os.environ.get("KONBINI_SERVER_CA")
    parser.add_argument(
        "--server-ca",
        type=Path,
        default=Path(ca) if ca else None,
        help="CA certificate (PEM) of the center's TLS certificate (default KONBINI_SERVER_CA;"
        " none: plaintext, the demo mode)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--server-ca and --token, defaulting to KONBINI_SERVER_CA and KONBINI_TOKEN."""
    add_server_ca(parser)
    parser.add_argument(
        "--token",
        default=os.environ.get("KONBINI_TOKEN", ""),
        help="bearer token (default KONBINI_TOKEN)",
    )


def channel_of(args: argparse.Namespace, *, with_token: bool = False) -> grpc.Channel:
    return api_channel(args.server, args.server_ca, args.token if with_token else "")
