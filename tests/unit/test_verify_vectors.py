"""The seal payload's test vector: what another implementation (a phone app, a bank's checker)
must reproduce byte for byte — the canonical printed text, its digest, the payload, its
signature. `KONBINI_REGEN_VECTORS=1` rewrites the vector from this implementation.
"""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import date
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from server.issuance.documents import CertificateKind, IssueNumber
from server.verify.keys import PublishedKey
from server.verify.payload import SealPayload
from server.verify.printed import canonical_text, printed_digest
from server.verify.verifier import Outcome, check_offline
from tests.vectors.loader import VECTORS_DIR, load_vector
from tests.verify_tools import seeded_signer

VECTOR = "seal_payload/v1"
REGENERATE = os.environ.get("KONBINI_REGEN_VECTORS") == "1"

PAGES = [
    ["千代田区 20260401-131016-K13101601-P1-000123 ", "住民票の写し", "住所", "髙橋　一郎"],
    ["交付番号 20260401-131016-K13101601-P1-000123", "2/2", "", "以下余白"],
]


def build() -> dict[str, Any]:
    signer = seeded_signer("131016", 1)
    number = IssueNumber(date(2026, 4, 1), "131016", "K13101601", "P1", 123)
    unsigned = SealPayload(
        key_id=signer.key_id,
        municipality_code="131016",
        issue_date=number.issue_date,
        kind=CertificateKind.JUMINHYO,
        issue_number=number.format(),
        text_digest=printed_digest(PAGES),
    )
    signature = signer.sign(unsigned.signed_bytes())
    pem = signer.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "public_key_pem": pem.decode("ascii"),
        "key_id": signer.key_id.hex(),
        "pages": PAGES,
        "canonical_text_utf8_hex": canonical_text(PAGES).hex(),
        "text_digest_hex": unsigned.text_digest.hex(),
        "issue_number": unsigned.issue_number,
        "kind": unsigned.kind.value,
        "signed_bytes_hex": unsigned.signed_bytes().hex(),
        "signature_hex": signature.hex(),
        "payload_text": dataclasses.replace(unsigned, signature=signature).to_text(),
    }


def test_the_vector_is_what_this_implementation_produces() -> None:
    built = build()
    if REGENERATE:
        path = VECTORS_DIR / f"{VECTOR}.json"
        path.write_text(json.dumps(built, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    assert load_vector(VECTOR) == built


def test_the_vector_verifies_from_its_public_key_alone() -> None:
    v = load_vector(VECTOR)
    key = serialization.load_pem_public_key(v["public_key_pem"].encode("ascii"))
    assert isinstance(key, ec.EllipticCurvePublicKey)
    published = PublishedKey(bytes.fromhex(v["key_id"]), "131016", key)
    payload = SealPayload.from_text(v["payload_text"])
    assert payload.signed_bytes().hex() == v["signed_bytes_hex"]
    assert payload.signature.hex() == v["signature_hex"]
    assert canonical_text(v["pages"]).hex() == v["canonical_text_utf8_hex"]
    verdict = check_offline(payload, {published.key_id: published}, v["pages"])
    assert verdict.outcome is Outcome.AUTHENTIC
    assert check_offline(payload, {published.key_id: published}, [v["pages"][0]]).outcome is (
        Outcome.ALTERED
    )
