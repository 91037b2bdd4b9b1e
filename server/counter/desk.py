"""The clerk's side of a counter copy (らくらく窓口): hand it over and take the fee, or list what
is waiting. Staff act only on their own municipality's counter.

Hand-over is where a counter copy is charged: AWAITING_HANDOVER → ISSUED, with the settlement
entry in the same transaction (channel "counter": fee to the municipality, no commission). It
happens once: a second hand-over of the same reception is refused with ALREADY_HANDED_OVER and
charges nothing, also when two clerks try at the same moment (the first to claim the reception
row gets it). A reception past its collection deadline is voided, not handed over; so is a copy
of a person put under 交付抑止 since it printed (suppression stops issuance at once, at the
counter too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select, update

from server.common.clock import Clock
from server.counter.models import CounterReception
from server.counter.reception import (
    AlreadyHandedOver,
    ReceptionVoided,
    SuppressedSincePrinted,
    check_reception_number,
    find_reception,
)
from server.db.models import Issuance, Resident
from server.issuance.documents import CertificateKind
from server.issuance.service import apply_event, locked_issuance
from server.issuance.states import IssuanceEvent, IssuanceState
from server.municipal.policy import residents_with_suppression


@dataclass(frozen=True)
class CounterCopy:
    """A counter copy as the clerk sees it."""

    reception_number: str
    state: IssuanceState
    kind: CertificateKind
    fee_yen: int  # to collect while waiting; collected once handed over
    pages: int
    issue_number: str
    terminal_id: str
    printed_at: datetime
    collect_by: datetime
    handed_over_at: datetime | None
    handed_over_by: str | None


def _view(reception: CounterReception, row: Issuance) -> CounterCopy:
    return CounterCopy(
        reception_number=reception.reception_number,
        state=IssuanceState(row.state),
        kind=CertificateKind(row.kind),
        fee_yen=row.fee_yen,
        pages=row.page_count or 1,
        issue_number=row.issue_number or "",
        terminal_id=reception.terminal_id,
        printed_at=reception.printed_at,
        collect_by=reception.collect_by,
        handed_over_at=reception.handed_over_at,
        handed_over_by=reception.handed_over_by,
    )


class CounterDesk:
    def __init__(self, engine: Engine, *, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def hand_over(self, municipality_code: str, staff_id: str, number: str) -> CounterCopy:
        """The clerk took the 受付票 `number` and the fee: the copy is issued and charged."""
        number = check_reception_number(number)
        now = self._clock()
        with Session(self._engine) as db:
            # Claim the reception first, in one statement: of two clerks at the same moment
            # exactly one gets it (a row lock on PostgreSQL, the write lock on SQLite).
            claim = (
                update(CounterReception)
                .where(col(CounterReception.municipality_code) == municipality_code)
                .where(col(CounterReception.reception_number) == number)
                .where(col(CounterReception.handed_over_at).is_(None))
                .values(handed_over_at=now, handed_over_by=staff_id)
            )
            claimed = db.exec(claim).rowcount == 1
            reception = find_reception(db, municipality_code, number)
            # Locked as it is now: the expiry sweeper may be voiding it at this very moment.
            row = locked_issuance(db, reception.issuance_id)
            assert row is not None  # foreign key
            state = IssuanceState(row.state)
            if state is IssuanceState.VOIDED:  # asked again: say why it was voided
                raise _withheld(number) if row.void_reason == "suppressed" else _voided(number)
            if not claimed or state is IssuanceState.ISSUED:
                raise _already(reception)
            refusal = self._refusal(db, row, reception, now)
            if refusal is not None:  # void it now: the copy is to be shredded, no fee
                event, error = refusal
                reception.handed_over_at = reception.handed_over_by = None
                db.add(reception)
                reason = "suppressed" if event is IssuanceEvent.WITHHOLD else "not collected"
                apply_event(db, row, event, now, reason, actor=staff_id)
                db.commit()
                raise error
            apply_event(db, row, IssuanceEvent.HAND_OVER, now, "handed over", actor=staff_id)
            db.commit()
            db.refresh(row)
            db.refresh(reception)
            return _view(reception, row)

    @staticmethod
    def _refusal(
        db: Session, row: Issuance, reception: CounterReception, now: datetime
    ) -> tuple[IssuanceEvent, Exception] | None:
        """Why a waiting copy may not be handed over after all: too late (the sweeper has not
        come by yet), or 交付抑止 set for a person on it since it printed."""
        number = reception.reception_number
        if now >= reception.collect_by:
            return IssuanceEvent.EXPIRE, _voided(number)
        # The persons on it with their 交付抑止, read live in one statement (not two each).
        pks = {int(pk) for pk in row.subject_pks.split(",")}
        if any(blocked for _, blocked in residents_with_suppression(db, col(Resident.id).in_(pks))):
            return IssuanceEvent.WITHHOLD, _withheld(number)
        return None

    def waiting(self, municipality_code: str) -> list[CounterCopy]:
        """Copies printed at this municipality's counter and not yet handed over, oldest first."""
        with Session(self._engine) as db:
            found: Sequence[tuple[CounterReception, Issuance]] = db.exec(
                select(CounterReception, Issuance)
                .join(Issuance, col(Issuance.id) == col(CounterReception.issuance_id))
                .where(CounterReception.municipality_code == municipality_code)
                .where(col(Issuance.state) == IssuanceState.AWAITING_HANDOVER.value)
                .order_by(col(CounterReception.printed_at))
            ).all()
            return [_view(r, i) for r, i in found]


def _already(reception: CounterReception) -> AlreadyHandedOver:
    when = reception.handed_over_at.isoformat() if reception.handed_over_at else ""
    return AlreadyHandedOver(
        f"reception {reception.reception_number} was already handed over; nothing is charged again",
        metadata={"reception_number": reception.reception_number, "handed_over_at": when},
    )


def _withheld(number: str) -> SuppressedSincePrinted:
    return SuppressedSincePrinted(
        f"交付抑止 was set for a person on reception {number} after it printed:"
        " do not hand it over; the copy is void (no fee) and is to be shredded",
        metadata={"reception_number": number},
    )


def _voided(number: str) -> ReceptionVoided:
    return ReceptionVoided(
        f"reception {number} was not collected in time and is void (no fee);"
        " the printed copy is to be shredded and the resident may request it again",
        metadata={"reception_number": number},
    )
