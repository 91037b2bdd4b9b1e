"""Revocation checking of user-authentication certificates: OCSP (live) or CRL (daily).

SPEC section 2 gives the center two modes. OCSP asks the JPKI authority at every authentication:
fresh, but each login costs a round trip. CRL downloads the list (失効リスト) once a day and
answers locally, which also serves bulk checks of every resident's serial.

Each check returns a `RevocationStatus` value and never raises: an unreachable or misbehaving
responder is UNAVAILABLE, a CRL past its nextUpdate that cannot be refreshed is STALE, and no
failure ever reads as GOOD. The URLs come from configuration, never from the presented
certificate, so a certificate cannot steer the center to a host of its choosing.
"""

from __future__ import annotations

import email.message
import os
import socket
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal, Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from server.common.clock import Clock

OCSP_PATH = "/ocsp"
"""Where the authority answers RFC 6960 requests (POST), relative to its base URL."""
CRL_PATH = "/crl/auth.crl"
"""Where the authority publishes the user-authentication CA's CRL (GET, DER)."""

OCSP_REQUEST_TYPE = "application/ocsp-request"
OCSP_RESPONSE_TYPE = "application/ocsp-response"
CRL_TYPE = "application/pkix-crl"

PostTransport = Callable[[str, bytes, float], bytes]
"""post(url, body, timeout) -> response body; raises on any transport or HTTP failure."""
GetTransport = Callable[[str, float], bytes]
"""get(url, timeout) -> response body; raises on any transport or HTTP failure."""

_MAX_OCSP_RESPONSE = 1 << 20
_MAX_CRL = 256 << 20  # a national CRL of a million entries is around 40 MB


class RevocationOutcome(StrEnum):
    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"  # the authority does not know the certificate
    UNAVAILABLE = "unavailable"  # no trustworthy answer could be obtained
    STALE = "stale"  # the CRL is past its nextUpdate and could not be refreshed


@dataclass(frozen=True)
class RevocationStatus:
    """The answer for one certificate. `detail` says why, for logs; it holds no personal data."""

    outcome: RevocationOutcome
    revoked_at: datetime | None = None
    reason: x509.ReasonFlags | None = None  # revocation reason code, when the CA gave one
    detail: str = ""

    def __post_init__(self) -> None:
        revoked = self.outcome is RevocationOutcome.REVOKED
        if revoked and self.revoked_at is None:
            raise ValueError("a REVOKED status needs revoked_at")
        if not revoked and (self.revoked_at is not None or self.reason is not None):
            raise ValueError("only a REVOKED status carries a revocation time or reason")
        failed = self.outcome in (RevocationOutcome.UNAVAILABLE, RevocationOutcome.STALE)
        if failed and not self.detail:
            raise ValueError(f"a {self.outcome.name} status needs a detail text")

    @property
    def is_good(self) -> bool:
        return self.outcome is RevocationOutcome.GOOD

    @classmethod
    def good(cls) -> RevocationStatus:
        return cls(RevocationOutcome.GOOD)

    @classmethod
    def revoked(cls, at: datetime, reason: x509.ReasonFlags | None) -> RevocationStatus:
        return cls(RevocationOutcome.REVOKED, revoked_at=at, reason=reason)

    @classmethod
    def unknown(cls, detail: str) -> RevocationStatus:
        return cls(RevocationOutcome.UNKNOWN, detail=detail)

    @classmethod
    def unavailable(cls, detail: str) -> RevocationStatus:
        return cls(RevocationOutcome.UNAVAILABLE, detail=detail)

    @classmethod
    def stale(cls, detail: str) -> RevocationStatus:
        return cls(RevocationOutcome.STALE, detail=detail)


class RevocationChecker(Protocol):
    def check(self, cert: x509.Certificate) -> RevocationStatus: ...


def build_revocation_checker(
    mode: Literal["ocsp", "crl"],
    *,
    base_url: str,
    issuer: x509.Certificate,
    clock: Clock,
    timeout: float,
) -> OcspChecker | CrlChecker:
    """The checker the configuration asks for, pointed at the authority's standard paths."""
    base = base_url.rstrip("/")
    if mode == "ocsp":
        return OcspChecker(base + OCSP_PATH, issuer, timeout=timeout, clock=clock)
    if mode == "crl":
        return CrlChecker(base + CRL_PATH, issuer, timeout=timeout, clock=clock)
    raise ValueError(f"unknown revocation mode {mode!r}; expected 'ocsp' or 'crl'")


# -- OCSP -------------------------------------------------------------------------------------


class OcspChecker:
    """Ask the responder about each certificate (RFC 6960), with a fresh nonce every time."""

    def __init__(
        self,
        url: str,
        issuer: x509.Certificate,
        *,
        timeout: float,
        clock: Clock,
        post: PostTransport | None = None,
        clock_skew: timedelta = timedelta(minutes=5),
        require_nonce: bool = True,
    ) -> None:
        _check_url(url)
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.url = url
        self.issuer = issuer
        self.timeout = timeout
        self._clock = clock
        # One pool per checker: connections to the responder are kept alive between logins.
        self._post = post or KeepAlivePost()
        self._skew = clock_skew
        self._require_nonce = require_nonce
        self._issuer_signer = _Signer(issuer, "")
        # The certificates responses carried, by their bytes (usually the one delegated signer).
        self._signers: dict[x509.Certificate, _Signer] = {}

    def check(self, cert: x509.Certificate) -> RevocationStatus:
        nonce = os.urandom(32)  # RFC 8954 allows 1-32 octets
        request = (
            ocsp.OCSPRequestBuilder()
            .add_certificate(cert, self.issuer, hashes.SHA256())
            .add_extension(x509.OCSPNonce(nonce), critical=False)
            .build()
        )
        try:
            body = self._post(
                self.url, request.public_bytes(serialization.Encoding.DER), self.timeout
            )
        except Exception as exc:  # an injected transport may raise anything; never let it out
            return RevocationStatus.unavailable(f"OCSP responder unreachable: {_describe(exc)}")
        try:
            response = ocsp.load_der_ocsp_response(body)
        except ValueError:
            return RevocationStatus.unavailable("OCSP response is not valid DER")
        if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
            return RevocationStatus.unavailable(
                f"OCSP responder answered {response.response_status.name}"
            )
        try:
            return self._evaluate(response, request, nonce)
        except Exception as exc:  # malformed fields surface lazily while reading the response
            return RevocationStatus.unavailable(f"OCSP response unusable: {_describe(exc)}")

    def _evaluate(
        self, response: ocsp.OCSPResponse, request: ocsp.OCSPRequest, nonce: bytes
    ) -> RevocationStatus:
        now = self._clock()
        signer_problem = self._verify_signer(response, now)
        if signer_problem:
            return RevocationStatus.unavailable(signer_problem)
        single = next(
            (
                r
                for r in response.responses
                if r.serial_number == request.serial_number
                and r.hash_algorithm.name == request.hash_algorithm.name
                and r.issuer_name_hash == request.issuer_name_hash
                and r.issuer_key_hash == request.issuer_key_hash
            ),
            None,
        )
        if single is None:
            return RevocationStatus.unavailable("OCSP response does not answer for this CertID")
        try:
            echoed = response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        except x509.ExtensionNotFound:
            echoed = None
        if echoed is None and self._require_nonce:
            return RevocationStatus.unavailable("OCSP response carries no nonce")
        if echoed is not None and echoed != nonce:
            # A replayed (possibly older, "good") answer: refuse it.
            return RevocationStatus.unavailable("OCSP nonce mismatch")
        this_update, next_update = single.this_update_utc, single.next_update_utc
        if this_update > now + self._skew:
            return RevocationStatus.unavailable("OCSP thisUpdate is in the future")
        if next_update is None:
            # RFC 6960 4.2.2.1: without nextUpdate, newer information is always available.
            if now - this_update > self._skew:
                return RevocationStatus.unavailable("OCSP response is not current")
        elif now > next_update + self._skew:
            return RevocationStatus.unavailable("OCSP response is past its nextUpdate")

        status = single.certificate_status
        if status is ocsp.OCSPCertStatus.GOOD:
            return RevocationStatus.good()
        if status is ocsp.OCSPCertStatus.REVOKED:
            revoked_at = single.revocation_time_utc
            if revoked_at is None:
                return RevocationStatus.unavailable("OCSP revoked answer without a time")
            return RevocationStatus.revoked(revoked_at, single.revocation_reason)
        return RevocationStatus.unknown("OCSP responder does not know this certificate")

    def _verify_signer(self, response: ocsp.OCSPResponse, now: datetime) -> str:
        """Empty when the response is signed by the issuer or a signer it delegated to."""
        key_hash, name = response.responder_key_hash, response.responder_name
        signer = next(
            (
                s
                for s in self._candidates(response)
                if (key_hash is not None and s.key_id() == key_hash)
                or (name is not None and s.certificate.subject == name)
            ),
            None,
        )
        if signer is None:
            return "OCSP responder certificate not found"
        if signer is not self._issuer_signer:
            if signer.problem:
                return signer.problem
            if (
                not signer.certificate.not_valid_before_utc
                <= now
                <= signer.certificate.not_valid_after_utc
            ):
                return "OCSP signer certificate is outside its validity period"
        if not _signature_valid(signer.key(), response):
            return "OCSP response signature does not verify"
        return ""

    def _candidates(self, response: ocsp.OCSPResponse) -> Iterator[_Signer]:
        """The issuer, then each certificate the response carries, in that order."""
        yield self._issuer_signer
        for cert in response.certificates:
            signer = self._signers.get(cert)
            if signer is None:
                signer = self._issuer_signer if cert == self.issuer else self._delegate(cert)
                if len(self._signers) >= _MAX_SIGNERS:
                    self._signers.clear()  # the responder's key rolled over a few times
                self._signers[cert] = signer
            yield signer

    def _delegate(self, cert: x509.Certificate) -> _Signer:
        """A delegated responder (RFC 6960 4.2.2.2) must be issued directly by our CA for
        OCSPSigning: what its bytes say about that does not change, so it is decided once per
        certificate; its validity period is checked at every use."""
        try:
            cert.verify_directly_issued_by(self.issuer)
        except (ValueError, TypeError, InvalidSignature):
            return _Signer(cert, "OCSP signer is not certified by the issuing CA")
        try:
            eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            return _Signer(cert, "OCSP signer lacks the OCSPSigning key purpose")
        if ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
            return _Signer(cert, "OCSP signer lacks the OCSPSigning key purpose")
        return _Signer(cert, "")


_MAX_SIGNERS = 8


class _Signer:
    """A certificate that may have signed an OCSP response, with what is worked out from it
    once rather than for every response: its key, the key's identifier (a byKey ResponderID
    names it) and, for a delegated responder, why it may not sign for our CA ("" if it may)."""

    def __init__(self, certificate: x509.Certificate, problem: str) -> None:
        self.certificate = certificate
        self.problem = problem
        self._key: CertificatePublicKeyTypes | None = None
        self._key_id: bytes | None = None

    def key(self) -> CertificatePublicKeyTypes:
        # Loaded when first needed, as before this was cached: a certificate whose key cannot
        # be loaded fails only where its key is used.
        if self._key is None:
            self._key = self.certificate.public_key()
        return self._key

    def key_id(self) -> bytes:
        if self._key_id is None:
            self._key_id = x509.SubjectKeyIdentifier.from_public_key(self.key()).digest
        return self._key_id


# -- CRL --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CrlSnapshot:
    """One verified CRL with a serial index built once, so each lookup is O(1)."""

    crl: x509.CertificateRevocationList = field(repr=False)
    positions: dict[int, int] = field(repr=False)  # serial -> index into `crl`
    this_update: datetime
    next_update: datetime
    number: int | None
    fetched_at: datetime


class CrlChecker:
    """Check certificates against a locally cached CRL, refreshed daily.

    Thread-safe: lookups read an immutable snapshot; one thread at a time downloads. While the
    cached CRL is still within its nextUpdate, other threads keep answering from it during a
    refresh, and after a failed refresh the download is retried only after `retry_interval`.
    """

    def __init__(
        self,
        url: str,
        issuer: x509.Certificate,
        *,
        clock: Clock,
        timeout: float = 10.0,
        refresh_interval: timedelta = timedelta(days=1),
        retry_interval: timedelta = timedelta(minutes=5),
        clock_skew: timedelta = timedelta(minutes=5),
        get: GetTransport | None = None,
    ) -> None:
        _check_url(url)
        if timeout <= 0 or refresh_interval <= timedelta(0):
            raise ValueError("timeout and refresh_interval must be positive")
        self.url = url
        self.issuer = issuer
        self.timeout = timeout
        self._clock = clock
        self._refresh_interval = refresh_interval
        self._retry_interval = retry_interval
        self._skew = clock_skew
        self._get = get or urllib_get
        self._lock = threading.Lock()
        self._snapshot: _CrlSnapshot | None = None
        self._retry_after: datetime | None = None
        self._last_failure = ""

    def check(self, cert: x509.Certificate) -> RevocationStatus:
        if cert.issuer != self.issuer.subject:
            return RevocationStatus.unknown("certificate is not from the CRL's issuer")
        return self.check_serial(cert.serial_number)

    def check_serial(self, serial: int) -> RevocationStatus:
        """Look a serial up directly, for bulk checks of the serials on resident records."""
        current = self._current(self._clock())
        if isinstance(current, RevocationStatus):
            return current
        position = current.positions.get(serial)
        if position is None:
            return RevocationStatus.good()
        entry = current.crl[position]
        try:
            reason: x509.ReasonFlags | None = entry.extensions.get_extension_for_class(
                x509.CRLReason
            ).value.reason
        except x509.ExtensionNotFound:
            reason = None
        except ValueError:  # a malformed entry extension still means "revoked"
            reason = None
        return RevocationStatus.revoked(entry.revocation_date_utc, reason)

    def refresh(self) -> RevocationStatus | None:
        """Download now (e.g. at start-up); None on success, else why it failed."""
        now = self._clock()
        with self._lock:
            result = self._download(now, self._snapshot)
            if isinstance(result, str):
                return RevocationStatus.unavailable(result)
            self._snapshot = result
            return None

    @property
    def next_update(self) -> datetime | None:
        snapshot = self._snapshot
        return snapshot.next_update if snapshot else None

    def _due(self, snapshot: _CrlSnapshot, now: datetime) -> bool:
        return now >= snapshot.fetched_at + self._refresh_interval or now >= snapshot.next_update

    def _current(self, now: datetime) -> _CrlSnapshot | RevocationStatus:
        snapshot = self._snapshot
        if snapshot is not None and not self._due(snapshot, now):
            return snapshot
        if snapshot is not None and self._retry_after is not None and now < self._retry_after:
            return self._serve(snapshot, now)
        usable = snapshot is not None and now < snapshot.next_update
        if not self._lock.acquire(blocking=not usable):
            assert snapshot is not None  # non-blocking only while a usable snapshot exists
            return snapshot  # another thread is refreshing; ours is still valid
        try:
            snapshot = self._snapshot
            if snapshot is not None and not self._due(snapshot, now):
                return snapshot
            result = self._download(now, snapshot)
            if isinstance(result, str):
                self._last_failure = result
                self._retry_after = now + self._retry_interval
            else:
                snapshot = self._snapshot = result
                self._last_failure = ""
                # A CRL that is already stale at the source is not worth re-fetching each time.
                self._retry_after = (
                    now + self._retry_interval if now >= result.next_update else None
                )
            if snapshot is None:
                return RevocationStatus.unavailable(self._last_failure)
            return self._serve(snapshot, now)
        finally:
            self._lock.release()

    def _serve(self, snapshot: _CrlSnapshot, now: datetime) -> _CrlSnapshot | RevocationStatus:
        if now < snapshot.next_update:
            return snapshot
        why = self._last_failure or "the published CRL is itself past its nextUpdate"
        return RevocationStatus.stale(
            f"CRL nextUpdate {snapshot.next_update.isoformat()} has passed and no newer CRL "
            f"could be obtained: {why}"
        )

    def _download(self, now: datetime, previous: _CrlSnapshot | None) -> _CrlSnapshot | str:
        """A verified snapshot, or a text saying why the download is unusable."""
        try:
            body = self._get(self.url, self.timeout)
        except Exception as exc:  # an injected transport may raise anything; never let it out
            return f"CRL download failed: {_describe(exc)}"
        try:
            crl = x509.load_der_x509_crl(body)
        except ValueError:
            return "CRL is not valid DER"
        try:
            return self._verify(crl, now, previous)
        except Exception as exc:  # malformed fields surface lazily while reading the CRL
            return f"CRL unusable: {_describe(exc)}"

    def _verify(
        self, crl: x509.CertificateRevocationList, now: datetime, previous: _CrlSnapshot | None
    ) -> _CrlSnapshot | str:
        if crl.issuer != self.issuer.subject:
            return "CRL is issued by another CA"
        issuer_key = self.issuer.public_key()
        if not isinstance(issuer_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            return "the issuing CA's key type cannot sign CRLs here"
        if not crl.is_signature_valid(issuer_key):
            return "CRL signature does not verify against the issuing CA"
        next_update = crl.next_update_utc
        if next_update is None:
            return "CRL has no nextUpdate"
        if crl.last_update_utc > now + self._skew:
            return "CRL thisUpdate is in the future"
        for ext in crl.extensions:
            if isinstance(ext.value, x509.DeltaCRLIndicator):
                return "a delta CRL cannot stand in for the full CRL"
            if ext.critical and isinstance(ext.value, x509.UnrecognizedExtension):
                return "CRL carries an unrecognised critical extension"
        try:
            number: int | None = crl.extensions.get_extension_for_class(
                x509.CRLNumber
            ).value.crl_number
        except x509.ExtensionNotFound:
            number = None
        if (
            previous
            and previous.number is not None
            and number is not None
            and number < previous.number
        ):
            return "CRL number went backwards (a replayed older CRL?)"
        positions = {entry.serial_number: i for i, entry in enumerate(crl)}
        return _CrlSnapshot(
            crl=crl,
            positions=positions,
            this_update=crl.last_update_utc,
            next_update=next_update,
            number=number,
            fetched_at=now,
        )


# -- transports -------------------------------------------------------------------------------


def urllib_post(url: str, body: bytes, timeout: float) -> bytes:
    """POST an OCSP request; the default transport of `OcspChecker`."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": OCSP_REQUEST_TYPE, "Accept": OCSP_RESPONSE_TYPE},
    )
    return _fetch(request, timeout, OCSP_RESPONSE_TYPE, _MAX_OCSP_RESPONSE)


class ResponderProtocolError(ValueError):
    """The responder's answer is not the HTTP/1.1 this client reads (the peer misbehaved)."""


class ResponderClosed(ConnectionError):
    """The connection ended before any byte of an answer arrived (for a kept-alive connection:
    the responder dropped it while idle, so the request may be sent again on a new one)."""


@dataclass(frozen=True)
class AnswerHead:
    """The status line and headers of one HTTP/1.x answer, as `parse_answer_head` read them."""

    status: int
    reason: str
    headers: dict[str, str]  # lower-case names; a repeated header's values joined by ", "
    keep_alive: bool  # HTTP/1.1 without `Connection: close`
    length: int | None  # Content-Length; None when the body is chunked or ends with the connection
    chunked: bool = False  # `Transfer-Encoding: chunked`; neither this nor a length: until close

    @property
    def content_type(self) -> str:
        """The media type, lower-case and without parameters; "text/plain" when missing or
        malformed (as `email.message.Message.get_content_type` says, which urllib uses)."""
        media = self.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        return media if media.count("/") == 1 else "text/plain"


_MAX_HEAD = 64 * 1024  # the status line and every header of one answer
_MAX_HEADERS = 100  # as http.client
_MAX_FRAMING = 64 * 1024  # a chunked body's size lines, line ends and trailer fields together
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def head_end(data: bytes | bytearray) -> int:
    """Where the body starts: the index after the empty line that ends the head; -1 while the
    head is incomplete. Lines end with CRLF, or a bare LF (which http.client accepts too)."""
    ends = [i for i in (data.find(b"\n\r\n"), data.find(b"\n\n")) if i >= 0]
    if not ends:
        return -1
    first = min(ends)
    return first + (3 if data.startswith(b"\n\r\n", first) else 2)


def parse_answer_head(head: bytes | bytearray) -> AnswerHead:
    """Read a complete answer head (status line, headers, the empty line); sans-IO.

    Strict where laxness would let two parties read one answer differently: a Content-Length
    that is not digits or disagrees with a repetition of itself, a header folded over lines,
    a name that is not a token are all refused (`ResponderProtocolError`)."""
    lines = bytes(head).decode("latin-1").split("\n")
    status_line = lines[0].removesuffix("\r")
    version, _, rest = status_line.partition(" ")
    code, _, reason = rest.partition(" ")
    if version not in ("HTTP/1.1", "HTTP/1.0") or len(code) != 3 or not code.isdigit():
        raise ResponderProtocolError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
    headers: dict[str, str] = {}
    for count, raw in enumerate(lines[1:], start=1):
        line = raw.removesuffix("\r")
        if not line:
            break  # the empty line that ends the head
        if count > _MAX_HEADERS:
            raise ResponderProtocolError(f"more than {_MAX_HEADERS} headers")
        name, value = _field(line)
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    connection = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    http_11 = version == "HTTP/1.1"
    chunked = "transfer-encoding" in headers
    if chunked:
        _check_transfer_coding(headers, http_11)
    return AnswerHead(
        status=int(code),
        reason=reason.strip(),
        headers=headers,
        keep_alive=http_11 and "close" not in connection,
        length=None if chunked else _content_length(headers),
        chunked=chunked,
    )


def _field(line: str) -> tuple[str, str]:
    """A header (or trailer) line's lower-case name and its value."""
    if line[0] in " \t":
        raise ResponderProtocolError("a header folded over several lines")
    name, colon, value = line.partition(":")
    if not colon or not name or not _TOKEN.issuperset(name):
        raise ResponderProtocolError(f"not a header line: {line[:80]!r}")
    return name.lower(), value.strip(" \t")


def _check_transfer_coding(headers: dict[str, str], http_11: bool) -> None:
    """Only `Transfer-Encoding: chunked` alone is read (RFC 9112 section 6.3); anything else
    could be read two ways, or not at all, and is refused: a length beside it, a transfer
    coding in an HTTP/1.0 answer, a coding other than chunked (the request offers none)."""
    if "content-length" in headers:
        raise ResponderProtocolError("both Transfer-Encoding and Content-Length")
    if not http_11:
        raise ResponderProtocolError("Transfer-Encoding in an HTTP/1.0 answer")
    coding = headers["transfer-encoding"]
    if coding.lower() != "chunked":
        raise ResponderProtocolError(f"unsupported Transfer-Encoding: {coding[:40]!r}")


def _content_length(headers: dict[str, str]) -> int | None:
    declared = headers.get("content-length")
    if declared is None:
        return None
    values = {v.strip() for v in declared.split(",")}
    if len(values) != 1:
        raise ResponderProtocolError("Content-Length values disagree")
    value = values.pop()
    if not value.isascii() or not value.isdigit():
        raise ResponderProtocolError(f"Content-Length is not a number: {value[:20]!r}")
    return int(value)


_HEX = frozenset("0123456789abcdefABCDEF")


class ChunkedDecoder:
    """Reads a chunked body (RFC 9112 section 7.1) out of the bytes received so far; sans-IO.

    `decode(data, at)` reads what it can of `data` from `at` on and returns where it stopped;
    call it again from there once more bytes are appended. When `done`, `body` is the decoded
    body and the position returned is where the answer ends. Chunk extensions are ignored and
    trailer fields skipped (checked as header lines). More than `limit` bytes of body, more than
    `_MAX_FRAMING` bytes of framing, or anything that is not chunked framing raise
    `ResponderProtocolError` (a body too large: `ValueError`, as for a Content-Length)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.done = False
        self._parts: list[bytes] = []
        self._size = 0  # body bytes so far
        self._framing = 0  # framing bytes so far
        self._left = 0  # bytes of the current chunk still to come
        self._trailers = 0
        self._expect: Literal["size", "data", "data end", "trailer"] = "size"

    @property
    def body(self) -> bytes:
        if not self.done:
            raise ValueError("the chunked body is not complete")
        return b"".join(self._parts)

    def decode(self, data: bytes | bytearray, at: int) -> int:
        while not self.done:
            if self._expect == "data":
                taken = min(self._left, len(data) - at)
                if not taken:
                    return at
                self._parts.append(bytes(data[at : at + taken]))
                self._left -= taken
                at += taken
                if not self._left:
                    self._expect = "data end"
            elif self._expect == "data end":
                # The chunk's data ends with CRLF (or a bare LF, as the head's lines may).
                ending = data[at : at + 2]
                if ending[:1] == b"\n":
                    at, self._framing = at + 1, self._framing + 1
                elif ending == b"\r\n":
                    at, self._framing = at + 2, self._framing + 2
                elif ending in (b"", b"\r"):
                    return at
                else:
                    raise ResponderProtocolError("a chunk runs past its size")
                self._expect = "size"
            else:
                end = data.find(b"\n", at)
                if end < 0:
                    if self._framing + len(data) - at > _MAX_FRAMING:
                        raise ResponderProtocolError("the chunked framing is too long")
                    return at
                self._framing += end + 1 - at
                if self._framing > _MAX_FRAMING:
                    raise ResponderProtocolError("the chunked framing is too long")
                line = bytes(data[at:end]).decode("latin-1").removesuffix("\r")
                at = end + 1
                if self._expect == "size":
                    self._chunk(line)
                elif not line:
                    self.done = True  # the empty line after the trailer section
                else:
                    self._trailers += 1
                    if self._trailers > _MAX_HEADERS:
                        raise ResponderProtocolError(f"more than {_MAX_HEADERS} trailer fields")
                    _field(line)
        return at

    def _chunk(self, line: str) -> None:
        size, _, _extensions = line.partition(";")
        size = size.rstrip(" \t")  # optional whitespace before an extension
        if not size or not _HEX.issuperset(size):
            raise ResponderProtocolError(f"not a chunk size: {line[:40]!r}")
        self._left = int(size, 16)
        if self._left > self.limit - self._size:
            raise ValueError("response too large")
        self._size += self._left
        self._expect = "data" if self._left else "trailer"


@dataclass(frozen=True)
class _Target:
    """What one responder URL means for a request to it, worked out once per URL."""

    key: tuple[str, str, int]  # scheme, host, port: the pool's key
    request_head: bytes  # request line and headers, up to the Content-Length value


class KeepAlivePost:
    """POST over kept-alive HTTP/1.1 connections: the default transport of `OcspChecker`.

    A new TCP connection per login (and a new handler thread at the responder) costs more than
    the OCSP answer itself. Idle connections wait in a small pool, one taken per concurrent
    request; a reused connection the responder has closed meanwhile (its idle timeout, a
    restart) is retried once on a fresh one — only then, and only before any answer arrived, so
    a slow or failing responder is still reported as it is. An answer that says it closes the
    connection (HTTP/1.0, `Connection: close`) is read and its connection dropped. Like
    `urllib_post` it uses no proxy from the environment. Thread-safe.

    An https URL is reached over TLS with `tls` (default: `ssl.create_default_context()`, the
    system's trusted CAs), the URL's host checked against the responder's certificate.

    The exchange is written out here rather than left to `http.client`, which parses every
    answer's headers with the `email` package: that parse cost more CPU than the check of the
    OCSP answer's signature. It reads a 200 answer of type application/ocsp-response whose body
    is framed by a Content-Length, by chunks, or by the responder closing the connection (as
    `http.client` read them; only the last cannot be kept). Anything else is a failure
    with its reason — a status other than 200 (`HTTPError`), another content type, framing it
    cannot read unambiguously, a head or body cut short — and its connection is dropped.
    """

    def __init__(self, *, max_idle: int = 32, tls: ssl.SSLContext | None = None) -> None:
        self._max_idle = max_idle
        self._idle: dict[tuple[str, str, int], list[socket.socket]] = {}
        self._targets: dict[str, _Target] = {}
        self._tls = tls
        self._lock = threading.Lock()
        self.connections_opened = 0  # for tests and the benchmark: how many TCP connections

    def __call__(self, url: str, body: bytes, timeout: float) -> bytes:
        target = self._targets.get(url) or self._target(url)
        request = b"%s%d\r\n\r\n%s" % (target.request_head, len(body), body)
        conn = self._take(target.key)
        if conn is not None:
            try:
                return self._exchange(target.key, conn, url, request, timeout)
            except ResponderClosed:
                pass  # the responder closed the idle connection before we used it: afresh
        return self._exchange(target.key, self._open(target.key, timeout), url, request, timeout)

    def close(self) -> None:
        with self._lock:
            idle = [c for conns in self._idle.values() for c in conns]
            self._idle.clear()
        for conn in idle:
            conn.close()

    def _target(self, url: str) -> _Target:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        default_port = 443 if parts.scheme == "https" else 80
        host, port = parts.hostname, parts.port or default_port
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        if not path.isascii() or any(c <= " " or c == "\x7f" for c in path):
            raise ValueError(f"the URL's path must be printable ASCII: {url!r}")
        host_header = host if host.isascii() else host.encode("idna").decode("ascii")
        host_header = f"[{host_header}]" if ":" in host_header else host_header
        if port != default_port:
            host_header += f":{port}"
        request_head = (
            f"POST {path} HTTP/1.1\r\n"
            f"Host: {host_header}\r\n"
            "Accept-Encoding: identity\r\n"
            f"Content-Type: {OCSP_REQUEST_TYPE}\r\n"
            f"Accept: {OCSP_RESPONSE_TYPE}\r\n"
            "Content-Length: "
        ).encode("ascii")
        target = _Target((parts.scheme, host, port), request_head)
        with self._lock:
            if len(self._targets) < 16:  # a checker asks one URL; bound it all the same
                self._targets[url] = target
        return target

    def _take(self, key: tuple[str, str, int]) -> socket.socket | None:
        with self._lock:
            conns = self._idle.get(key)
            return conns.pop() if conns else None

    def _give_back(self, key: tuple[str, str, int], conn: socket.socket) -> None:
        with self._lock:
            conns = self._idle.setdefault(key, [])
            if len(conns) < self._max_idle:
                conns.append(conn)
                return
        conn.close()

    def _open(self, key: tuple[str, str, int], timeout: float) -> socket.socket:
        scheme, host, port = key
        self.connections_opened += 1
        sock = socket.create_connection((host, port), timeout)
        try:
            # The request leaves in one write; no segment of it should wait for an ACK.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if scheme == "https":
                if self._tls is None:
                    self._tls = ssl.create_default_context()
                sock = self._tls.wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise
        return sock

    def _exchange(
        self,
        key: tuple[str, str, int],
        conn: socket.socket,
        url: str,
        request: bytes,
        timeout: float,
    ) -> bytes:
        """Send `request` and read the answer's body; the connection goes back to the pool only
        when the answer was read exactly to its end and the responder keeps it open."""
        reusable = False
        try:
            body, reusable = _post_and_read(conn, url, request, timeout)
        finally:
            if reusable:
                self._give_back(key, conn)
            else:
                conn.close()
        return body


def _post_and_read(
    sock: socket.socket, url: str, request: bytes, timeout: float
) -> tuple[bytes, bool]:
    """One request and its answer on `sock`: (the body, whether the connection can carry the
    next request). Raises `ResponderClosed` when the connection ended before the answer began."""
    sock.settimeout(timeout)
    buffer = bytearray()
    try:
        sock.sendall(request)
        while (end := head_end(buffer)) < 0:
            if len(buffer) > _MAX_HEAD:
                raise ResponderProtocolError("the answer's head is too long")
            chunk = sock.recv(16384)
            if not chunk:
                if buffer:
                    raise ResponderProtocolError("the connection closed inside the answer's head")
                raise ResponderClosed("the responder closed the connection without answering")
            buffer += chunk
    except (BrokenPipeError, ConnectionResetError) as exc:
        if buffer:
            raise
        raise ResponderClosed(f"the connection ended before the answer: {exc}") from exc
    head = parse_answer_head(buffer[:end])
    if head.status != 200:
        headers = email.message.Message()
        for name, value in head.headers.items():
            headers[name] = value
        raise urllib.error.HTTPError(url, head.status, head.reason, headers, None)
    if head.content_type != OCSP_RESPONSE_TYPE:
        raise ValueError(f"unexpected content type {head.content_type}")
    # Bytes past the body were never asked for: the connection is not trusted with another.
    if head.length is not None:
        if head.length > _MAX_OCSP_RESPONSE:
            raise ValueError("response too large")
        total = end + head.length
        while len(buffer) < total:
            chunk = sock.recv(max(16384, total - len(buffer)))
            if not chunk:
                raise ResponderProtocolError("the connection closed inside the answer's body")
            buffer += chunk
        return bytes(buffer[end:total]), head.keep_alive and len(buffer) == total
    if head.chunked:
        decoder = ChunkedDecoder(_MAX_OCSP_RESPONSE)
        at = decoder.decode(buffer, end)
        while not decoder.done:
            chunk = sock.recv(16384)
            if not chunk:
                raise ResponderProtocolError("the connection closed inside the answer's chunks")
            buffer += chunk
            at = decoder.decode(buffer, at)
        return decoder.body, head.keep_alive and len(buffer) == at
    return _read_to_close(sock, buffer, end), False


def _read_to_close(sock: socket.socket, buffer: bytearray, end: int) -> bytes:
    """The body of an answer framed by neither a length nor chunks: what comes until the
    responder closes the connection (RFC 9112 section 6.3; an HTTP/1.0 server's way). One that
    keeps the connection open instead is refused when the timeout runs out."""
    try:
        while chunk := sock.recv(16384):
            buffer += chunk
            if len(buffer) - end > _MAX_OCSP_RESPONSE:
                raise ValueError("response too large")
    except TimeoutError as exc:
        raise ResponderProtocolError(
            "the answer has neither a Content-Length nor chunks, and the connection stayed open"
        ) from exc
    return bytes(buffer[end:])


def urllib_get(url: str, timeout: float) -> bytes:
    """GET a CRL; the default transport of `CrlChecker`."""
    request = urllib.request.Request(url, method="GET", headers={"Accept": CRL_TYPE})
    return _fetch(request, timeout, CRL_TYPE, _MAX_CRL)


def _fetch(
    request: urllib.request.Request, timeout: float, expected_type: str, limit: int
) -> bytes:
    # No proxies from the environment: the authority sits on a closed network (LGWAN), and a
    # stray http_proxy must not reroute revocation traffic.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=timeout) as reply:
        content_type = reply.headers.get_content_type()
        if content_type != expected_type:
            raise ValueError(f"unexpected content type {content_type}")
        data: bytes = reply.read(limit + 1)
    if len(data) > limit:
        raise ValueError("response too large")
    return data


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError):
        return _describe(exc.reason) if isinstance(exc.reason, BaseException) else str(exc.reason)
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _check_url(url: str) -> None:
    if not url.startswith(("http://", "https://")):
        raise ValueError("revocation URLs must be http(s)")


def _signature_valid(key: CertificatePublicKeyTypes, response: ocsp.OCSPResponse) -> bool:
    algorithm = response.signature_hash_algorithm
    signature, data = response.signature, response.tbs_response_bytes
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(signature, data, ec.ECDSA(algorithm))
        else:
            return False
    except InvalidSignature:
        return False
    return True
