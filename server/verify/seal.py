"""Sealing a copy as it is rendered: the signed payload its QR code carries."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol

from server.issuance.documents import CertificateDocument
from server.verify.keys import SealSigner
from server.verify.payload import SealPayload
from server.verify.printed import printed_digest


class SignerSource(Protocol):
    """Where a municipality's private seal key comes from (`SealKeyStore` in the center)."""

    def signer(self, municipality_code: str) -> SealSigner: ...


def seal_payload(
    signer: SealSigner, doc: CertificateDocument, printed: Sequence[Sequence[str]]
) -> SealPayload:
    unsigned = SealPayload(
        key_id=signer.key_id,
        municipality_code=doc.municipality.code,
        issue_date=doc.issued_on,
        kind=doc.kind,
        issue_number=doc.issue_number.format(),
        text_digest=printed_digest(printed),
    )
    return dataclasses.replace(unsigned, signature=signer.sign(unsigned.signed_bytes()))


class CopySealer:
    """What `CertificateRenderer` calls once the layout has drawn every string of a copy."""

    def __init__(self, keys: SignerSource) -> None:
        self._keys = keys

    def seal(self, doc: CertificateDocument, printed: Sequence[Sequence[str]]) -> str:
        signer = self._keys.signer(doc.municipality.code)
        return seal_payload(signer, doc, printed).to_text()
