"""The test PKI, declared once (STYLE 15): JPKI authorities, cards and revocation fixtures.

RSA-2048 generation costs tens of milliseconds per key, so CA keys are generated once per test
session and per label, and card keys come from a small pool. Each `test_authority(clock)` call
still returns a fresh authority (its own issued/revoked registry) over the shared CA material,
so tests cannot see each other's revocations.

Labels: "JPKI" is the authority the center trusts; "Foreign" is an unrelated CA with other
names; the "impostor" variant has exactly JPKI's names but its own keys (a forged hierarchy).
"""

from __future__ import annotations

import functools
import itertools
import random
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from hardware_sim.authority.ca import JpkiAuthority, KeySource, Revocation, generate_rsa_2048
from hardware_sim.card.credentials import CardCredentials, TokenKind
from server.common.clock import JST, Clock, FrozenClock

TRUSTED_LABEL = "JPKI"
FOREIGN_LABEL = "Foreign"
TEST_PIN = "1234"
TEST_SIGN_PASSWORD = "SIGN2026"

_TEMPLATE_EPOCH = datetime(2020, 1, 1, tzinfo=JST)  # CA material valid 2019-12-31 .. 2049
_CARD_KEY_POOL_SIZE = 6


@functools.cache
def _card_key_pool() -> tuple[rsa.RSAPrivateKey, ...]:
    return tuple(generate_rsa_2048() for _ in range(_CARD_KEY_POOL_SIZE))


def pooled_key_source() -> KeySource:
    """Card keys from a fixed pool: certificates differ, keys repeat (fine for tests only)."""
    keys: Iterator[rsa.RSAPrivateKey] = itertools.cycle(_card_key_pool())
    lock = threading.Lock()

    def next_key() -> rsa.RSAPrivateKey:
        with lock:
            return next(keys)

    return next_key


@functools.cache
def _template(label: str, variant: str) -> JpkiAuthority:
    # `variant` only separates cache entries: same label, new keys (the impostor hierarchy).
    del variant
    return JpkiAuthority.create(
        clock=FrozenClock(_TEMPLATE_EPOCH),
        seed_label=label,
        ca_valid_years=30,
        ocsp_signer_valid_years=30,
    )


def test_authority(clock: Clock, *, label: str = TRUSTED_LABEL) -> JpkiAuthority:
    """A fresh authority over the session's CA keys for `label`; cheap after the first call."""
    return _template(label, "").clone_empty(clock=clock, key_source=pooled_key_source())


test_authority.__test__ = False  # type: ignore[attr-defined]  # not a test when imported


def foreign_authority(clock: Clock) -> JpkiAuthority:
    """An unrelated CA with its own names and keys."""
    return test_authority(clock, label=FOREIGN_LABEL)


def impostor_authority(clock: Clock) -> JpkiAuthority:
    """A CA with exactly the trusted CA's names but other keys: what a forger would run."""
    return _template(TRUSTED_LABEL, "impostor").clone_empty(
        clock=clock, key_source=pooled_key_source()
    )


def issue_test_card(
    authority: JpkiAuthority,
    resident_id: str = "R-0001",
    *,
    token: TokenKind = TokenKind.CARD,
    valid_years: int = 5,
    not_before: datetime | None = None,
    holder_name: str | None = None,
) -> CardCredentials:
    return authority.issue_card(
        resident_id,
        token=token,
        pin=TEST_PIN,
        sign_password=TEST_SIGN_PASSWORD,
        valid_years=valid_years,
        not_before=not_before,
        holder_name=holder_name,
    )


def auth_cert(credentials: CardCredentials) -> x509.Certificate:
    return x509.load_der_x509_certificate(credentials.auth_cert_der)


def issue_custom_auth_cert(
    authority: JpkiAuthority,
    public_key: CertificatePublicKeyTypes,
    *,
    not_before: datetime,
    not_after: datetime,
) -> x509.Certificate:
    """A certificate under the authority's user-auth CA with any key: for key-type edge cases."""
    material = authority.material
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "custom")]))
        .issuer_name(material.auth_ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(material.auth_ca_key, hashes.SHA256())
    )


def synthetic_revocations(
    count: int,
    *,
    at: datetime,
    seed: int = 0,
    reason: x509.ReasonFlags = x509.ReasonFlags.superseded,
) -> list[Revocation]:
    """`count` distinct pseudo-random serials, reproducible from `seed`."""
    rng = random.Random(seed)
    serials: set[int] = set()
    while len(serials) < count:
        serials.add(rng.getrandbits(159) | 1)
    return [Revocation(s, at, reason) for s in sorted(serials)]


def build_large_crl(
    authority: JpkiAuthority, count: int = 1_000_000, *, seed: int = 0
) -> tuple[bytes, list[Revocation]]:
    """Load `count` synthetic revocations and issue the CRL: a national-scale list for benches.

    Around 10 s and 1 GB for a million entries; unit tests use a few tens of thousands.
    """
    records = synthetic_revocations(count, at=authority.clock() - timedelta(days=1), seed=seed)
    authority.import_revocations(records)
    return authority.crl_der(), records
