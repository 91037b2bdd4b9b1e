"""The OCSP transport's own HTTP/1.1 (`KeepAlivePost`), against real local HTTP servers.

The transport reads answers without `http.client`; these tests hold it to what a relying party
must do with whatever comes back. A server on 127.0.0.1 speaks raw HTTP from a script (one
entry per request it receives), over TCP or TLS, with real OCSP answers from the test authority
where the answer should be usable. A usable answer (200, application/ocsp-response, its body
framed by a Content-Length or by chunks) is GOOD and its connection kept; one whose body ends
with the connection is GOOD too and its connection gone; anything else is UNAVAILABLE with its
reason, its connection dropped; a kept connection the server closed while idle is replaced
once, and only when no answer had begun. Over TLS only a certificate from the trusted CA for the
URL's host is accepted.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from hypothesis import given
from hypothesis import strategies as st

from hardware_sim.authority.ca import JpkiAuthority
from hardware_sim.authority.kiosk_ca import KioskCa
from hardware_sim.authority.responder import serve_in_thread
from server.auth.revocation import (
    OCSP_RESPONSE_TYPE,
    ChunkedDecoder,
    KeepAlivePost,
    OcspChecker,
    ResponderProtocolError,
    RevocationOutcome,
    head_end,
    parse_answer_head,
    urllib_post,
)
from server.common.clock import FrozenClock, system_clock
from tests.pki import auth_cert, impostor_authority, issue_test_card

Answer = Callable[[bytes], bytes | None]
"""One scripted answer: the request's body -> the raw bytes to send back (None: send nothing).
A script's answer ends with the connection closed when its bytes end with `_CLOSE`."""

_CLOSE = b"<close>"

Framed = Callable[[bytes], bytes]
"""An answer that always sends something."""


class ScriptedServer:
    """An HTTP/1.1 server on 127.0.0.1 that answers the n-th request with `script[n]`; over TLS
    with `tls` (its URL then names `host`)."""

    def __init__(
        self, script: list[Answer], tls: ssl.SSLContext | None = None, host: str = "127.0.0.1"
    ) -> None:
        self.script = script
        self.requests: list[bytes] = []  # each request's head
        self.connections = 0
        self._tls = tls
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"{'https' if tls else 'http'}://{host}:{self.port}/ocsp"
        self._open: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # stopped
            self.connections += 1
            self._open.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:  # ssl.SSLError is an OSError
            if self._tls is not None:
                conn = self._tls.wrap_socket(conn, server_side=True)
            buffer = b""
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                body, buffer = buffer[:length], buffer[length:]
                answer = self.script[len(self.requests)]
                self.requests.append(head)
                raw = answer(body)
                if raw is None:
                    return
                conn.sendall(raw.removesuffix(_CLOSE))
                if raw.endswith(_CLOSE):
                    return

    def stop(self) -> None:
        self._listener.close()
        for conn in self._open:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def serve() -> Iterator[Callable[[list[Answer]], ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(script: list[Answer]) -> ScriptedServer:
        servers.append(ScriptedServer(script))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


ServeTls = Callable[[list[Answer], ssl.SSLContext, str], ScriptedServer]


@pytest.fixture
def serve_tls() -> Iterator[ServeTls]:
    """A scripted server over TLS with the given context, its URL naming the given host."""
    servers: list[ScriptedServer] = []

    def start(script: list[Answer], tls: ssl.SSLContext, host: str) -> ScriptedServer:
        servers.append(ScriptedServer(script, tls, host))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def ocsp_answer(
    authority: JpkiAuthority,
    *,
    status: bytes = b"200 OK",
    version: bytes = b"HTTP/1.1",
    content_type: bytes = OCSP_RESPONSE_TYPE.encode(),
    headers: bytes = b"",
    length: Callable[[bytes], bytes] | None = None,
    after: bytes = b"",
) -> Framed:
    """The authority's real answer to the request, framed as asked."""

    def answer(request: bytes) -> bytes:
        body = authority.ocsp_response_der(request)
        framing = b"Content-Length: %d\r\n" % len(body) if length is None else length(body)
        return (
            version + b" " + status + b"\r\n"
            b"Content-Type: " + content_type + b"\r\n" + framing + headers + b"\r\n" + body + after
        )

    return answer


def checker_for(url: str, authority: JpkiAuthority, clock: FrozenClock) -> OcspChecker:
    return OcspChecker(url, authority.auth_ca_cert, timeout=5.0, clock=clock, post=KeepAlivePost())


def opened(checker: OcspChecker) -> int:
    post = checker._post  # the transport under test
    assert isinstance(post, KeepAlivePost)
    return post.connections_opened


def test_a_content_length_answer_is_good_and_its_connection_carries_the_next_request(
    serve: Callable[[list[Answer]], ScriptedServer],
    authority: JpkiAuthority,
    clock: FrozenClock,
    cert: x509.Certificate,
) -> None:
    server = serve([ocsp_answer(authority)] * 3)
    checker = checker_for(server.url, authority, clock)
    assert [checker.check(cert).outcome for _ in range(3)] == [RevocationOutcome.GOOD] * 3
    assert server.connections == 1 and opened(checker) == 1
    head = server.requests[0].decode("ascii").split("\r\n")
    assert head[0] == "POST /ocsp HTTP/1.1"
    assert f"Host: 127.0.0.1:{server.port}" in head
    assert "Content-Type: application/ocsp-request" in head


@pytest.mark.parametrize(
    ("version", "headers"),
    [(b"HTTP/1.1", b"Connection: close\r\n"), (b"HTTP/1.0", b"")],
    ids=["connection-close", "http-1.0"],
)
def test_an_answer_that_ends_its_connection_is_good_and_the_next_request_opens_another(
    serve: Callable[[list[Answer]], ScriptedServer],
    authority: JpkiAuthority,
    clock: FrozenClock,
    cert: x509.Certificate,
    version: bytes,
    headers: bytes,
) -> None:
    closing = ocsp_answer(authority, version=version, headers=headers, after=_CLOSE)
    server = serve([closing, closing])
    checker = checker_for(server.url, authority, clock)
    assert checker.check(cert).outcome is RevocationOutcome.GOOD
    assert checker.check(cert).outcome is RevocationOutcome.GOOD
    assert opened(checker) == 2


def test_an_answer_with_its_header_names_in_any_case_and_bare_lf_lines_is_good(
    serve: Callable[[list[Answer]], ScriptedServer],
    authority: JpkiAuthority,
    clock: FrozenClock,
    cert: x509.Certificate,
) -> None:
    def lf_only(request: bytes) -> bytes:
        body = authority.ocsp_response_der(request)
        return (
            b"HTTP/1.1 200 OK\nCONTENT-TYPE: Application/OCSP-Response; x=1\n"
            b"content-length: %d\n\n%s" % (len(body), body)
        )

    server = serve([lf_only, lf_only])
    checker = checker_for(server.url, authority, clock)
    assert [checker.check(cert).outcome for _ in range(2)] == [RevocationOutcome.GOOD] * 2
    assert opened(checker) == 1


def chunks(
    body: bytes,
    size: int,
    *,
    line: bytes = b"%x",
    extension: bytes = b"",
    eol: bytes = b"\r\n",
    trailers: bytes = b"",
) -> bytes:
    """`body` in chunks of `size` bytes, each size written with `line`, then the last chunk,
    the trailer fields and the empty line."""
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    framed = b"".join(line % len(p) + extension + eol + p + eol for p in pieces)
    return framed + b"0" + extension + eol + trailers + eol


def chunked_answer(
    authority: JpkiAuthority,
    encode: Callable[[bytes], bytes] = lambda body: chunks(body, len(body)),
    *,
    version: bytes = b"HTTP/1.1",
    headers: bytes = b"",
    after: bytes = b"",
) -> Framed:
    """The authority's real answer to the request, its body in chunks as `encode` writes them."""

    def answer(request: bytes) -> bytes:
        body = authority.ocsp_response_der(request)
        return (
            version + b" 200 OK\r\nContent-Type: application/ocsp-response\r\n"
            b"Transfer-Encoding: chunked\r\n" + headers + b"\r\n" + encode(body) + after
        )

    return answer


@pytest.mark.parametrize(
    "encode",
    [
        lambda body: chunks(body, len(body)),
        lambda body: chunks(body, 7, line=b"%04X", extension=b' ; name="a;b" ; x'),
        lambda body: chunks(body, 100, trailers=b"Expires: never\r\nX-Note: ok\r\n"),
        lambda body: chunks(body, 64, eol=b"\n", trailers=b"X-Note: bare LF\n"),
    ],
    ids=["one-chunk", "many-chunks-with-extensions", "trailers", "bare-lf"],
)
def test_a_chunked_answer_is_good_and_its_connection_carries_the_next_request(
    serve: Callable[[list[Answer]], ScriptedServer],
    authority: JpkiAuthority,
    clock: FrozenClock,
    cert: x509.Certificate,
    encode: Callable[[bytes], bytes],
) -> None:
    server = serve([chunked_answer(authority, encode), ocsp_answer(authority)] * 2)
    checker = checker_for(server.url, authority, clock)
    assert [checker.check(cert).outcome for _ in range(4)] == [RevocationOutcome.GOOD] * 4
    assert server.connections == 1 and opened(checker) == 1


def test_a_chunked_answer_that_ends_its_connection_is_good_and_the_next_request_opens_another(
    serve: Callable[[list[Answer]], ScriptedServer],
    authority: JpkiAuthority,
    clock: FrozenClock,
    cert: x509.Certificate,
) -> None:
    closing = chunked_answer(authority, headers=b"Connection: close\r\n", after=_CLOSE)
    server = serve([closing, closing])
    checker = checker_for(server.url, authority, clock)
    assert [checker.check(cert).outcome for _ in range(2)] == [RevocationOutcome.GOOD] * 2
    assert opened(checker) == 2


@pytest.mark.parametrize(
    ("version", "headers"),
    [
        (b"HTTP/1.0", b""),
        (b"HTTP/1.1", b"Connection: close\r\n"),
        (b"HTTP/1.1", b""),
    ],
    ids=["http-1.0", "connection-close", "http-1.1-unannounced"],
)
def test_an_answer_without_length_or_chunks_ended_by_closing_its_connection_is_good(
    serve: Callable[[list[Answer]], ScriptedServer],
    authority: JpkiAuthority,
    clock: FrozenClock,
    cert: x509.Certificate,
    version: bytes,
    headers: bytes,
) -> None:
    # RFC 9112 section 6.3: such a body is whatever comes until the server closes, as an
    # HTTP/1.0 server ends it; http.client read it so too.
    unframed = ocsp_answer(
        authority, version=version, headers=headers, length=lambda body: b"", after=_CLOSE
    )
    server = serve([unframed, unframed])
    checker = checker_for(server.url, authority, clock)
    assert [checker.check(cert).outcome for _ in range(2)] == [RevocationOutcome.GOOD] * 2
    assert opened(checker) == 2


def test_an_answer_without_length_or_chunks_whose_connection_stays_open_is_unavailable(
    serve: Callable[[list[Answer]], ScriptedServer],
    authority: JpkiAuthority,
    clock: FrozenClock,
    cert: x509.Certificate,
) -> None:
    server = serve([ocsp_answer(authority, length=lambda body: b""), ocsp_answer(authority)])
    checker = OcspChecker(
        server.url, authority.auth_ca_cert, timeout=0.3, clock=clock, post=KeepAlivePost()
    )
    refused = checker.check(cert)
    assert refused.outcome is RevocationOutcome.UNAVAILABLE
    assert "neither a Content-Length nor chunks" in refused.detail
    assert checker.check(cert).outcome is RevocationOutcome.GOOD  # on a connection of its own
    assert server.connections == 2


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (
            lambda a: chunked_answer(a, headers=b"Content-Length: 10\r\n"),
            "both Transfer-Encoding and Content-Length",
        ),
        (
            lambda a: ocsp_answer(a, length=lambda body: b"Transfer-Encoding: gzip, chunked\r\n"),
            "unsupported Transfer-Encoding",
        ),
        (lambda a: chunked_answer(a, version=b"HTTP/1.0", after=_CLOSE), "HTTP/1.0"),
        (lambda a: chunked_answer(a, lambda body: b"0x10\r\n" + body), "not a chunk size"),
        (
            lambda a: chunked_answer(a, lambda body: b"%x\r\n%sxyz\r\n" % (len(body), body)),
            "runs past its size",
        ),
        (
            lambda a: chunked_answer(a, lambda body: chunks(body, 50)[:-40], after=_CLOSE),
            "inside the answer's chunks",
        ),
        (
            lambda a: chunked_answer(a, lambda body: chunks(body, 50, trailers=b"no colon\r\n")),
            "not a header line",
        ),
        (lambda a: chunked_answer(a, lambda body: b"%x\r\n" % (2 << 20)), "too large"),
        (
            lambda a: chunked_answer(a, lambda body: b"1;" + b"x" * (80 << 10)),
            "framing is too long",
        ),
        (
            lambda a: ocsp_answer(
                a, length=lambda body: b"", after=b"x" * (2 << 20) + _CLOSE, version=b"HTTP/1.0"
            ),
            "too large",
        ),
        (lambda a: ocsp_answer(a, status=b"404 Not Found"), "HTTP 404"),
        (lambda a: ocsp_answer(a, status=b"100 Continue"), "HTTP 100"),
        (lambda a: ocsp_answer(a, content_type=b"text/html"), "unexpected content type text/html"),
        (
            lambda a: ocsp_answer(a, length=lambda body: b"Content-Length: 1, 2\r\n"),
            "Content-Length values disagree",
        ),
        (
            lambda a: ocsp_answer(a, length=lambda body: b"Content-Length: -1\r\n"),
            "Content-Length is not a number",
        ),
        (
            lambda a: ocsp_answer(a, length=lambda body: b"Content-Length: %d\r\n" % (2 << 20)),
            "too large",
        ),
        (lambda a: ocsp_answer(a, headers=b" folded\r\n"), "folded"),
        (lambda a: ocsp_answer(a, version=b"HTTP/2"), "status line"),
        (lambda a: lambda request: b"HTTP/1.1 200 OK\r\nContent-Ty" + _CLOSE, "head"),
        (
            lambda a: lambda request: b"HTTP/1.1 200 OK\r\nX: " + b"x" * (80 << 10) + _CLOSE,
            "too long",
        ),
        (
            lambda a: ocsp_answer(
                a, length=lambda body: b"Content-Length: %d\r\n" % (len(body) + 10), after=_CLOSE
            ),
            "inside the answer's body",
        ),
        (lambda a: lambda request: None, "without answering"),
    ],
    ids=[
        "chunked-and-length",
        "other-transfer-coding",
        "chunked-in-http-1.0",
        "bad-chunk-size",
        "chunk-longer-than-its-size",
        "chunks-cut-short",
        "malformed-trailer",
        "chunks-over-the-size-limit",
        "chunk-extension-too-long",
        "close-delimited-over-the-size-limit",
        "404",
        "interim-1xx",
        "wrong-type",
        "disagreeing-lengths",
        "negative-length",
        "over-the-size-limit",
        "folded-header",
        "not-http-1",
        "head-cut-short",
        "head-too-long",
        "body-cut-short",
        "closed-unanswered",
    ],
)
def test_an_unusable_answer_is_unavailable_with_its_reason_and_its_connection_is_not_reused(
    serve: Callable[[list[Answer]], ScriptedServer],
    authority: JpkiAuthority,
    clock: FrozenClock,
    cert: x509.Certificate,
    answer: Callable[[JpkiAuthority], Answer],
    reason: str,
) -> None:
    server = serve([answer(authority), ocsp_answer(authority)])
    checker = checker_for(server.url, authority, clock)
    refused = checker.check(cert)
    assert refused.outcome is RevocationOutcome.UNAVAILABLE
    assert reason in refused.detail
    assert checker.check(cert).outcome is RevocationOutcome.GOOD  # on a connection of its own
    assert server.connections == 2 and len(server.requests) == 2


def test_bytes_past_the_body_keep_the_answer_but_not_the_connection(
    serve: Callable[[list[Answer]], ScriptedServer],
    authority: JpkiAuthority,
    clock: FrozenClock,
    cert: x509.Certificate,
) -> None:
    server = serve([ocsp_answer(authority, after=b"HTTP/1.1 200 OK\r\n"), ocsp_answer(authority)])
    checker = checker_for(server.url, authority, clock)
    assert checker.check(cert).outcome is RevocationOutcome.GOOD
    assert checker.check(cert).outcome is RevocationOutcome.GOOD
    assert opened(checker) == 2


def test_a_kept_connection_closed_while_idle_is_replaced_once_without_a_failure(
    serve: Callable[[list[Answer]], ScriptedServer],
    authority: JpkiAuthority,
    clock: FrozenClock,
    cert: x509.Certificate,
) -> None:
    # The server closes after answering without saying so: the client keeps the connection,
    # finds it closed at the next request, and sends that request again on a new one.
    server = serve([ocsp_answer(authority, after=_CLOSE), ocsp_answer(authority)])
    checker = checker_for(server.url, authority, clock)
    assert checker.check(cert).outcome is RevocationOutcome.GOOD
    assert checker.check(cert).outcome is RevocationOutcome.GOOD
    assert opened(checker) == 2 and len(server.requests) == 2


def test_a_kept_connection_is_replaced_only_once_when_the_new_one_fails_too(
    serve: Callable[[list[Answer]], ScriptedServer],
    authority: JpkiAuthority,
    clock: FrozenClock,
    cert: x509.Certificate,
) -> None:
    server = serve([ocsp_answer(authority, after=_CLOSE), lambda request: None])
    checker = checker_for(server.url, authority, clock)
    assert checker.check(cert).outcome is RevocationOutcome.GOOD
    refused = checker.check(cert)
    assert refused.outcome is RevocationOutcome.UNAVAILABLE
    assert "without answering" in refused.detail
    assert opened(checker) == 2 and len(server.requests) == 2


def test_a_kept_connection_that_fails_mid_answer_is_not_asked_again(
    serve: Callable[[list[Answer]], ScriptedServer],
    authority: JpkiAuthority,
    clock: FrozenClock,
    cert: x509.Certificate,
) -> None:
    cut = ocsp_answer(authority, length=lambda b: b"Content-Length: %d\r\n" % (len(b) + 1))
    server = serve([ocsp_answer(authority), lambda request: cut(request) + _CLOSE])
    checker = checker_for(server.url, authority, clock)
    assert checker.check(cert).outcome is RevocationOutcome.GOOD
    assert checker.check(cert).outcome is RevocationOutcome.UNAVAILABLE
    assert opened(checker) == 1 and len(server.requests) == 2


# -- the delegated responder, decided once per certificate ------------------------------------


def test_a_delegated_signer_accepted_before_is_refused_once_it_has_expired(
    authority: JpkiAuthority, clock: FrozenClock, cert: x509.Certificate
) -> None:
    with serve_in_thread(authority) as responder:
        checker = checker_for(responder.url + "/ocsp", authority, clock)
        assert checker.check(cert).outcome is RevocationOutcome.GOOD
        clock.now = authority.ocsp_signer_cert.not_valid_after_utc + timedelta(days=1)
        expired = checker.check(cert)
    assert expired.outcome is RevocationOutcome.UNAVAILABLE
    assert "validity period" in expired.detail


def test_a_signer_of_another_hierarchy_is_refused_after_our_own_was_accepted(
    authority: JpkiAuthority, clock: FrozenClock, cert: x509.Certificate
) -> None:
    impostor = impostor_authority(clock)
    with serve_in_thread(authority) as ours, serve_in_thread(impostor) as theirs:
        target = [ours.url]

        def post(url: str, body: bytes, timeout: float) -> bytes:
            return urllib_post(target[0] + "/ocsp", body, timeout)

        checker = OcspChecker(
            ours.url + "/ocsp", authority.auth_ca_cert, timeout=5.0, clock=clock, post=post
        )
        assert checker.check(cert).outcome is RevocationOutcome.GOOD
        target[0] = theirs.url
        forged = checker.check(auth_cert(issue_test_card(impostor)))
        assert forged.outcome is RevocationOutcome.UNAVAILABLE
        assert "signer" in forged.detail
        target[0] = ours.url
        assert checker.check(cert).outcome is RevocationOutcome.GOOD


# -- the answer head, sans-IO -------------------------------------------------------------------

_NAMES = st.text("abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1)
_VALUES = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40)


@given(
    status=st.integers(100, 599),
    reason=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30),
    headers=st.dictionaries(
        _NAMES.filter(lambda n: n.lower() not in ("content-length", "transfer-encoding")),
        _VALUES,
        max_size=12,
    ),
    length=st.integers(0, 1 << 40),
    close=st.booleans(),
)
def test_a_head_parses_back_to_what_was_written(
    status: int, reason: str, headers: dict[str, str], length: int, close: bool
) -> None:
    headers = {k.lower(): v for k, v in headers.items() if k.lower() != "connection"}
    if close:
        headers["connection"] = "close"
    headers["content-length"] = str(length)
    raw = f"HTTP/1.1 {status} {reason}\r\n".encode("latin-1")
    raw += b"".join(f"{k}: {v}\r\n".encode("latin-1") for k, v in headers.items()) + b"\r\n"
    head = parse_answer_head(raw)
    assert (head.status, head.reason, head.headers) == (status, reason.strip(), headers)
    assert head.length == length and head.keep_alive is not close


@given(st.binary(max_size=200), st.sampled_from([b"\r\n\r\n", b"\n\n", b"\r\n\n"]))
def test_the_head_ends_at_its_first_empty_line_and_not_before(body: bytes, end: bytes) -> None:
    head = b"HTTP/1.1 200 OK\r\nA: b" + end
    assert head_end(head + body) == len(head)
    assert all(head_end(head[:i]) == -1 for i in range(len(head)))


def test_a_head_without_a_status_line_is_a_protocol_error() -> None:
    with pytest.raises(ResponderProtocolError):
        parse_answer_head(b"garbage\r\n\r\n")


# -- chunked bodies, sans-IO --------------------------------------------------------------------

_FIELDS = st.lists(st.tuples(_NAMES, _VALUES), max_size=4).map(
    lambda fields: "".join(f"{name}: {value}\r\n" for name, value in fields).encode("latin-1")
)


@given(
    body=st.binary(max_size=3000),
    size=st.integers(1, 700),
    line=st.sampled_from([b"%x", b"%X", b"%06x"]),
    extension=st.sampled_from([b"", b";a", b";a=b;c", b' ; q="x;y\\"z"']),
    eol=st.sampled_from([b"\r\n", b"\n"]),
    trailers=_FIELDS,
    tail=st.binary(max_size=20),
    cuts=st.lists(st.integers(0, 5000), max_size=12),
)
def test_a_chunked_body_decodes_to_what_was_encoded_however_its_bytes_arrive(
    body: bytes,
    size: int,
    line: bytes,
    extension: bytes,
    eol: bytes,
    trailers: bytes,
    tail: bytes,
    cuts: list[int],
) -> None:
    encoded = chunks(body, size, line=line, extension=extension, eol=eol, trailers=trailers)
    wire = encoded + tail  # whatever follows the body is not read
    bounds = sorted({0, len(wire), *(c for c in cuts if c < len(wire))})
    decoder = ChunkedDecoder(len(body))
    buffer, at = bytearray(), 0
    for start, stop in itertools.pairwise(bounds):
        buffer += wire[start:stop]
        at = decoder.decode(buffer, at)  # once done, later bytes are left alone
        assert decoder.done is (len(buffer) >= len(encoded))
    assert decoder.body == body and at == len(encoded)


@pytest.mark.parametrize(
    ("wire", "reason"),
    [
        (b"0x10\r\n", "not a chunk size"),
        (b"-1\r\n", "not a chunk size"),
        (b"+1\r\n", "not a chunk size"),
        (b" 1\r\n", "not a chunk size"),
        (b"1_0\r\n", "not a chunk size"),
        (b";ext\r\n", "not a chunk size"),
        (b"\r\n", "not a chunk size"),
        (b"3\r\nabcd\r\n", "runs past its size"),
        (b"3\r\nabc\rd", "runs past its size"),
        (b"0\r\n folded\r\n\r\n", "folded"),
        (b"0\r\nname only\r\n\r\n", "not a header line"),
        (b"1;" + b"x" * (70 << 10), "framing is too long"),
        (b"1;" + b"x" * (70 << 10) + b"\r\n", "framing is too long"),
        (b"0\r\n" + b"X: y\r\n" * 101, "trailer fields"),
        (b"6\r\nabcdef\r\n5\r\n", "too large"),
    ],
)
def test_what_is_not_chunked_framing_is_refused_with_its_reason(wire: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):  # ResponderProtocolError is a ValueError
        ChunkedDecoder(10).decode(wire, 0)


def test_a_chunked_body_is_not_given_before_its_last_chunk() -> None:
    decoder = ChunkedDecoder(10)
    assert decoder.decode(b"3\r\nabc\r\n", 0) == 8 and not decoder.done
    with pytest.raises(ValueError, match="not complete"):
        _ = decoder.body


# -- https: the responder's certificate -----------------------------------------------------------


@pytest.fixture(scope="module")
def tls_ca() -> KioskCa:
    # TLS checks certificates against the wall clock, not the tests' frozen one.
    return KioskCa.create(clock=system_clock, name="OCSP transport test CA")


def server_context(ca: KioskCa, hosts: tuple[str, ...], directory: Path) -> ssl.SSLContext:
    cert, key = ca.issue_server(hosts).save(directory, "responder")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def trusting(ca: KioskCa) -> KeepAlivePost:
    return KeepAlivePost(tls=ssl.create_default_context(cadata=ca.ca_pem.decode("ascii")))


@pytest.mark.parametrize(
    ("hosts", "host"),
    [(("127.0.0.1",), "127.0.0.1"), (("localhost",), "localhost")],
    ids=["ip-address", "dns-name"],
)
def test_an_https_responder_certified_for_the_urls_host_answers_over_one_kept_connection(
    serve_tls: ServeTls,
    authority: JpkiAuthority,
    clock: FrozenClock,
    cert: x509.Certificate,
    tls_ca: KioskCa,
    tmp_path: Path,
    hosts: tuple[str, ...],
    host: str,
) -> None:
    script: list[Answer] = [
        ocsp_answer(authority),
        chunked_answer(authority),
        ocsp_answer(authority),
    ]
    server = serve_tls(script, server_context(tls_ca, hosts, tmp_path), host)
    checker = OcspChecker(
        server.url, authority.auth_ca_cert, timeout=5.0, clock=clock, post=trusting(tls_ca)
    )
    assert [checker.check(cert).outcome for _ in range(3)] == [RevocationOutcome.GOOD] * 3
    assert server.connections == 1 and opened(checker) == 1


def test_a_kept_https_connection_closed_while_idle_is_replaced_once_without_a_failure(
    serve_tls: ServeTls,
    authority: JpkiAuthority,
    clock: FrozenClock,
    cert: x509.Certificate,
    tls_ca: KioskCa,
    tmp_path: Path,
) -> None:
    script: list[Answer] = [ocsp_answer(authority, after=_CLOSE), ocsp_answer(authority)]
    server = serve_tls(script, server_context(tls_ca, ("127.0.0.1",), tmp_path), "127.0.0.1")
    checker = OcspChecker(
        server.url, authority.auth_ca_cert, timeout=5.0, clock=clock, post=trusting(tls_ca)
    )
    assert [checker.check(cert).outcome for _ in range(2)] == [RevocationOutcome.GOOD] * 2
    assert opened(checker) == 2 and len(server.requests) == 2


@pytest.mark.parametrize(
    ("hosts", "host", "reason"),
    [
        (("ocsp.example",), "127.0.0.1", "IP address mismatch"),
        (("ocsp.example", "127.0.0.2"), "localhost", "Hostname mismatch"),
    ],
    ids=["ip-address", "dns-name"],
)
def test_an_https_responder_certified_for_another_host_is_refused_before_any_request(
    serve_tls: ServeTls,
    authority: JpkiAuthority,
    clock: FrozenClock,
    cert: x509.Certificate,
    tls_ca: KioskCa,
    tmp_path: Path,
    hosts: tuple[str, ...],
    host: str,
    reason: str,
) -> None:
    server = serve_tls([ocsp_answer(authority)], server_context(tls_ca, hosts, tmp_path), host)
    checker = OcspChecker(
        server.url, authority.auth_ca_cert, timeout=5.0, clock=clock, post=trusting(tls_ca)
    )
    refused = checker.check(cert)
    assert refused.outcome is RevocationOutcome.UNAVAILABLE
    assert "certificate verify failed" in refused.detail and reason in refused.detail
    assert server.requests == []


@pytest.mark.parametrize("trust", ["another-ca", "system-default"])
def test_an_https_responder_certified_by_a_ca_not_trusted_is_refused_before_any_request(
    serve_tls: ServeTls,
    authority: JpkiAuthority,
    clock: FrozenClock,
    cert: x509.Certificate,
    tls_ca: KioskCa,
    tmp_path: Path,
    trust: str,
) -> None:
    context = server_context(tls_ca, ("127.0.0.1",), tmp_path)
    server = serve_tls([ocsp_answer(authority)], context, "127.0.0.1")
    other = KioskCa.create(clock=system_clock, name="OCSP transport test CA")  # same name
    post = trusting(other) if trust == "another-ca" else KeepAlivePost()
    checker = OcspChecker(server.url, authority.auth_ca_cert, timeout=5.0, clock=clock, post=post)
    refused = checker.check(cert)
    assert refused.outcome is RevocationOutcome.UNAVAILABLE
    assert "certificate verify failed" in refused.detail
    assert server.requests == []
