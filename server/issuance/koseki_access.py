"""Which 戸籍 a resident may obtain at a kiosk, and from which municipality's 戸籍 server.

Two ways lead to a resident's current 戸籍 (SPEC section 3): where they live keeps it too (本籍地
= 住所地), found by their 宛名番号 in that municipality's 戸籍 server; or the 本籍地 is another
municipality whose staff approved the resident's 利用登録 (`server.koseki.registration`). Either
way the municipality must have declared a 戸籍 server, and the resident must still be a member
of the 戸籍 (one who left it, or a closed 戸籍, is never issued at a kiosk).

The lookup is in two steps so that no database transaction is held while a 戸籍 server is
asked (it may be a remote server; on SQLite a nested transaction would also wait on the outer
one): `plan_lookup` reads what the center knows in the caller's session, `resolve` asks the
servers afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session

from server.db.models import Municipality, Resident
from server.koseki.backend import KosekiServers
from server.koseki.models import HonsekiRegistration
from server.koseki.records import Koseki
from server.koseki.registration import RegistrationState


@dataclass(frozen=True)
class KosekiSource:
    """A municipality with a declared 戸籍 server."""

    municipality_code: str
    municipality_name: str  # 都道府県 + 市区町村
    declared: str  # Municipality.koseki_server


@dataclass(frozen=True)
class ApprovedLink:
    source: KosekiSource
    registration_id: str
    koseki_id: str
    member_no: int


@dataclass(frozen=True)
class KosekiLookup:
    """Where to look for a resident's current 戸籍, as read from the center's database."""

    resident_id: str  # 宛名番号 in the municipality where they live
    home: KosekiSource | None  # where they live, if it declared a 戸籍 server
    approved: tuple[ApprovedLink, ...]  # approved 本籍地 registrations, newest first
    pending: tuple[str, ...]  # 本籍地 codes with a request not yet decided

    @property
    def needed(self) -> bool:
        """Whether any 戸籍 server has to be asked at all."""
        return self.home is not None or bool(self.approved)


@dataclass(frozen=True)
class KosekiAccess:
    """The resident's current 戸籍: which municipality keeps it, and their place in it."""

    source: KosekiSource
    koseki: Koseki
    member_no: int  # the resident's 順位
    registration_id: str | None = None  # the approved 本籍地 利用登録, if that is the way

    @property
    def municipality_code(self) -> str:
        return self.source.municipality_code


def source_of(muni: Municipality | None, servers: KosekiServers) -> KosekiSource | None:
    if muni is None or servers.backend_for(muni.koseki_server) is None:
        return None
    return KosekiSource(muni.code, muni.full_name(), muni.koseki_server)


def plan_lookup(
    db: Session,
    resident: Resident,
    registrations: Sequence[HonsekiRegistration],
    servers: KosekiServers,
) -> KosekiLookup:
    """Read where to look. `registrations` are the resident's own, newest first."""
    approved = []
    for reg in registrations:
        if reg.state != RegistrationState.APPROVED.value:
            continue
        assert reg.koseki_id is not None and reg.member_no is not None
        source = source_of(db.get(Municipality, reg.honseki_municipality_code), servers)
        if source is not None:
            approved.append(ApprovedLink(source, reg.id, reg.koseki_id, reg.member_no))
    pending = tuple(
        r.honseki_municipality_code
        for r in registrations
        if r.state == RegistrationState.PENDING.value
    )
    home = source_of(db.get(Municipality, resident.municipality_code), servers)
    return KosekiLookup(resident.resident_id, home, tuple(approved), pending)


def resolve(lookup: KosekiLookup, servers: KosekiServers) -> KosekiAccess | None:
    """Ask the 戸籍 servers: the resident's current 戸籍, or None. Holds no transaction."""
    if lookup.home is not None:
        backend = servers.backend_for(lookup.home.declared)
        assert backend is not None  # `source_of` checked the declaration
        ref = backend.member_of_resident(lookup.home.municipality_code, lookup.resident_id)
        if ref is not None:
            found = _current(lookup.home, servers, ref.koseki_id, ref.member_no)
            if found is not None:
                return found
    for link in lookup.approved:
        found = _current(link.source, servers, link.koseki_id, link.member_no, link.registration_id)
        if found is not None:
            return found
    return None


def _current(
    source: KosekiSource,
    servers: KosekiServers,
    koseki_id: str,
    member_no: int,
    registration_id: str | None = None,
) -> KosekiAccess | None:
    backend = servers.backend_for(source.declared)
    assert backend is not None
    koseki = backend.koseki(source.municipality_code, koseki_id)
    if koseki is None or koseki.closed or not koseki.is_current_member(member_no):
        return None
    return KosekiAccess(source, koseki, member_no, registration_id)
