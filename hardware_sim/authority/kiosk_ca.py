"""The kiosk CA: TLS certificates for the center and for each kiosk, separate from JPKI.

JPKI certifies residents; this CA certifies machines. Every kiosk talks to the issuance center
over mutual TLS with a client certificate naming it (SAN URI `urn:konbini:kiosk:<kiosk id>`,
the kiosk id also as CN), and the center presents a server certificate for its host names (here
127.0.0.1 and localhost). The center trusts only this CA for kiosks, and kiosks trust only this
CA for the center. Keys are ECDSA P-256: the PKI is ours, JPKI's RSA-2048 rule does not apply.

TLS peers check validity against the wall clock, not an injected test clock, so certificates are
dated from `clock()` (pass the system clock for anything a TLS stack verifies).

`python -m hardware_sim.authority.kiosk_ca init|server|kiosk` manages one on disk.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from server.common.clock import Clock, system_clock
from server.kiosks.certificates import kiosk_uri

CA_CERT_FILE = "kiosk-ca.pem"
_CA_KEY_FILE = "kiosk-ca.key.pem"
DEFAULT_SERVER_HOSTS = ("127.0.0.1", "localhost")
_SKEW = timedelta(minutes=5)  # tolerate peers whose clocks run a little behind


@dataclass(frozen=True)
class TlsCredentials:
    """A certificate with its private key (PEM), and the CA the peer should trust (PEM)."""

    cert_pem: bytes
    key_pem: bytes
    ca_pem: bytes

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    def save(self, directory: Path, name: str) -> tuple[Path, Path]:
        """Write `<name>.pem` and `<name>.key.pem` (0600); returns both paths."""
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        cert, key = directory / f"{name}.pem", directory / f"{name}.key.pem"
        _write(cert, self.cert_pem, 0o644)
        _write(key, self.key_pem, 0o600)
        return cert, key


class KioskCa:
    """A one-level CA issuing the center's server certificate and kiosk client certificates."""

    def __init__(
        self, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, *, clock: Clock
    ) -> None:
        self._key = key
        self.certificate = cert
        self._clock = clock

    @classmethod
    def create(
        cls, *, clock: Clock = system_clock, name: str = "Konbini Kiosk CA", valid_years: int = 10
    ) -> KioskCa:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "konbini-koufu (simulated)"),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        start = _now(clock) - _SKEW
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(_serial())
            .not_valid_before(start)
            .not_valid_after(start + timedelta(days=365 * valid_years))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(ca=True), critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert, clock=clock)

    @property
    def ca_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def issue_kiosk(
        self, kiosk_id: str, *, valid_days: int = 397, not_before: datetime | None = None
    ) -> TlsCredentials:
        """A client certificate for `kiosk_id` (SAN URI and CN); `not_before` to back-date it."""
        san = x509.SubjectAlternativeName([x509.UniformResourceIdentifier(kiosk_uri(kiosk_id))])
        return self._issue(kiosk_id, san, ExtendedKeyUsageOID.CLIENT_AUTH, valid_days, not_before)

    def issue_server(
        self, hosts: Sequence[str] = DEFAULT_SERVER_HOSTS, *, valid_days: int = 397
    ) -> TlsCredentials:
        """The center's certificate for `hosts` (IP addresses and DNS names)."""
        if not hosts:
            raise ValueError("a server certificate names at least one host")
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        san = x509.SubjectAlternativeName(names)
        return self._issue(hosts[0], san, ExtendedKeyUsageOID.SERVER_AUTH, valid_days, None)

    def _issue(
        self,
        common_name: str,
        san: x509.SubjectAlternativeName,
        usage: x509.ObjectIdentifier,
        valid_days: int,
        not_before: datetime | None,
    ) -> TlsCredentials:
        if valid_days < 1:
            raise ValueError("valid_days must be at least 1")
        key = ec.generate_private_key(ec.SECP256R1())
        start = (not_before or _now(self._clock)).astimezone(UTC) - _SKEW
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(_serial())
            .not_valid_before(start)
            .not_valid_after(start + timedelta(days=valid_days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(san, critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        return TlsCredentials(
            cert.public_bytes(serialization.Encoding.PEM), _key_pem(key), self.ca_pem
        )

    # -- persistence --------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write(directory / CA_CERT_FILE, self.ca_pem, 0o644)
        _write(directory / _CA_KEY_FILE, _key_pem(self._key), 0o600)

    @classmethod
    def load(cls, directory: Path, *, clock: Clock = system_clock) -> KioskCa:
        key = serialization.load_pem_private_key(
            (directory / _CA_KEY_FILE).read_bytes(), password=None
        )
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{_CA_KEY_FILE} does not hold an EC private key")
        cert = x509.load_pem_x509_certificate((directory / CA_CERT_FILE).read_bytes())
        return cls(key, cert, clock=clock)


def _now(clock: Clock) -> datetime:
    moment = clock()
    if moment.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return moment.astimezone(UTC).replace(microsecond=0)


def _serial() -> int:
    return secrets.randbits(159) | 1  # positive, within RFC 5280's 20 octets


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    # Created with its final mode, so a key is never readable by others even for a moment.
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hardware_sim.authority.kiosk_ca", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--state", default="var/kiosk-ca", help="the CA's directory")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("init", help="create the CA")
    server = sub.add_parser("server", help="issue the center's certificate")
    server.add_argument("--host", action="append", help="IP or DNS name (repeatable)")
    kiosk = sub.add_parser("kiosk", help="issue a kiosk's client certificate")
    kiosk.add_argument("kiosk_id")
    args = parser.parse_args(argv)
    state = Path(args.state)
    if args.command == "init":
        KioskCa.create().save(state)
        print(f"kiosk CA created in {state} ({CA_CERT_FILE})")
        return 0
    ca = KioskCa.load(state)
    if args.command == "server":
        cert, key = ca.issue_server(args.host or DEFAULT_SERVER_HOSTS).save(state, "server")
    else:
        cert, key = ca.issue_kiosk(args.kiosk_id).save(state, args.kiosk_id)
    print(f"{cert}\n{key}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
