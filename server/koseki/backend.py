"""The 戸籍 server a municipality declares, as the center uses it (SPEC section 3).

戸籍証明書 and 戸籍の附票の写し are produced only for a municipality that declares a 戸籍 server
(`Municipality.koseki_server`). The center reads that server through `KosekiBackend`; the one
implementation here, `BclKosekiTables`, reads the 戸籍, their 事項 and 附票 a municipality
uploaded to BCL (`bcl_koseki_members`, `bcl_koseki_events`, `bcl_fuhyo_entries`). A real
separate server is plugged in by registering a backend under the name municipalities declare
for it (`KosekiServers`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, or_, select

from server.bcl.models import BclFuhyoEntry, BclKosekiEvent, BclKosekiMember
from server.bcl.records import Sex
from server.bcl.registers import (
    FuhyoEntryRecord,
    KosekiEventKind,
    KosekiEventRecord,
    KosekiMemberRecord,
)
from server.koseki.records import Koseki, MemberRef


@dataclass(frozen=True)
class Probe:
    """What a 本籍地 利用登録 request says about the person (from their 住民票)."""

    family_name: str
    given_name: str
    family_name_kana: str
    given_name_kana: str
    birth_date: date


class KosekiBackend(Protocol):
    """What the center asks of a municipality's 戸籍 server."""

    def member_of_resident(self, municipality_code: str, resident_id: str) -> MemberRef | None:
        """The current 戸籍 membership of a person who lives in the 本籍地 (by 宛名番号)."""
        ...

    def koseki(self, municipality_code: str, koseki_id: str) -> Koseki | None:
        """The whole 戸籍 with its 附票, or None if the server has no such 戸籍."""
        ...

    def candidates(
        self, municipality_code: str, probe: Probe, *, limit: int
    ) -> Sequence[KosekiMemberRecord]:
        """Current members who share the birth date, the name or its reading with `probe`.

        A coarse net for `server.koseki.matching`, which ranks what it catches."""
        ...


class KosekiServers:
    """The backend answering for each 戸籍 server a municipality may declare.

    Every declaration is served by `default` (the BCL tables) unless a backend is registered
    under that name; an empty declaration means the municipality has no 戸籍 server.
    """

    def __init__(
        self, default: KosekiBackend, named: Mapping[str, KosekiBackend] | None = None
    ) -> None:
        self._default = default
        self._named = dict(named or {})

    @classmethod
    def of_bcl(cls, engine: Engine) -> KosekiServers:
        return cls(BclKosekiTables(engine))

    def backend_for(self, declared: str) -> KosekiBackend | None:
        if not declared:
            return None
        return self._named.get(declared, self._default)


class BclKosekiTables:
    """`KosekiBackend` over the 戸籍 and 附票 a municipality uploaded to BCL."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def member_of_resident(self, municipality_code: str, resident_id: str) -> MemberRef | None:
        if not resident_id:
            return None
        with Session(self._engine) as db:
            row = db.exec(
                select(BclKosekiMember)
                .where(BclKosekiMember.municipality_code == municipality_code)
                .where(BclKosekiMember.resident_id == resident_id)
                .where(BclKosekiMember.removed_reason == "")
                .order_by(col(BclKosekiMember.koseki_id))
            ).first()
        return None if row is None else MemberRef(municipality_code, row.koseki_id, row.member_no)

    def koseki(self, municipality_code: str, koseki_id: str) -> Koseki | None:
        with Session(self._engine) as db:
            members = db.exec(
                select(BclKosekiMember)
                .where(BclKosekiMember.municipality_code == municipality_code)
                .where(BclKosekiMember.koseki_id == koseki_id)
                .order_by(col(BclKosekiMember.member_no))
            ).all()
            if not members:
                return None
            entries = db.exec(
                select(BclFuhyoEntry)
                .where(BclFuhyoEntry.municipality_code == municipality_code)
                .where(BclFuhyoEntry.koseki_id == koseki_id)
                .order_by(col(BclFuhyoEntry.member_no), col(BclFuhyoEntry.entry_no))
            ).all()
            events = db.exec(
                select(BclKosekiEvent)
                .where(BclKosekiEvent.municipality_code == municipality_code)
                .where(BclKosekiEvent.koseki_id == koseki_id)
                .order_by(col(BclKosekiEvent.member_no), col(BclKosekiEvent.event_no))
            ).all()
        first = members[0]
        return Koseki(
            municipality_code=municipality_code,
            koseki_id=koseki_id,
            honseki=first.honseki,
            hittousha=first.hittousha,
            members=tuple(member_record(m) for m in members),
            fuhyo=tuple(
                FuhyoEntryRecord(e.koseki_id, e.member_no, e.entry_no, e.address, e.address_set_on)
                for e in entries
            ),
            events=tuple(event_record(e) for e in events),
        )

    def candidates(
        self, municipality_code: str, probe: Probe, *, limit: int
    ) -> Sequence[KosekiMemberRecord]:
        m = BclKosekiMember
        same_reading = (col(m.family_name_kana) == probe.family_name_kana) & (
            col(m.given_name_kana) == probe.given_name_kana
        )
        with Session(self._engine) as db:
            rows = db.exec(
                select(m)
                .where(m.municipality_code == municipality_code)
                .where(m.removed_reason == "")
                .where(
                    or_(
                        col(m.birth_date) == probe.birth_date,
                        (col(m.family_name) == probe.family_name)
                        & (col(m.given_name) == probe.given_name),
                        same_reading if probe.family_name_kana else sa.false(),
                    )
                )
                .order_by(col(m.koseki_id), col(m.member_no))
                .limit(limit)
            ).all()
        return [member_record(r) for r in rows]


def member_record(row: BclKosekiMember) -> KosekiMemberRecord:
    return KosekiMemberRecord(
        koseki_id=row.koseki_id,
        honseki=row.honseki,
        hittousha=row.hittousha,
        member_no=row.member_no,
        family_name=row.family_name,
        given_name=row.given_name,
        birth_date=row.birth_date,
        sex=Sex(row.sex),
        relationship=row.relationship,
        resident_id=row.resident_id,
        family_name_kana=row.family_name_kana,
        given_name_kana=row.given_name_kana,
        father_name=row.father_name,
        mother_name=row.mother_name,
        events=row.events,
        removed_reason=row.removed_reason,
    )


def event_record(row: BclKosekiEvent) -> KosekiEventRecord:
    return KosekiEventRecord(
        koseki_id=row.koseki_id,
        member_no=row.member_no,
        event_no=row.event_no,
        kind=KosekiEventKind(row.kind),
        event_date=row.event_date,
        notified_on=row.notified_on,
        notifier=row.notifier,
        place=row.place,
        partner_name=row.partner_name,
        adoptive_father=row.adoptive_father,
        adoptive_mother=row.adoptive_mother,
        detail=row.detail,
        from_koseki=row.from_koseki,
        to_koseki=row.to_koseki,
    )
