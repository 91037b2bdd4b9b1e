"""HTTP face of the simulated JPKI authority: OCSP (RFC 6960 appendix A), CRL and CA certificate.

    POST /ocsp               application/ocsp-request  -> application/ocsp-response
    GET  /ocsp/<base64 req>  (RFC 6960 A.1 GET form)   -> application/ocsp-response
    GET  /crl/auth.crl       -> application/pkix-crl (DER, the user-authentication CA's CRL)
    GET  /ca/auth.der        -> application/pkix-cert (DER, the user-authentication CA)

Built on stdlib `ThreadingHTTPServer`, loopback by default. `ResponderFaults` lets tests make it
slow or answer 503, so the center's "responder unreachable / slow" paths can be exercised. It logs
only method, path and status, at DEBUG, through `logging` (quiet unless the caller configures it).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import socket
import sys
import threading
import urllib.parse
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from cryptography.hazmat.primitives import serialization

from hardware_sim.authority.ca import CA_CERT_PATH, PLACEHOLDER_BASE_URL, JpkiAuthority
from server.auth.revocation import (
    CRL_PATH,
    CRL_TYPE,
    OCSP_PATH,
    OCSP_REQUEST_TYPE,
    OCSP_RESPONSE_TYPE,
)

log = logging.getLogger(__name__)

_MAX_REQUEST = 64 * 1024  # an OCSP request for one certificate is a few hundred bytes


@dataclass
class ResponderFaults:
    """Switches tests flip while the responder runs (mutable on purpose).

    `delay_seconds` holds every answer back that long; `status` (e.g. 503) replaces every
    answer with that bare HTTP status. A delayed answer is released early by `stop()`.
    """

    delay_seconds: float = 0.0
    status: int | None = None
    _release: threading.Event = field(default_factory=threading.Event, repr=False)

    def clear(self) -> None:
        self.delay_seconds = 0.0
        self.status = None

    def hold(self) -> None:
        """Wait out the configured delay (called by each request handler)."""
        if self.delay_seconds > 0:
            self._release.wait(self.delay_seconds)

    def release_all(self) -> None:
        """Let delayed handlers go now and skip further delays (the server is stopping)."""
        self._release.set()

    def rearm(self) -> None:
        self._release.clear()


class AuthorityHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a delayed handler must not keep the process alive

    def __init__(
        self, address: tuple[str, int], authority: JpkiAuthority, faults: ResponderFaults
    ) -> None:
        self.authority = authority
        self.faults = faults
        self._open: set[socket.socket] = set()  # kept-alive connections, closed on stop
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up on a kept-alive connection (or a stop that shuts it) is
        normal; anything else is logged, not printed to stderr by socketserver."""
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        log.exception("responder request from %s failed", client_address[0])

    def server_close(self) -> None:
        """Close the listening socket and every kept-alive connection: a stopped responder
        answers nobody, not even a client that still holds a connection to it."""
        super().server_close()
        with self._open_lock:
            held = list(self._open)
        for conn in held:
            with contextlib.suppress(OSError):  # already gone
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    server: AuthorityHTTPServer
    # HTTP/1.1: a relying party may keep its connection for the next request (every answer
    # carries Content-Length); an idle connection is dropped after `timeout` seconds.
    protocol_version = "HTTP/1.1"
    timeout = 30
    # Headers and body leave in two writes; on a kept connection Nagle's algorithm would hold
    # the body until the client's delayed ACK of the headers (~40 ms per answer).
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        if not self._faults_passed():
            return
        authority = self.server.authority
        path = urllib.parse.urlsplit(self.path).path
        if path == CRL_PATH:
            self._reply(HTTPStatus.OK, CRL_TYPE, authority.published_crl_der())
        elif path == CA_CERT_PATH:
            der = authority.auth_ca_cert.public_bytes(serialization.Encoding.DER)
            self._reply(HTTPStatus.OK, "application/pkix-cert", der)
        elif path.startswith(OCSP_PATH + "/"):
            encoded = urllib.parse.unquote(path[len(OCSP_PATH) + 1 :])
            try:
                request = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                request = b""  # answered as malformedRequest below
            self._reply(HTTPStatus.OK, OCSP_RESPONSE_TYPE, authority.ocsp_response_der(request))
        else:
            self._reply(HTTPStatus.NOT_FOUND)

    def do_POST(self) -> None:
        if not self._faults_passed():
            return
        # Refused before the body is read: the connection cannot carry another request.
        if self.path != OCSP_PATH and urllib.parse.urlsplit(self.path).path != OCSP_PATH:
            self.close_connection = True
            self._reply(HTTPStatus.NOT_FOUND)
            return
        if self.headers.get_content_type() != OCSP_REQUEST_TYPE:
            self.close_connection = True
            self._reply(HTTPStatus.UNSUPPORTED_MEDIA_TYPE)
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.close_connection = True
            self._reply(HTTPStatus.LENGTH_REQUIRED)
            return
        if not 0 <= length <= _MAX_REQUEST:
            self.close_connection = True
            self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            return
        body = self.rfile.read(length)
        self._reply(
            HTTPStatus.OK, OCSP_RESPONSE_TYPE, self.server.authority.ocsp_response_der(body)
        )

    def _faults_passed(self) -> bool:
        faults = self.server.faults
        faults.hold()
        if faults.status is not None:
            self.close_connection = True  # a POST body may be left unread
            self._reply(HTTPStatus(faults.status), extra={"Retry-After": "1"})
            return False
        return True

    def _reply(
        self,
        status: HTTPStatus,
        content_type: str | None = None,
        body: bytes = b"",
        extra: dict[str, str] | None = None,
    ) -> None:
        try:
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            if self.close_connection:
                self.send_header("Connection", "close")
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its timeout fired during a fault delay)

    def log_message(self, format: str, *args: object) -> None:
        pass  # stdlib writes every request to stderr; `log_request` below logs at DEBUG

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # Method and path only: bodies hold certificate IDs and are never logged. The path is
        # worked out only when it is logged (once per OCSP answer otherwise).
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s -> %s", self.command, urllib.parse.urlsplit(self.path).path, code)


def create_responder(
    authority: JpkiAuthority,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    faults: ResponderFaults | None = None,
) -> tuple[AuthorityHTTPServer, int]:
    """Bind (port 0 picks a free one) without serving yet; returns the server and its port."""
    faults = faults or ResponderFaults()
    faults.rearm()
    server = AuthorityHTTPServer((host, port), authority, faults)
    return server, int(server.server_address[1])


class ResponderHandle:
    """A responder serving from a background thread; stop it with `stop()` or `with`."""

    def __init__(self, server: AuthorityHTTPServer, url: str) -> None:
        self.server = server
        self.url = url
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="jpki-responder", daemon=True
        )
        self._thread.start()
        self._stopped = False

    @property
    def faults(self) -> ResponderFaults:
        return self.server.faults

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def stop(self) -> None:
        """Stop accepting and close the socket; idempotent. Delayed answers are released."""
        if self._stopped:
            return
        self._stopped = True
        self.server.faults.release_all()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ResponderHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve_in_thread(
    authority: JpkiAuthority,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    faults: ResponderFaults | None = None,
) -> ResponderHandle:
    """Start a responder; if the authority still has the placeholder base URL, adopt ours.

    Certificates issued afterwards then point their CRL distribution point and OCSP access at
    this responder. An explicitly configured base URL (e.g. behind a proxy) is left alone.
    """
    server, bound = create_responder(authority, host, port, faults=faults)
    url_host = f"[{host}]" if ":" in host else host
    url = f"http://{url_host}:{bound}"
    if authority.base_url == PLACEHOLDER_BASE_URL:
        authority.base_url = url
    return ResponderHandle(server, url)
