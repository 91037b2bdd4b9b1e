"""Signed anchors: the chain head, copied now and then to a file outside the database.

A hash chain alone shows a changed or removed entry in the middle, but not a cut tail: whoever
can delete the last rows can also set the chain-head row back. An anchor is (seq, entry_hash,
time) signed with an Ed25519 key that the database does not hold, appended as one JSON line to
a file that should live elsewhere (another host, WORM storage, a ticket to the auditors).
`verify_chain` then needs the anchored entry still present and unchanged.

Limits: entries after the newest anchor can still be cut by someone who rewrites the head, and
anyone with write access to the database can rewrite the chain after the newest anchor
consistently. Anchoring more often narrows that window; it does not close it.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.engine import Engine

from server.audit.models import HEAD_ROW_ID, AuditChainHead
from server.audit.verify import Anchor


@dataclass(frozen=True)
class AnchorRecord:
    seq: int
    entry_hash: str
    at: datetime

    def message(self) -> bytes:
        body = {
            "seq": self.seq,
            "entry_hash": self.entry_hash,
            "at": self.at.astimezone(UTC).isoformat(timespec="seconds"),
        }
        return b"konbini-audit-anchor\n" + json.dumps(body, sort_keys=True).encode()


class AnchorFileError(ValueError):
    """An anchor line that is malformed or not signed by the anchor key."""


def generate_key(private_path: Path, public_path: Path) -> None:
    """A new anchor key pair (set-up, once); the private key file is readable by owner only."""
    key = Ed25519PrivateKey.generate()
    private_path.parent.mkdir(parents=True, exist_ok=True)
    private_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    private_path.chmod(0o600)
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return key


def write_anchor(
    engine: Engine, key: Ed25519PrivateKey, anchor_file: Path, *, now: datetime
) -> AnchorRecord:
    """Append the current head to `anchor_file`, signed; returns what was written."""
    head = AuditChainHead.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        row = conn.execute(sa.select(head).where(head.c.id == HEAD_ROW_ID)).one()
    record = AnchorRecord(seq=int(row.seq), entry_hash=row.head_hash, at=now)
    line = {
        "seq": record.seq,
        "entry_hash": record.entry_hash,
        "at": record.at.astimezone(UTC).isoformat(timespec="seconds"),
        "sig": base64.b64encode(key.sign(record.message())).decode(),
    }
    anchor_file.parent.mkdir(parents=True, exist_ok=True)
    with anchor_file.open("a", encoding="utf-8") as out:
        out.write(json.dumps(line, sort_keys=True) + "\n")
    return record


def read_anchors(anchor_file: Path, public_key: Ed25519PublicKey) -> list[Anchor]:
    """Every anchor of the file, each checked against the key; a bad line raises."""
    anchors = []
    for number, text in enumerate(anchor_file.read_text(encoding="utf-8").splitlines(), 1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
            record = AnchorRecord(
                seq=int(line["seq"]),
                entry_hash=str(line["entry_hash"]),
                at=datetime.fromisoformat(line["at"]),
            )
            public_key.verify(base64.b64decode(line["sig"]), record.message())
        except InvalidSignature as exc:
            raise AnchorFileError(f"{anchor_file}:{number}: signature does not verify") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise AnchorFileError(f"{anchor_file}:{number}: malformed anchor ({exc})") from exc
        anchors.append(Anchor(record.seq, record.entry_hash))
    return anchors
