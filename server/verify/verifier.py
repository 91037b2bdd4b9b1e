"""Is this copy authentic? The checks behind `VerifyService` and `konbini verify`.

Two layers, each usable alone:

- `check_offline(payload, keys, printed)`: the signature against the published key of the
  municipality, and (given a PDF) the digest of the text actually printed. Needs nothing but
  the exported public keys: a bank or a landlord can check a copy without the center.
- `Verifier.verify(...)`: the same, then the issuance records: a copy that was voided (a failed
  print, a disposal) or whose number the center never issued.

Outcomes, in the order they win (outcome, reason: when):

- UNKNOWN, NO_SEAL: the PDF carries no readable QR code;
- UNKNOWN, SEAL_UNREADABLE: the PDF's QR code is not a seal payload;
- UNKNOWN, KEY_UNKNOWN: no published key has the payload's key id (not a seal of ours, or
  forged with a key of its own);
- ALTERED, KEY_OTHER_MUNICIPALITY: the key belongs to another municipality than the payload's;
- ALTERED, SIGNATURE_INVALID: the payload was changed, or signed with another key than the
  published one it names;
- ALTERED, TEXT_ALTERED: the PDF's printed text differs from what was sealed;
- UNKNOWN, ISSUANCE_UNKNOWN (online): no issuance has this number;
- ALTERED, RECORD_MISMATCH (online): the record's kind or municipality differs from the seal's;
- VOIDED, ISSUANCE_VOIDED (online): the copy was voided (a failed print, an expiry);
- VOIDED, COPY_TAKEN_BACK (online): issued, then taken back as wrongly issued (誤交付, the
  ledger's reversal by CorrectCopy): the sheet is to be disposed of;
- UNKNOWN, NOT_YET_ISSUED (online): printing or hand-over not confirmed yet;
- AUTHENTIC (no reason): everything checked agrees.

Expected outcomes are values (STYLE 7); only a malformed request raises.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from server.audit import log as audit_log
from server.common.clock import Clock, system_clock
from server.common.errors import InvalidArgument
from server.db.models import Issuance
from server.issuance.states import IssuanceState
from server.settlement.ledger import reversal_key
from server.settlement.models import LedgerEntry
from server.verify.keys import PublishedKey, published_keys
from server.verify.payload import PayloadMalformed, SealPayload
from server.verify.printed import PdfUnreadable, extract_printed_text, printed_digest
from server.verify.qr import read_qr_texts

MAX_PDF_BYTES = 8 * 1024 * 1024


class Outcome(StrEnum):
    AUTHENTIC = "authentic"
    ALTERED = "altered"
    VOIDED = "voided"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: str = ""  # machine-readable, see the table above; empty when AUTHENTIC
    payload: SealPayload | None = None
    text_checked: bool = False  # the printed text was compared with the sealed digest
    record_checked: bool = False  # the issuance records were consulted
    issuance_id: str = ""
    byte_identical: bool = False  # the PDF is the very file the center handed out


def _verdict(outcome: Outcome, reason: str, **kw: object) -> Verdict:
    return Verdict(outcome, reason, **kw)  # type: ignore[arg-type]


def check_offline(
    payload: SealPayload,
    keys: Mapping[bytes, PublishedKey],
    printed: list[list[str]] | None = None,
) -> Verdict:
    """Signature and, when the printed text is given, its digest. No database."""
    text_checked = printed is not None
    key = keys.get(payload.key_id)
    if key is None:
        return _verdict(Outcome.UNKNOWN, "KEY_UNKNOWN", payload=payload)
    if key.municipality_code != payload.municipality_code:
        return _verdict(Outcome.ALTERED, "KEY_OTHER_MUNICIPALITY", payload=payload)
    if not key.verifies(payload.signed_bytes(), payload.signature):
        return _verdict(Outcome.ALTERED, "SIGNATURE_INVALID", payload=payload)
    if printed is not None and printed_digest(printed) != payload.text_digest:
        return _verdict(Outcome.ALTERED, "TEXT_ALTERED", payload=payload, text_checked=True)
    return Verdict(Outcome.AUTHENTIC, payload=payload, text_checked=text_checked)


@dataclass(frozen=True)
class Submission:
    """What was handed in: a PDF of a copy, or the payload text of its QR code."""

    pdf: bytes = b""
    payload_text: str = ""

    def __post_init__(self) -> None:
        if bool(self.pdf) == bool(self.payload_text):
            raise InvalidArgument("give either a PDF or a payload", field="pdf")
        if len(self.pdf) > MAX_PDF_BYTES:
            raise InvalidArgument(f"a copy's PDF is at most {MAX_PDF_BYTES} bytes", field="pdf")
        if self.pdf and not self.pdf.startswith(b"%PDF-"):
            raise InvalidArgument("not a PDF (no %PDF- header)", field="pdf")


@dataclass(frozen=True)
class Reading:
    """A submission read: its payload (if any), printed text (PDFs), or why it has none."""

    payload: SealPayload | None
    printed: list[list[str]] | None
    failure: str = ""  # NO_SEAL, SEAL_UNREADABLE


def read_submission(submission: Submission) -> Reading:
    """Decode the payload, and for a PDF find its QR code and extract its printed text.

    A payload typed in that does not decode is the caller's mistake (INVALID_ARGUMENT); a PDF
    whose QR code does not decode is a finding about the copy (UNKNOWN).
    """
    if submission.payload_text:
        try:
            return Reading(SealPayload.from_text(submission.payload_text), None)
        except PayloadMalformed as exc:
            raise InvalidArgument(f"not a seal payload: {exc}", field="payload") from None
    try:
        printed = extract_printed_text(submission.pdf)
    except PdfUnreadable as exc:
        raise InvalidArgument(str(exc), field="pdf") from None
    try:
        texts = read_qr_texts(submission.pdf)
    except Exception as exc:  # PDFium refuses what pypdf tolerated: still the caller's input
        raise InvalidArgument(f"cannot render the PDF: {type(exc).__name__}", field="pdf") from None
    if not texts:
        return Reading(None, printed, "NO_SEAL")
    for text in texts:
        try:
            return Reading(SealPayload.from_text(text), printed)
        except PayloadMalformed:
            continue
    return Reading(None, printed, "SEAL_UNREADABLE")


class Verifier:
    """The online verifier: offline checks, then the issuance records; every check audited."""

    def __init__(self, engine: Engine, *, clock: Clock = system_clock) -> None:
        self._engine = engine
        self._clock = clock

    def verify(self, submission: Submission, *, actor: str) -> Verdict:
        reading = read_submission(submission)
        with Session(self._engine) as db:
            verdict = self._judge(db, submission, reading)
            payload = verdict.payload
            audit_log.append(
                db,
                event="copy.verified",
                actor=actor,
                subject=verdict.issuance_id,
                municipality_code=payload.municipality_code if payload else "",
                details={
                    "result": verdict.outcome.value,
                    "reason": verdict.reason,
                    "input": "pdf" if submission.pdf else "payload",
                },
                at=self._clock(),
            )
            db.commit()
        return verdict

    def _judge(self, db: Session, submission: Submission, reading: Reading) -> Verdict:
        payload = reading.payload
        if payload is None:
            return _verdict(Outcome.UNKNOWN, reading.failure)
        offline = check_offline(payload, published_keys(db), reading.printed)
        if offline.outcome is not Outcome.AUTHENTIC:
            return offline
        row = db.exec(select(Issuance).where(Issuance.issue_number == payload.issue_number)).first()
        seen = {"payload": payload, "text_checked": offline.text_checked, "record_checked": True}
        if row is None:
            return _verdict(Outcome.UNKNOWN, "ISSUANCE_UNKNOWN", **seen)
        seen["issuance_id"] = row.id
        if row.kind != payload.kind.value or row.municipality_code != payload.municipality_code:
            return _verdict(Outcome.ALTERED, "RECORD_MISMATCH", **seen)
        if row.state == IssuanceState.VOIDED.value:
            return _verdict(Outcome.VOIDED, "ISSUANCE_VOIDED", **seen)
        if row.state != IssuanceState.ISSUED.value:
            return _verdict(Outcome.UNKNOWN, "NOT_YET_ISSUED", **seen)
        # A correction leaves the issuance ISSUED (it happened) and reverses its charge.
        taken_back = db.exec(
            select(LedgerEntry.id).where(LedgerEntry.entry_key == reversal_key(row.id))
        ).first()
        if taken_back is not None:
            return _verdict(Outcome.VOIDED, "COPY_TAKEN_BACK", **seen)
        identical = (
            bool(submission.pdf) and row.pdf_sha256 == hashlib.sha256(submission.pdf).digest()
        )
        return Verdict(Outcome.AUTHENTIC, byte_identical=identical, **seen)  # type: ignore[arg-type]
