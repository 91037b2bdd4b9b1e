"""The simulated JPKI authority (公的個人認証サービス): certificate authorities, CRL and OCSP.

`JpkiAuthority` holds two CA hierarchies as J-LIS runs them:

- the user-authentication CA (利用者証明用 CA), which issues the certificate the kiosk reads and
  the issuance center verifies; it also signs the CRL and certifies a delegated OCSP signer
  (RFC 6960 4.2.2.2, extendedKeyUsage OCSPSigning plus id-pkix-ocsp-nocheck);
- the signing CA (署名用 CA), which issues the 署名用電子証明書 that may carry the holder's name.

Revocation services (CRL, OCSP) cover the user-authentication hierarchy only: that is the one the
center checks. Everything is plain bytes in, bytes out; the HTTP side lives in `responder.py`.
Every time comes from the injected clock, so tests can freeze or move it.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from hardware_sim.card.credentials import CardCredentials, TokenKind
from server.auth.revocation import CRL_PATH, OCSP_PATH
from server.common.clock import Clock

PLACEHOLDER_BASE_URL = "http://127.0.0.1:0"
"""Base URL before a responder is bound; `serve_in_thread` replaces it with the real one."""

CA_CERT_PATH = "/ca/auth.der"

AUTH_CA_CERT_FILE = "auth-ca.pem"
"""The file the issuance center reads as its trust anchor (see `load_auth_ca_certificate`)."""

_SIGN_CA_CERT_FILE = "sign-ca.pem"
_OCSP_CERT_FILE = "ocsp-signer.pem"
_AUTH_CA_KEY_FILE = "auth-ca.key.pem"
_SIGN_CA_KEY_FILE = "sign-ca.key.pem"
_OCSP_KEY_FILE = "ocsp-signer.key.pem"
_INDEX_FILE = "index.json"
_INDEX_VERSION = 1

OCSP_RESPONSE_VALIDITY = timedelta(hours=1)
"""nextUpdate - thisUpdate of each OCSP answer: how long a relying party may reuse it."""

KeySource = Callable[[], rsa.RSAPrivateKey]
"""Where card keys come from; tests inject a pool because RSA-2048 generation is slow."""

CertKind = Literal["auth", "sign"]


def generate_rsa_2048() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass(frozen=True)
class CaMaterial:
    """The long-lived keys and certificates of one authority; immutable, so safe to share."""

    auth_ca_key: rsa.RSAPrivateKey
    auth_ca_cert: x509.Certificate
    sign_ca_key: rsa.RSAPrivateKey
    sign_ca_cert: x509.Certificate
    ocsp_key: rsa.RSAPrivateKey
    ocsp_cert: x509.Certificate


@dataclass(frozen=True)
class IssuedCertificate:
    """One registry line: what was issued. No holder data: the index stays anonymous."""

    serial: int
    kind: CertKind
    not_after: datetime | None  # None: imported revocation, issued outside this registry


@dataclass(frozen=True)
class Revocation:
    serial: int
    revoked_at: datetime
    reason: x509.ReasonFlags

    def __post_init__(self) -> None:
        if self.revoked_at.tzinfo is None:
            raise ValueError("revocation time must be timezone-aware")
        if self.reason is x509.ReasonFlags.remove_from_crl:
            raise ValueError("removeFromCRL is only meaningful in delta CRLs")


class JpkiAuthority:
    """A CA hierarchy with its registry of issued and revoked serials.

    Thread-safe: the HTTP responder answers from worker threads while tests or the CLI revoke.
    """

    def __init__(
        self,
        material: CaMaterial,
        *,
        clock: Clock,
        base_url: str = PLACEHOLDER_BASE_URL,
        key_source: KeySource = generate_rsa_2048,
    ) -> None:
        self._material = material
        self._clock = clock
        self._key_source = key_source
        self._lock = threading.RLock()
        self._issued: dict[int, IssuedCertificate] = {}
        self._revoked: dict[int, Revocation] = {}
        # RevokedCertificate entries are built once per serial, so a new CRL only re-signs.
        self._crl_entries: dict[int, x509.RevokedCertificate] = {}
        self._crl_number = 0
        self._published_crl: x509.CertificateRevocationList | None = None
        self._published_der = b""
        self._dirty = True  # revocations changed since the published CRL
        # The auth CA's (issuerNameHash, issuerKeyHash) by hash algorithm name: what an OCSP
        # request for one of its certificates carries, worked out once rather than per request.
        self._our_hashes: dict[str, tuple[bytes, bytes]] = {}
        self.base_url = base_url

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        *,
        clock: Clock,
        seed_label: str = "JPKI",
        base_url: str = PLACEHOLDER_BASE_URL,
        key_source: KeySource = generate_rsa_2048,
        ca_valid_years: int = 20,
        ocsp_signer_valid_years: int = 2,
    ) -> JpkiAuthority:
        """Generate new CA keys and certificates.

        `seed_label` names the hierarchy ("JPKI" gives "JPKI User Authentication CA
        (simulated)"), so tests can build a distinct foreign authority. CA and OCSP signer keys
        come from `key_source` too.
        """
        now = _truncate(clock())
        start = now - timedelta(days=1)  # tolerate small clock skew at relying parties
        org = f"{seed_label} (simulated)"

        def ca(key: rsa.RSAPrivateKey, role: str) -> x509.Certificate:
            name = x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                    x509.NameAttribute(NameOID.COMMON_NAME, f"{seed_label} {role} CA (simulated)"),
                ]
            )
            ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
            builder = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(key.public_key())
                .serial_number(_random_serial())
                .not_valid_before(start)
                .not_valid_after(_add_years(start, ca_valid_years))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(_ca_key_usage(), critical=True)
                .add_extension(ski, critical=False)
                .add_extension(
                    x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                    critical=False,
                )
            )
            return builder.sign(key, hashes.SHA256())

        auth_key, sign_key, ocsp_key = key_source(), key_source(), key_source()
        auth_cert = ca(auth_key, "User Authentication")
        sign_cert = ca(sign_key, "Digital Signature")
        ocsp_name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{seed_label} OCSP Responder (simulated)"),
            ]
        )
        ocsp_cert = (
            _end_entity_builder(
                subject=ocsp_name,
                key=ocsp_key,
                issuer=auth_cert,
                not_before=start,
                not_after=_add_years(start, ocsp_signer_valid_years),
            )
            .add_extension(_key_usage(digital_signature=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=True)
            # id-pkix-ocsp-nocheck: relying parties need not check the signer's own status.
            .add_extension(x509.OCSPNoCheck(), critical=False)
            .sign(auth_key, hashes.SHA256())
        )
        material = CaMaterial(auth_key, auth_cert, sign_key, sign_cert, ocsp_key, ocsp_cert)
        return cls(material, clock=clock, base_url=base_url, key_source=key_source)

    def clone_empty(self, *, clock: Clock, key_source: KeySource | None = None) -> JpkiAuthority:
        """A new authority with the same CA keys and certificates and an empty registry.

        Lets a test session generate the CA keys once and still give each test its own
        issued/revoked state.
        """
        return JpkiAuthority(
            self._material,
            clock=clock,
            base_url=self.base_url,
            key_source=key_source or self._key_source,
        )

    # -- public material ----------------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def material(self) -> CaMaterial:
        """Keys included: for persistence and for tests that forge edge-case certificates."""
        return self._material

    @property
    def auth_ca_cert(self) -> x509.Certificate:
        return self._material.auth_ca_cert

    @property
    def sign_ca_cert(self) -> x509.Certificate:
        return self._material.sign_ca_cert

    @property
    def ocsp_signer_cert(self) -> x509.Certificate:
        return self._material.ocsp_cert

    @property
    def base_url(self) -> str:
        return self._base_url

    @base_url.setter
    def base_url(self, value: str) -> None:
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http(s) URL")
        self._base_url = value.rstrip("/")

    @property
    def ocsp_url(self) -> str:
        return self._base_url + OCSP_PATH

    @property
    def crl_url(self) -> str:
        return self._base_url + CRL_PATH

    @property
    def ca_cert_url(self) -> str:
        return self._base_url + CA_CERT_PATH

    # -- issuance -----------------------------------------------------------------------------

    def issue_card(
        self,
        holder_resident_id: str,
        *,
        token: TokenKind = TokenKind.CARD,
        pin: str,
        sign_password: str,
        valid_years: int = 5,
        not_before: datetime | None = None,
        holder_name: str | None = None,
    ) -> CardCredentials:
        """Personalise one card or phone: a fresh key pair and certificate per purpose.

        The 利用者証明用電子証明書 (user-authentication certificate) names nobody: its subject is
        only a serial-like CN (SPEC section 2). The 署名用電子証明書 (signing certificate) carries
        `holder_name` when given. Pass a `not_before` in the past to make an expired card.
        """
        if valid_years < 1:
            raise ValueError("valid_years must be at least 1")
        start = _truncate(not_before if not_before is not None else self._clock())
        end = _add_years(start, valid_years)
        auth_key, sign_key = self._key_source(), self._key_source()
        material = self._material
        with self._lock:
            auth_serial, sign_serial = self._new_serial(), self._new_serial()
            base = self._base_url

        auth_cert = (
            _end_entity_builder(
                subject=_serial_subject(auth_serial),
                key=auth_key,
                issuer=material.auth_ca_cert,
                not_before=start,
                not_after=end,
                serial=auth_serial,
            )
            .add_extension(_key_usage(digital_signature=True), critical=True)
            .add_extension(_crl_distribution_points(base + CRL_PATH), critical=False)
            .add_extension(_authority_info_access(base), critical=False)
            .sign(material.auth_ca_key, hashes.SHA256())
        )
        sign_subject = (
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                    x509.NameAttribute(NameOID.COMMON_NAME, holder_name),
                ]
            )
            if holder_name
            else _serial_subject(sign_serial)
        )
        sign_cert = (
            _end_entity_builder(
                subject=sign_subject,
                key=sign_key,
                issuer=material.sign_ca_cert,
                not_before=start,
                not_after=end,
                serial=sign_serial,
            )
            .add_extension(
                _key_usage(digital_signature=True, content_commitment=True), critical=True
            )
            .sign(material.sign_ca_key, hashes.SHA256())
        )
        der = serialization.Encoding.DER
        credentials = CardCredentials(  # validates PIN and password before anything is recorded
            token=token,
            auth_cert_der=auth_cert.public_bytes(der),
            auth_ca_cert_der=material.auth_ca_cert.public_bytes(der),
            auth_key_pem=_private_pem(auth_key),
            auth_pin=pin,
            sign_cert_der=sign_cert.public_bytes(der),
            sign_ca_cert_der=material.sign_ca_cert.public_bytes(der),
            sign_key_pem=_private_pem(sign_key),
            sign_password=sign_password,
            holder_resident_id=holder_resident_id,
        )
        with self._lock:
            self._issued[auth_serial] = IssuedCertificate(auth_serial, "auth", end)
            self._issued[sign_serial] = IssuedCertificate(sign_serial, "sign", end)
        return credentials

    def issued(self, serial: int) -> IssuedCertificate | None:
        with self._lock:
            return self._issued.get(serial)

    # -- revocation ---------------------------------------------------------------------------

    def revoke(
        self,
        serial: int,
        *,
        reason: x509.ReasonFlags = x509.ReasonFlags.key_compromise,
        at: datetime | None = None,
    ) -> Revocation:
        """Revoke an issued certificate; revoking again keeps the first record (RFC 5280)."""
        with self._lock:
            if serial not in self._issued:
                raise KeyError(f"serial {serial:x} was not issued by this authority")
            existing = self._revoked.get(serial)
            if existing is not None:
                return existing
            record = Revocation(serial, _truncate(at or self._clock()), reason)
            self._revoked[serial] = record
            self._dirty = True
            return record

    def import_revocations(self, records: Iterable[Revocation]) -> int:
        """Bulk-load revocations of user-authentication certificates issued elsewhere.

        For scale tests (a national CRL holds around a million entries) without issuing a
        million certificates. Returns the number of new entries.
        """
        added = 0
        with self._lock:
            for record in records:
                if record.serial in self._revoked:
                    continue
                self._issued.setdefault(
                    record.serial, IssuedCertificate(record.serial, "auth", None)
                )
                self._revoked[record.serial] = record
                added += 1
            self._dirty = self._dirty or added > 0
        return added

    def is_revoked(self, serial: int) -> bool:
        with self._lock:
            return serial in self._revoked

    def revocation(self, serial: int) -> Revocation | None:
        with self._lock:
            return self._revoked.get(serial)

    # -- CRL (RFC 5280) -----------------------------------------------------------------------

    def crl_der(
        self,
        *,
        this_update: datetime | None = None,
        next_update_in: timedelta = timedelta(days=1),
    ) -> bytes:
        """Issue a new CRL of the user-authentication CA (CRL number + 1) and publish it."""
        with self._lock:
            self._issue_crl(this_update, next_update_in)
            return self._published_der

    def published_crl_der(self) -> bytes:
        """The CRL the responder serves: re-issued only after a revocation or past nextUpdate."""
        with self._lock:
            crl = self._published_crl
            if self._dirty or crl is None or _expired(crl, self._clock()):
                self._issue_crl(None, timedelta(days=1))
            return self._published_der

    def _issue_crl(self, this_update: datetime | None, next_update_in: timedelta) -> None:
        if next_update_in <= timedelta(0):
            raise ValueError("next_update_in must be positive")
        start = _truncate(this_update or self._clock())
        entries = self._crl_entries
        for serial, record in self._revoked.items():
            if serial not in entries and self._issued[serial].kind == "auth":
                entries[serial] = _revoked_entry(record)
        self._crl_number += 1
        material = self._material
        # Passing the list to the constructor avoids the builder's copy per added entry, which
        # is quadratic for a million revocations.
        crl = (
            x509.CertificateRevocationListBuilder(
                revoked_certificates=[entries[s] for s in sorted(entries)]
            )
            .issuer_name(material.auth_ca_cert.subject)
            .last_update(start)
            .next_update(start + next_update_in)
            .add_extension(x509.CRLNumber(self._crl_number), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    material.auth_ca_key.public_key()
                ),
                critical=False,
            )
            .sign(material.auth_ca_key, hashes.SHA256())
        )
        self._published_crl = crl
        self._published_der = crl.public_bytes(serialization.Encoding.DER)
        self._dirty = False

    # -- OCSP (RFC 6960) ----------------------------------------------------------------------

    def ocsp_response_der(self, request_der: bytes) -> bytes:
        """Answer one DER OCSPRequest with a DER OCSPResponse; never raises on peer input."""
        try:
            request = ocsp.load_der_ocsp_request(request_der)
            algorithm = request.hash_algorithm
            name_hash, key_hash = request.issuer_name_hash, request.issuer_key_hash
            serial = request.serial_number
            nonce = _nonce(request.extensions)
        except Exception:
            # Includes requests for several certificates, which RFC 5019 clients never send.
            return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)

        material = self._material
        now = _truncate(self._clock())
        status = ocsp.OCSPCertStatus.UNKNOWN
        revoked_at: datetime | None = None
        reason: x509.ReasonFlags | None = None
        try:
            ours = (name_hash, key_hash) == self._hashes_of_ours(algorithm)
        except Exception:
            return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        with self._lock:
            issued = self._issued.get(serial) if ours else None
            record = self._revoked.get(serial)
        if issued is not None and issued.kind == "auth":
            if record is None:
                status = ocsp.OCSPCertStatus.GOOD
            else:
                status = ocsp.OCSPCertStatus.REVOKED
                revoked_at = record.revoked_at
                # "unspecified" SHOULD NOT be sent as a reason code (RFC 5280 5.3.1).
                if record.reason is not x509.ReasonFlags.unspecified:
                    reason = record.reason
        try:
            builder = (
                ocsp.OCSPResponseBuilder()
                .add_response_by_hash(
                    issuer_name_hash=name_hash,
                    issuer_key_hash=key_hash,
                    serial_number=serial,
                    algorithm=algorithm,
                    cert_status=status,
                    this_update=now,
                    next_update=now + OCSP_RESPONSE_VALIDITY,
                    revocation_time=revoked_at,
                    revocation_reason=reason,
                )
                .responder_id(ocsp.OCSPResponderEncoding.HASH, material.ocsp_cert)
                .certificates([material.ocsp_cert])
            )
            if nonce is not None:
                builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
            response = builder.sign(material.ocsp_key, hashes.SHA256())
        except ValueError:
            # A well-formed but unusable CertID (e.g. hash lengths that do not fit the algorithm).
            return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        return response.public_bytes(serialization.Encoding.DER)

    def _hashes_of_ours(self, algorithm: hashes.HashAlgorithm) -> tuple[bytes, bytes]:
        found = self._our_hashes.get(algorithm.name)
        if found is None:
            found = issuer_hashes(self._material.auth_ca_cert, algorithm)
            if len(self._our_hashes) < 8:  # a few algorithms at most; bound it all the same
                self._our_hashes[algorithm.name] = found
        return found

    # -- persistence --------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        """Write certificates (PEM; the auth CA also as DER), keys (0600) and the JSON index."""
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        m = self._material
        for name, cert in (
            (AUTH_CA_CERT_FILE, m.auth_ca_cert),
            (_SIGN_CA_CERT_FILE, m.sign_ca_cert),
            (_OCSP_CERT_FILE, m.ocsp_cert),
        ):
            _atomic_write(directory / name, cert.public_bytes(serialization.Encoding.PEM), 0o644)
        _atomic_write(
            directory / "auth-ca.der",
            m.auth_ca_cert.public_bytes(serialization.Encoding.DER),
            0o644,
        )
        for name, key in (
            (_AUTH_CA_KEY_FILE, m.auth_ca_key),
            (_SIGN_CA_KEY_FILE, m.sign_ca_key),
            (_OCSP_KEY_FILE, m.ocsp_key),
        ):
            _atomic_write(directory / name, _private_pem(key), 0o600)
        with self._lock:
            index = {
                "version": _INDEX_VERSION,
                "base_url": self._base_url,
                "crl_number": self._crl_number,
                "issued": {
                    f"{s:x}": {
                        "kind": i.kind,
                        "not_after": i.not_after.isoformat() if i.not_after else None,
                    }
                    for s, i in self._issued.items()
                },
                "revoked": {
                    f"{s:x}": {"at": r.revoked_at.isoformat(), "reason": r.reason.name}
                    for s, r in self._revoked.items()
                },
            }
        _atomic_write(
            directory / _INDEX_FILE, json.dumps(index, indent=1, sort_keys=True).encode(), 0o600
        )

    @classmethod
    def load(
        cls, directory: Path, clock: Clock, *, key_source: KeySource = generate_rsa_2048
    ) -> JpkiAuthority:
        material = CaMaterial(
            auth_ca_key=_read_key(directory / _AUTH_CA_KEY_FILE),
            auth_ca_cert=_read_cert(directory / AUTH_CA_CERT_FILE),
            sign_ca_key=_read_key(directory / _SIGN_CA_KEY_FILE),
            sign_ca_cert=_read_cert(directory / _SIGN_CA_CERT_FILE),
            ocsp_key=_read_key(directory / _OCSP_KEY_FILE),
            ocsp_cert=_read_cert(directory / _OCSP_CERT_FILE),
        )
        index: dict[str, Any] = json.loads((directory / _INDEX_FILE).read_text())
        if index.get("version") != _INDEX_VERSION:
            raise ValueError(f"unsupported authority index version {index.get('version')!r}")
        authority = cls(material, clock=clock, base_url=index["base_url"], key_source=key_source)
        authority._crl_number = int(index["crl_number"])
        issued: Mapping[str, Mapping[str, str | None]] = index["issued"]
        for hex_serial, row in issued.items():
            serial = int(hex_serial, 16)
            kind: CertKind = "sign" if row["kind"] == "sign" else "auth"
            not_after = row["not_after"]
            authority._issued[serial] = IssuedCertificate(
                serial, kind, datetime.fromisoformat(not_after) if not_after else None
            )
        revoked: Mapping[str, Mapping[str, str]] = index["revoked"]
        for hex_serial, row in revoked.items():
            serial = int(hex_serial, 16)
            authority._revoked[serial] = Revocation(
                serial, datetime.fromisoformat(row["at"]), x509.ReasonFlags[row["reason"]]
            )
        return authority

    # -- internals ----------------------------------------------------------------------------

    def _new_serial(self) -> int:
        while True:
            serial = _random_serial()
            if serial not in self._issued:
                return serial


def load_auth_ca_certificate(directory: Path) -> x509.Certificate:
    """The trust anchor a separate server process reads from an authority's directory."""
    return _read_cert(directory / AUTH_CA_CERT_FILE)


def issuer_hashes(issuer: x509.Certificate, algorithm: hashes.HashAlgorithm) -> tuple[bytes, bytes]:
    """(issuerNameHash, issuerKeyHash) of an OCSP CertID for certificates of `issuer`."""
    # RFC 6960 4.1.1: hash of the DER issuer name, and of the subjectPublicKey BIT STRING value,
    # which for RSA is the PKCS#1 RSAPublicKey.
    name_hash = hashes.Hash(algorithm)
    name_hash.update(issuer.subject.public_bytes())
    key_hash = hashes.Hash(algorithm)
    key_hash.update(
        issuer.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.PKCS1
        )
    )
    return name_hash.finalize(), key_hash.finalize()


# -- helpers ----------------------------------------------------------------------------------


def _nonce(extensions: x509.Extensions) -> bytes | None:
    try:
        return extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        return None


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER
    )


def _revoked_entry(record: Revocation) -> x509.RevokedCertificate:
    builder = (
        x509.RevokedCertificateBuilder()
        .serial_number(record.serial)
        .revocation_date(record.revoked_at)
    )
    if record.reason is not x509.ReasonFlags.unspecified:
        builder = builder.add_extension(x509.CRLReason(record.reason), critical=False)
    return builder.build()


def _expired(crl: x509.CertificateRevocationList, now: datetime) -> bool:
    next_update = crl.next_update_utc
    return next_update is None or now >= next_update


def _end_entity_builder(
    *,
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer: x509.Certificate,
    not_before: datetime,
    not_after: datetime,
    serial: int | None = None,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(serial if serial is not None else _random_serial())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(_rsa_public(issuer)),
            critical=False,
        )
    )


def _rsa_public(cert: x509.Certificate) -> rsa.RSAPublicKey:
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise TypeError("the simulated authority only uses RSA keys")
    return key


def _serial_subject(serial: int) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{serial:X}"),
        ]
    )


def _crl_distribution_points(url: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints(
        [
            x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(url)],
                relative_name=None,
                reasons=None,
                crl_issuer=None,
            )
        ]
    )


def _authority_info_access(base_url: str) -> x509.AuthorityInformationAccess:
    return x509.AuthorityInformationAccess(
        [
            x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP,
                x509.UniformResourceIdentifier(base_url + OCSP_PATH),
            ),
            x509.AccessDescription(
                AuthorityInformationAccessOID.CA_ISSUERS,
                x509.UniformResourceIdentifier(base_url + CA_CERT_PATH),
            ),
        ]
    )


def _key_usage(*, digital_signature: bool, content_commitment: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=content_commitment,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _random_serial() -> int:
    # Positive and at most 159 bits, so it fits the 20-octet limit of RFC 5280 4.1.2.2.
    while True:
        serial = secrets.randbits(159)
        if serial > 0:
            return serial


def _truncate(moment: datetime) -> datetime:
    """Drop microseconds (certificates store whole seconds) and normalise to UTC."""
    if moment.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return moment.astimezone(UTC).replace(microsecond=0)


def _add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February in a non-leap target year
        return moment.replace(year=moment.year + years, day=28)


def _private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _read_key(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path.name} does not hold an RSA private key")
    return key


def _read_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    # Created with its final mode, so a key is never readable by others even for a moment.
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)  # the umask may have narrowed or the file system widened it
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
