"""Reading a municipality's rules from the database for the issuance desk and the portal."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement, bindparam
from sqlmodel import Session, and_, col, or_, select

from server.db.engine import among_bound, bound_values
from server.db.models import Offering, Resident
from server.municipal.models import CertificateHoursRow, IssuanceSuppression, ServiceSuspension
from server.municipal.rules import (
    Availability,
    DailyHours,
    SuspensionSpan,
    kind_availability,
)


def offerings_of(
    db: Session, municipality_code: str, *, enabled_only: bool = False
) -> list[Offering]:
    """The certificates a municipality offers at kiosks (with their fees), by kind."""
    query = select(Offering).where(Offering.municipality_code == municipality_code)
    if enabled_only:
        query = query.where(col(Offering.enabled).is_(True))
    return list(db.exec(query.order_by(col(Offering.kind))).all())


def active_suspensions(db: Session, municipality_code: str, now: datetime) -> list[SuspensionSpan]:
    rows = db.exec(
        select(ServiceSuspension)
        .where(ServiceSuspension.municipality_code == municipality_code)
        .where(col(ServiceSuspension.cancelled).is_(False))
        .where(col(ServiceSuspension.ends_at) > now)
        .where(col(ServiceSuspension.starts_at) <= now)
    ).all()
    return [SuspensionSpan(r.kind, r.starts_at, r.ends_at, r.reason) for r in rows]


def certificate_hours(db: Session, municipality_code: str) -> dict[str, DailyHours]:
    rows = db.exec(
        select(CertificateHoursRow).where(
            CertificateHoursRow.municipality_code == municipality_code
        )
    ).all()
    return {
        r.kind: DailyHours.parse(f"{r.opens}-{r.closes}", weekdays_only=r.weekdays_only)
        for r in rows
    }


def availability_of(
    db: Session, municipality_code: str, kinds: list[str], now: datetime, kiosk_hours: DailyHours
) -> dict[str, Availability]:
    spans = active_suspensions(db, municipality_code, now)
    hours = certificate_hours(db, municipality_code)
    return {
        kind: kind_availability(
            now, kind, kiosk_hours=kiosk_hours, suspensions=spans, certificate_hours=hours.get(kind)
        )
        for kind in kinds
    }


def is_suppressed(db: Session, resident: Resident) -> bool:
    """交付抑止: the uploaded flag, or a staff suppression of the person or the household."""
    if resident.suppressed:
        return True
    hit = db.exec(
        select(IssuanceSuppression.id)
        .where(IssuanceSuppression.municipality_code == resident.municipality_code)
        .where(col(IssuanceSuppression.lifted_at).is_(None))
        .where(
            or_(
                col(IssuanceSuppression.resident_id) == resident.resident_id,
                col(IssuanceSuppression.household_id) == resident.household_id,
            )
        )
        .limit(1)
    ).first()
    return hit is not None


def suppressed_among(db: Session, residents: Iterable[Resident | sa.Row[Any]]) -> set[int]:
    """The primary keys of those of `residents` that `is_suppressed` says are, in one query
    (residents, or rows of the residents table's columns)."""
    people = list(residents)
    hit = {r.id for r in people if r.suppressed and r.id is not None}
    rest = [r for r in people if not r.suppressed]
    if not rest:
        return hit
    rows = db.exec(
        select(
            IssuanceSuppression.municipality_code,
            IssuanceSuppression.resident_id,
            IssuanceSuppression.household_id,
        )
        .where(col(IssuanceSuppression.municipality_code).in_({r.municipality_code for r in rest}))
        .where(col(IssuanceSuppression.lifted_at).is_(None))
        .where(
            or_(
                col(IssuanceSuppression.resident_id).in_({r.resident_id for r in rest}),
                col(IssuanceSuppression.household_id).in_({r.household_id for r in rest}),
            )
        )
    ).all()
    people_hit = {(code, rid) for code, rid, _ in rows if rid is not None}
    households_hit = {(code, hid) for code, _, hid in rows if hid is not None}
    for r in rest:
        if (r.municipality_code, r.resident_id) in people_hit or (
            r.municipality_code,
            r.household_id,
        ) in households_hit:
            assert r.id is not None
            hit.add(r.id)
    return hit


@cache
def suppressed_flag() -> ColumnElement[bool]:
    """`is_suppressed` as a column of a query over `Resident`: the flag or a live staff
    suppression of the person or the household, read with the rest of the row. Built once:
    it has no values of its own (the expression is immutable and shared by every query)."""
    staff = (
        select(IssuanceSuppression.id)
        .where(col(IssuanceSuppression.municipality_code) == col(Resident.municipality_code))
        .where(col(IssuanceSuppression.lifted_at).is_(None))
        .where(
            or_(
                col(IssuanceSuppression.resident_id) == col(Resident.resident_id),
                col(IssuanceSuppression.household_id) == col(Resident.household_id),
            )
        )
        .correlate(Resident)
        .exists()
    )
    return or_(col(Resident.suppressed).is_(True), staff)


def residents_with_suppression(
    db: Session, *criteria: ColumnElement[bool]
) -> list[tuple[Resident, bool]]:
    """The residents `criteria` select, each with what `is_suppressed` says, in one query."""
    rows = db.exec(select(Resident, suppressed_flag()).where(*criteria)).all()
    return [(r, bool(flag)) for r, flag in rows]


@dataclass(frozen=True)
class OfferedKind:
    """An enabled offering as `offered_with_availability` reads it: who offers which kind,
    for what fee."""

    municipality_code: str
    kind: str
    fee_yen: int


@cache
def _offered_query(by_kind: bool, one: bool) -> sa.Select[*tuple[Any, ...]]:
    """`offered_with_availability`'s statement, built once: the values are bound (`codes`, one
    value with `one`: `among_bound`; `now`, and with `by_kind` the `kind`). The columns it needs,
    not ORM objects: the offering's (`OfferedKind`), its certificate hours' (`h_opens` NULL:
    none) and those of one covering suspension per row (`s_id` NULL: none)."""
    now: Any = bindparam("now")  # typed by the columns it is compared with
    covering = and_(
        col(ServiceSuspension.municipality_code) == col(Offering.municipality_code),
        or_(col(ServiceSuspension.kind) == col(Offering.kind), col(ServiceSuspension.kind) == ""),
        col(ServiceSuspension.cancelled).is_(False),
        col(ServiceSuspension.ends_at) > now,
        col(ServiceSuspension.starts_at) <= now,
    )
    query: sa.Select[*tuple[Any, ...]] = (
        sa.select(
            col(Offering.municipality_code),
            col(Offering.kind),
            col(Offering.fee_yen),
            col(CertificateHoursRow.opens).label("h_opens"),
            col(CertificateHoursRow.closes).label("h_closes"),
            col(CertificateHoursRow.weekdays_only).label("h_weekdays_only"),
            col(ServiceSuspension.id).label("s_id"),
            col(ServiceSuspension.kind).label("s_kind"),
            col(ServiceSuspension.starts_at).label("s_starts_at"),
            col(ServiceSuspension.ends_at).label("s_ends_at"),
            col(ServiceSuspension.reason).label("s_reason"),
        )
        .outerjoin(
            CertificateHoursRow,
            and_(
                col(CertificateHoursRow.municipality_code) == col(Offering.municipality_code),
                col(CertificateHoursRow.kind) == col(Offering.kind),
            ),
        )
        .outerjoin(ServiceSuspension, covering)
        # Mostly one municipality (a reservation's, a menu of where one lives).
        .where(among_bound(col(Offering.municipality_code), "codes", one=one))
        .where(col(Offering.enabled).is_(True))
        .order_by(col(Offering.municipality_code), col(Offering.kind), col(ServiceSuspension.id))
    )
    if by_kind:
        query = query.where(col(Offering.kind) == bindparam("kind"))
    return query


def offered_with_availability(
    db: Session,
    municipality_codes: Iterable[str],
    now: datetime,
    kiosk_hours: DailyHours,
    *,
    kind: str | None = None,
) -> list[tuple[OfferedKind, Availability]]:
    """The enabled offerings of the municipalities (one kind, or all), by municipality and kind,
    each with `availability_of` it: offerings, certificate hours and the suspensions covering
    them in one query instead of three."""
    codes = sorted(set(municipality_codes))
    params = {"codes": bound_values(codes), "now": now, "kind": kind}
    query = _offered_query(kind is not None, len(codes) == 1)
    found: dict[tuple[str, str], tuple[OfferedKind, DailyHours | None]] = {}
    spans: dict[tuple[str, str], list[SuspensionSpan]] = {}
    for row in db.connection().execute(query, params):
        key = (row.municipality_code, row.kind)
        if key not in found:
            hours = (
                DailyHours.parse(f"{row.h_opens}-{row.h_closes}", weekdays_only=row.h_weekdays_only)
                if row.h_opens is not None
                else None
            )
            found[key] = (OfferedKind(row.municipality_code, row.kind, row.fee_yen), hours)
        if row.s_id is not None:
            spans.setdefault(key, []).append(
                SuspensionSpan(row.s_kind, row.s_starts_at, row.s_ends_at, row.s_reason)
            )
    out = []
    for key, (offer, hours) in found.items():
        rule = kind_availability(
            now,
            offer.kind,
            kiosk_hours=kiosk_hours,
            suspensions=spans.get(key, ()),
            certificate_hours=hours,
        )
        out.append((offer, rule))
    return out
