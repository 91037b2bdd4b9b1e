"""Synthetic settlement data: municipalities, operators, kiosks and issued copies.

Shared by the settlement benchmark (`bench/settlement.py`, 120,000 copies of a large city in
one month, inserted in bulk) and the ledger tests (a few copies, posted one by one through the
same hook the issuance desk calls). Both build journal entries with the ledger's own
`copy_issued_draft`, so the bulk path cannot drift from the real one.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from server.bcl.records import IssuingBackend, municipality_check_digit
from server.bcl.store import load_municipality
from server.bcl.synthetic import build_profile, iter_residents
from server.db.models import Issuance, Kiosk, Operator
from server.issuance.states import IssuanceState
from server.settlement.counter_hours import DEFAULT_COUNTER_HOURS
from server.settlement.fees import charges_for_copy
from server.settlement.ledger import (
    CopyFacts,
    EntryDraft,
    copy_issued_draft,
    post_issued_copy,
    record_voided_copy,
)
from server.settlement.periods import Month

OPERATORS = (
    ("seven", "セブン-イレブン"),
    ("lawson", "ローソン"),
    ("famima", "ファミリーマート"),
    ("ministop", "ミニストップ"),
)
KINDS = ("juminhyo", "inkan")


def code_with_check_digit(first_five: str) -> str:
    return f"{first_five}{municipality_check_digit(first_five)}"


@dataclass(frozen=True)
class Place:
    code: str
    kiosk_ids: tuple[str, ...]  # one kiosk per operator, standing in this municipality
    requester_pk: int  # a resident to hang issuances on (the ledger never looks at people)
    fees: dict[str, int]


def add_operators(db: Session) -> None:
    for op_id, name in OPERATORS:
        if db.get(Operator, op_id) is None:
            db.add(Operator(operator_id=op_id, name=name))
    db.flush()


def add_municipality(
    db: Session,
    *,
    first_five: str,
    name: str,
    prefecture: str = "神奈川県",
    population: int,
    backend: IssuingBackend = IssuingBackend.BCL,
    joined_on: date = date(2017, 4, 1),
    designated_city: bool = False,
    fees: dict[str, int] | None = None,
) -> Place:
    """A municipality with offerings, one resident and a kiosk of every operator."""
    code = code_with_check_digit(first_five)
    profile = build_profile(
        seed=1,
        population=population,
        code=code,
        prefecture=prefecture,
        name=name,
        backend=backend,
        joined_on=joined_on,
        fees=fees or {"juminhyo": 300, "inkan": 300},
        designated_city=designated_city,
    )
    household = next(
        iter_residents(seed=1, households=1, code=code, prefecture=prefecture, name=name)
    )
    pks = load_municipality(db, profile, household.members[:1], ())
    add_operators(db)
    kiosks = []
    for op_id, op_name in OPERATORS:
        kiosk_id = f"K{code}{op_id[:2].upper()}"
        db.add(
            Kiosk(
                kiosk_id=kiosk_id,
                operator_id=op_id,
                store_name=f"{op_name} {name}店",
                municipality_code=code,
            )
        )
        kiosks.append(kiosk_id)
    db.flush()
    return Place(code, tuple(kiosks), next(iter(pks.values())), dict(profile.fees))


@dataclass(frozen=True)
class CopySpec:
    """One copy to be issued: where it is printed, what, when."""

    place: Place
    kiosk_place: Place  # where the kiosk stands (他市区町村 when it differs)
    operator_index: int
    kind: str
    at: datetime


def _issuance(spec: CopySpec, *, state: IssuanceState, seq: int) -> Issuance:
    op_id = OPERATORS[spec.operator_index][0]
    kiosk_id = spec.kiosk_place.kiosk_ids[spec.operator_index]
    issuance_id = str(uuid.UUID(int=random.Random(f"{spec.place.code}:{seq}").getrandbits(128)))
    return Issuance(
        id=issuance_id,
        state=state.value,
        kind=spec.kind,
        requester_pk=spec.place.requester_pk,
        subject_pks=str(spec.place.requester_pk),
        municipality_code=spec.place.code,
        kiosk_id=kiosk_id,
        operator_id=op_id,
        kiosk_municipality_code=spec.kiosk_place.code,
        session_token_sha256="0" * 64,
        fee_yen=spec.place.fees[spec.kind],
        reserved_at=spec.at - timedelta(minutes=3),
        expires_at=spec.at + timedelta(minutes=7),
        idempotency_key=f"bench-{issuance_id}",
        printer_id="P1",
        issue_number=f"{spec.place.code}-{seq:09d}",
        printing_started_at=spec.at - timedelta(minutes=1),
        page_count=1,
        finished_at=spec.at,
    )


def issue_copy(db: Session, spec: CopySpec, seq: int) -> Issuance:
    """Issue one copy the way the issuance desk does: ISSUED, then the ledger hook."""
    row = _issuance(spec, state=IssuanceState.ISSUED, seq=seq)
    db.add(row)
    db.flush()
    post_issued_copy(db, row, spec.at)
    return row


def void_copy(db: Session, spec: CopySpec, seq: int, *, from_state: IssuanceState) -> Issuance:
    """A copy that never printed: VOIDED, then the void-log hook."""
    row = _issuance(spec, state=IssuanceState.VOIDED, seq=seq)
    row.void_reason = "print_failed"
    if from_state is IssuanceState.RESERVED:
        row.issue_number = None
        row.idempotency_key = None
    db.add(row)
    db.flush()
    record_voided_copy(db, row, spec.at, from_state=from_state.value)
    return row


def month_of_copies(
    place: Place,
    month: Month,
    copies: int,
    *,
    seed: int,
    elsewhere: Sequence[Place] = (),
    other_share: float = 0.2,
) -> Iterator[CopySpec]:
    """`copies` copies spread over the month: kiosk hours 6:30–23:00, a fifth elsewhere."""
    rng = random.Random(f"settlement-bench:{seed}:{place.code}:{month}")
    start = month.start()
    days = (month.end() - start).days
    weights = (0.45, 0.35, 0.15, 0.05)
    for _ in range(copies):
        day = rng.randrange(days)
        minute = rng.randrange(390, 1380)  # 6:30 to 23:00 JST
        at = start + timedelta(days=day, minutes=minute, seconds=rng.randrange(60))
        kiosk_place = rng.choice(elsewhere) if elsewhere and rng.random() < other_share else place
        yield CopySpec(
            place=place,
            kiosk_place=kiosk_place,
            operator_index=rng.choices(range(len(OPERATORS)), weights)[0],
            kind=rng.choices(KINDS, (0.6, 0.4))[0],
            at=at,
        )


def bulk_issue(
    engine: Engine, specs: Sequence[CopySpec], *, first_seq: int = 1, chunk: int = 20_000
) -> int:
    """Insert issued copies straight into the tables (issuances, register, journal), in bulk.

    Counter hours are the default ones (no municipality of the bench sets its own). Months
    are taken as open: the bench loads a month before closing it."""
    entries_table = _table("ledger_entries")
    with engine.begin() as conn:
        months = {str(Month.of(s.at)) for s in specs}
        have = set(conn.execute(sa.select(_table("ledger_periods").c.month)).scalars())
        for m in sorted(months - have):
            conn.execute(sa.insert(_table("ledger_periods")), {"month": m})
    written = 0
    for offset in range(0, len(specs), chunk):
        issuances: list[dict[str, Any]] = []
        register: list[dict[str, Any]] = []
        drafts: list[EntryDraft] = []
        for i, spec in enumerate(specs[offset : offset + chunk], start=offset):
            row = _issuance(spec, state=IssuanceState.ISSUED, seq=first_seq + i)
            issuances.append(row.model_dump())
            backend = IssuingBackend.BCL  # the bench's municipalities are BCL-backed
            charges = charges_for_copy(fee_yen=row.fee_yen, backend=backend)
            register.append(
                {
                    "issuance_id": row.id,
                    "issue_number": row.issue_number,
                    "municipality_code": row.municipality_code,
                    "month": str(Month.of(spec.at)),
                    "kind": row.kind,
                    "issued_at": spec.at,
                    "kiosk_id": row.kiosk_id,
                    "operator_id": row.operator_id,
                    "kiosk_municipality_code": row.kiosk_municipality_code,
                    "fee_yen": charges.fee_yen,
                    "commission_yen": charges.commission_yen,
                    "bcl_fee_yen": charges.bcl_fee_yen,
                    "sheets": 1,
                }
            )
            draft = copy_issued_draft(
                CopyFacts(
                    issuance_id=row.id,
                    municipality_code=row.municipality_code,
                    operator_id=row.operator_id,
                    kiosk_id=row.kiosk_id,
                    kiosk_municipality_code=row.kiosk_municipality_code,
                    certificate_kind=row.kind,
                    issued_at=spec.at,
                    fee_yen=row.fee_yen,
                    backend=backend,
                ),
                month=Month.of(spec.at),
                hours=DEFAULT_COUNTER_HOURS,
            )
            drafts.append(draft)
        with engine.begin() as conn:
            conn.execute(sa.insert(_table("issuances")), issuances)
            conn.execute(sa.insert(_table("settlement_entries")), register)
            # The database numbers the entries (its sequence stays right on PostgreSQL);
            # RETURNING in parameter order ties each number back to its draft.
            ids = conn.execute(
                sa.insert(entries_table).returning(
                    entries_table.c.id, sort_by_parameter_order=True
                ),
                [d.entry_row(posted_at=d.occurred_at) for d in drafts],
            ).scalars()
            lines = [line for d, i in zip(drafts, ids, strict=True) for line in d.line_rows(i)]
            conn.execute(sa.insert(_table("ledger_lines")), lines)
        written += len(issuances)
    return written


def _table(name: str) -> sa.Table:
    return SQLModel.metadata.tables[name]


def jst_now_after(month: Month) -> datetime:
    """A moment just after `month` ended: when its close runs."""
    return month.end() + timedelta(hours=9)
