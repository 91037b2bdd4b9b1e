"""Municipal seal keys: generated once per municipality, kept outside the repository, published.

The private key of each municipality is a PKCS#8 PEM file `<code>.pem` in the seal key directory
(`ServerConfig.seal_key_dir`, `KONBINI_SEAL_KEY_DIR`, default `var/seal-keys`, which git
ignores); the directory is created 0700 and each file 0600. A key is created at onboarding
(`SealKeyStore.provision`) or, for a municipality that came in another way (a BCL upload, the
demo seed), the first time one of its copies is sealed. Its public half is written to the
`seal_keys` table, which `konbini verify --keys` exports as JSON for offline checks.

Keys are ECDSA P-256; signatures are deterministic (RFC 6979), so a copy renders to the same
bytes every time, as the issuance path relies on.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from server.common.clock import Clock, system_clock
from server.db.engine import read_row
from server.verify.models import SealKey
from server.verify.payload import KEY_ID_LEN, SIGNATURE_LEN

EXPORT_FORMAT = "konbini-seal-keys/1"
_CURVE_BYTES = 32
_SIGNATURE = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)


def key_id_of(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """The first 4 bytes of SHA-256 over the SubjectPublicKeyInfo (DER)."""
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).digest()[:KEY_ID_LEN]


@dataclass(frozen=True)
class PublishedKey:
    """The public half of a municipality's seal key, as anyone may hold it."""

    key_id: bytes
    municipality_code: str
    public_key: ec.EllipticCurvePublicKey

    def __post_init__(self) -> None:
        if not isinstance(self.public_key.curve, ec.SECP256R1):
            raise ValueError("seal keys are ECDSA P-256")
        if key_id_of(self.public_key) != self.key_id:
            raise ValueError("the key id does not belong to this public key")

    def verifies(self, message: bytes, signature: bytes) -> bool:
        if len(signature) != SIGNATURE_LEN:
            return False
        r = int.from_bytes(signature[:_CURVE_BYTES], "big")
        s = int.from_bytes(signature[_CURVE_BYTES:], "big")
        try:
            self.public_key.verify(encode_dss_signature(r, s), message, _SIGNATURE)
        except (InvalidSignature, ValueError):
            return False
        return True

    @property
    def der(self) -> bytes:
        return self.public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @classmethod
    def from_der(cls, municipality_code: str, der: bytes) -> PublishedKey:
        key = serialization.load_der_public_key(der)
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise ValueError("a seal key is an elliptic-curve key")
        return cls(key_id_of(key), municipality_code, key)


@dataclass(frozen=True)
class SealSigner:
    """A municipality's private seal key in memory."""

    municipality_code: str
    private_key: ec.EllipticCurvePrivateKey

    @functools.cached_property
    def key_id(self) -> bytes:
        # Once per signer, not per copy: the public key's DER and its hash each time.
        return key_id_of(self.private_key.public_key())

    @property
    def published(self) -> PublishedKey:
        return PublishedKey(self.key_id, self.municipality_code, self.private_key.public_key())

    def sign(self, message: bytes) -> bytes:
        """ECDSA P-256 over SHA-256, deterministic, as 64 bytes r || s."""
        r, s = decode_dss_signature(self.private_key.sign(message, _SIGNATURE))
        return r.to_bytes(_CURVE_BYTES, "big") + s.to_bytes(_CURVE_BYTES, "big")


class SealKeyStore:
    """The seal key directory and the published keys. Thread-safe; signers are cached."""

    def __init__(self, key_dir: Path, engine: Engine, *, clock: Clock = system_clock) -> None:
        self._dir = Path(key_dir)
        # Opened at start-up, so that a directory the center cannot write fails the start, not
        # the first copy of some municipality hours later.
        self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not os.access(self._dir, os.R_OK | os.W_OK | os.X_OK):
            raise PermissionError(f"the seal key directory {self._dir} is not writable")
        self._engine = engine
        self._clock = clock
        self._signers: dict[str, SealSigner] = {}
        self._lock = threading.Lock()

    def signer(self, municipality_code: str) -> SealSigner:
        """The municipality's key: from its file, created and published if there is none."""
        with self._lock:
            signer = self._signers.get(municipality_code)
            if signer is None:
                signer = self._load_or_create(municipality_code)
                self._publish(signer)
                self._signers[municipality_code] = signer
            return signer

    def provision(self, municipality_code: str) -> PublishedKey:
        """At onboarding: make sure the key exists and is published; its public half."""
        return self.signer(municipality_code).published

    def _path(self, code: str) -> Path:
        if not (len(code) == 6 and code.isdigit()):
            raise ValueError(f"municipality code must be 6 digits: {code!r}")
        return self._dir / f"{code}.pem"

    def _load_or_create(self, code: str) -> SealSigner:
        path = self._path(code)
        if not path.exists():
            key = ec.generate_private_key(ec.SECP256R1())
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            # Written aside, then linked in place: a process racing us for the same
            # municipality either wins (we read its key) or loses; no half-written file.
            fd, tmp = tempfile.mkstemp(dir=self._dir, prefix=f".{code}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(pem)
                    f.flush()
                    os.fsync(f.fileno())
                with contextlib.suppress(FileExistsError):
                    os.link(tmp, path)
            finally:
                os.unlink(tmp)
        if path.stat().st_mode & 0o077:
            # Like ssh with its keys: a seal key others can read may already be someone else's.
            raise PermissionError(f"{path} is readable by others; chmod 600 it (and rotate it)")
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey) or not isinstance(
            loaded.curve, ec.SECP256R1
        ):
            raise ValueError(f"{path} is not an ECDSA P-256 key")
        return SealSigner(code, loaded)

    def _publish(self, signer: SealSigner) -> None:
        key_id = signer.key_id.hex()
        # Usually published already (by onboarding, or by another worker process): looked up
        # without the write transaction, which on SQLite would queue for the writer lock.
        if read_row(self._engine, _published_query(), {"key_id": key_id}) is not None:
            return
        with Session(self._engine) as db:
            if db.get(SealKey, key_id) is not None:
                return
            db.add(
                SealKey(
                    key_id=key_id,
                    municipality_code=signer.municipality_code,
                    public_key_der=signer.published.der,
                    created_at=self._clock(),
                )
            )
            try:
                db.commit()
            except IntegrityError:  # another process published it first
                db.rollback()


@functools.cache
def _published_query() -> sa.Select[str]:
    """Whether a key id (`key_id`) is published."""
    return sa.select(col(SealKey.key_id)).where(col(SealKey.key_id) == sa.bindparam("key_id"))


def published_keys(db: Session) -> dict[bytes, PublishedKey]:
    rows = db.exec(select(SealKey)).all()
    return {
        bytes.fromhex(row.key_id): PublishedKey.from_der(row.municipality_code, row.public_key_der)
        for row in rows
    }


def export_keys(keys: Iterable[PublishedKey], *, exported_at: datetime) -> str:
    """The JSON that `konbini verify --keys` writes and offline checks read."""
    entries = [
        {
            "key_id": k.key_id.hex(),
            "municipality_code": k.municipality_code,
            "public_key_pem": k.public_key.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ).decode("ascii"),
        }
        for k in sorted(keys, key=lambda k: (k.municipality_code, k.key_id))
    ]
    doc = {"format": EXPORT_FORMAT, "exported_at": exported_at.isoformat(), "keys": entries}
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def import_keys(text: str) -> dict[bytes, PublishedKey]:
    """Read an export. Anything but a well-formed one is a ValueError: a key whose id does not
    match its public key, a municipality code that is not 6 digits, one key listed twice."""
    try:
        doc: Any = json.loads(text)
        if not isinstance(doc, dict) or doc.get("format") != EXPORT_FORMAT:
            raise ValueError(f"not a {EXPORT_FORMAT} file")
        entries = doc["keys"]
        if not isinstance(entries, list):
            raise ValueError("keys must be a list")
        out: dict[bytes, PublishedKey] = {}
        for entry in entries:
            code = entry["municipality_code"]
            if not (isinstance(code, str) and len(code) == 6 and code.isdigit()):
                raise ValueError(f"municipality code must be 6 digits: {code!r}")
            key = serialization.load_pem_public_key(entry["public_key_pem"].encode("ascii"))
            if not isinstance(key, ec.EllipticCurvePublicKey):
                raise ValueError("a seal key is an elliptic-curve key")
            published = PublishedKey(bytes.fromhex(entry["key_id"]), code, key)
            if published.key_id in out:
                raise ValueError(f"key {entry['key_id']} is listed twice")
            out[published.key_id] = published
        return out
    except (KeyError, TypeError, AttributeError, UnicodeError) as exc:
        raise ValueError(f"malformed seal key file: {type(exc).__name__} {exc}") from None
