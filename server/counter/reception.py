"""Counter copies (らくらく窓口): the reception number, the 受付票, and the clerk's hand-over rules.

The flow at the town hall (the J-LIS deck's three steps): the resident operates the terminal and
takes the 受付票 it prints; the certificate comes out of the printer behind the counter; the
clerk hands it over in exchange for the 受付票 and the fee. Here: the copy's print report moves
it to AWAITING_HANDOVER and opens a reception (`open_reception`) with a number unique per
municipality and day; the 受付票 shows that number, what was requested and what is owed —
nothing about the person, who is identified at the counter by the slip itself. The clerk's
hand-over (`server.counter.desk`) moves it to ISSUED, which is when the fee is posted; a copy
nobody collects by `collect_by` is voided by the sweeper at no charge (and shredded).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlmodel import Session, select

from server.common.clock import JST
from server.common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from server.counter.models import CounterReception
from server.db.models import Municipality
from server.issuance.documents import CertificateKind

if TYPE_CHECKING:  # what they read of the copy: an `Issuance`, or its row's columns
    from server.settlement.ledger import LedgerCopy

RECEPTION_NUMBER = re.compile(r"\d{8}-\d{4}")
# Sequence name of reception numbers in the per-day issue sequences: not a valid kiosk id, so it
# can never share a counter with a terminal.
RECEPTION_SEQUENCE = "#reception"


class CounterOtherMunicipality(PermissionDenied):
    """A counter terminal issues only what its own municipality certifies: the clerk takes that
    municipality's fee under its own ordinance, and there is no operator to remit another's."""

    reason = "COUNTER_OTHER_MUNICIPALITY"


class ReceptionNotFound(NotFound):
    reason = "RECEPTION_NOT_FOUND"


class AlreadyHandedOver(FailedPrecondition):
    reason = "ALREADY_HANDED_OVER"


class ReceptionVoided(FailedPrecondition):
    reason = "RECEPTION_VOIDED"


class SuppressedSincePrinted(FailedPrecondition):
    """交付抑止 was set for a person on the copy after it printed: the clerk must not hand it
    over (staff may be told why; a kiosk never is)."""

    reason = "SUPPRESSED_SINCE_PRINTED"


def reception_number(day: date, sequence: int) -> str:
    """20261126-0007: the date (Japan time) and the day's running number in the municipality."""
    if not 1 <= sequence <= 9999:
        raise FailedPrecondition("the day's reception numbers are used up")
    return f"{day:%Y%m%d}-{sequence:04d}"


def check_reception_number(text: str) -> str:
    value = text.strip()
    if not RECEPTION_NUMBER.fullmatch(value):
        raise InvalidArgument(
            "a reception number looks like 20261126-0007", field="reception_number"
        )
    return value


@dataclass(frozen=True)
class ReceptionSlip:
    """What the 受付票 says: no name, no address, no issue number — only what the resident needs
    at the counter."""

    reception_number: str
    municipality_name: str
    certificate_title: str
    copies: int
    pages: int
    fee_yen: int  # to pay at the counter
    printed_at: datetime
    collect_by: datetime
    terminal_id: str

    def lines(self) -> tuple[str, ...]:
        at = self.printed_at.astimezone(JST)
        until = self.collect_by.astimezone(JST)
        return (
            f"{self.municipality_name}　らくらく窓口",
            f"受付日時　{at:%Y年%m月%d日 %H時%M分}",
            f"証明書　　{self.certificate_title}",
            f"通数　　　{self.copies}通（{self.pages}枚）",
            f"手数料　　{self.fee_yen:,}円（窓口でお支払いください）",
            f"受取期限　{until:%Y年%m月%d日 %H時%M分}",
            f"端末　　　{self.terminal_id}",
        )


def open_reception(
    db: Session, row: LedgerCopy, *, sequence: int, now: datetime, collect_within: timedelta
) -> CounterReception:
    """The reception of a counter copy that just printed at the counter (caller's transaction)."""
    reception = CounterReception(
        issuance_id=row.id,
        municipality_code=row.municipality_code,
        reception_number=reception_number(now.astimezone(JST).date(), sequence),
        terminal_id=row.kiosk_id,
        printed_at=now,
        collect_by=now + collect_within,
    )
    db.add(reception)
    return reception


def reception_of(db: Session, issuance_id: str) -> CounterReception | None:
    return db.get(CounterReception, issuance_id)


def find_reception(db: Session, municipality_code: str, number: str) -> CounterReception:
    """The reception `number` of `municipality_code`; another municipality's is refused."""
    rows = db.exec(
        select(CounterReception).where(CounterReception.reception_number == number)
    ).all()
    own = [r for r in rows if r.municipality_code == municipality_code]
    if own:
        return own[0]
    if rows:
        raise CounterOtherMunicipality("this reception belongs to another municipality's counter")
    raise ReceptionNotFound(f"no reception {number} at this municipality's counter")


def slip_for(db: Session, reception: CounterReception, row: LedgerCopy) -> ReceptionSlip:
    muni = db.get(Municipality, reception.municipality_code)
    assert muni is not None  # foreign key
    return ReceptionSlip(
        reception_number=reception.reception_number,
        municipality_name=muni.full_name(),
        certificate_title=CertificateKind(row.kind).printed_title,
        copies=1,
        pages=row.page_count or 1,
        fee_yen=row.fee_yen,
        printed_at=reception.printed_at,
        collect_by=reception.collect_by,
        terminal_id=reception.terminal_id,
    )
