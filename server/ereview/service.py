"""The e-review service: access checks, matching, auto-fill and suggestions, composed.

Pure domain on top of three parts that touch the outside: the client registry (`access`), the
residents (a `ResidentSource` that hands out one blocking index per municipality), and
auto-fill (`autofill`, the database and the JPKI checks). The gRPC servicer only translates.

`DatabaseResidents` builds a municipality's index from the center's `residents` table on first
use and rebuilds it when the table changed (checked at most every `refresh_interval`, by row
count and highest row id: the BCL generation number will replace this check). A first request
for a large municipality waits for the build (about a minute per million residents); call
`warm()` at start-up to avoid that.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from server.bcl.models import BclGeneration
from server.bcl.store import resident_record
from server.common.clock import JST, Clock
from server.common.errors import FailedPrecondition
from server.db.models import Municipality, Resident
from server.ereview.access import (
    ClientRegistry,
    EreviewClient,
    MunicipalityNotFound,
    require_municipality,
)
from server.ereview.autofill import Autofill, AutofillChallenge, AutofilledHousehold
from server.ereview.index import ResidentIndex
from server.ereview.matcher import Matcher, MatchPolicy
from server.ereview.model import Application, MatchResult, Outcome, Procedure, ResidentView
from server.ereview.suggestions import HouseholdPerson, Suggestion, suggest


class AutofillNotConfigured(FailedPrecondition):
    reason = "AUTOFILL_NOT_CONFIGURED"


class ResidentSource(Protocol):
    def index_for(self, municipality_code: str) -> ResidentIndex: ...


class StaticResidents:
    """Indexes built beforehand (tests, the benchmark, a batch run)."""

    def __init__(self, indexes: Mapping[str, ResidentIndex]) -> None:
        self._indexes = dict(indexes)

    def index_for(self, municipality_code: str) -> ResidentIndex:
        try:
            return self._indexes[municipality_code]
        except KeyError:
            raise MunicipalityNotFound(f"no resident data for {municipality_code}") from None


@dataclass
class _Cached:
    index: ResidentIndex
    fingerprint: tuple[int, int, int]
    checked_at: datetime


class DatabaseResidents:
    def __init__(
        self, engine: Engine, *, clock: Clock, refresh_interval: timedelta = timedelta(seconds=60)
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._refresh = refresh_interval
        self._cache: dict[str, _Cached] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _fingerprint(self, db: Session, code: str) -> tuple[int, int, int]:
        """Changes whenever the register does: a new BCL generation, rows added or removed."""
        count, top = db.exec(
            select(sa.func.count(), sa.func.coalesce(sa.func.max(Resident.id), 0))
            .where(Resident.municipality_code == code)
            .where(col(Resident.removed_on).is_(None))
        ).one()
        generation = db.exec(
            select(sa.func.coalesce(sa.func.max(BclGeneration.number), 0)).where(
                BclGeneration.municipality_code == code
            )
        ).one()
        return int(count), int(top or 0), int(generation or 0)

    def index_for(self, municipality_code: str) -> ResidentIndex:
        now = self._clock()
        cached = self._cache.get(municipality_code)
        if cached is not None and now - cached.checked_at < self._refresh:
            return cached.index
        with self._guard:
            lock = self._locks.setdefault(municipality_code, threading.Lock())
        with lock:  # one build per municipality at a time; readers keep the old index meanwhile
            cached = self._cache.get(municipality_code)
            with Session(self._engine) as db:
                if db.get(Municipality, municipality_code) is None:
                    raise MunicipalityNotFound(f"no municipality {municipality_code}")
                fingerprint = self._fingerprint(db, municipality_code)
                if cached is not None and cached.fingerprint == fingerprint:
                    cached.checked_at = now
                    return cached.index
                rows = db.exec(
                    select(Resident)
                    .where(Resident.municipality_code == municipality_code)
                    .where(col(Resident.removed_on).is_(None))  # moved out (転出), deceased
                    .order_by(col(Resident.id))
                    .execution_options(yield_per=5000)
                )
                index = ResidentIndex.build(resident_record(r) for r in rows)
            self._cache[municipality_code] = _Cached(index, fingerprint, now)
            return index

    def warm(self, municipality_codes: Iterable[str]) -> None:
        for code in municipality_codes:
            self.index_for(code)


@dataclass(frozen=True)
class Submission:
    result: MatchResult
    suggestions: tuple[Suggestion, ...]


@dataclass(frozen=True)
class Autofilled:
    household: AutofilledHousehold
    suggestions: tuple[Suggestion, ...]


class EReviewService:
    def __init__(
        self,
        *,
        registry: ClientRegistry,
        residents: ResidentSource,
        autofill: Autofill | None,
        clock: Clock,
        policy: MatchPolicy | None = None,
    ) -> None:
        self._registry = registry
        self._residents = residents
        self._autofill = autofill
        self._clock = clock
        self._policy = policy or MatchPolicy()
        self._matchers: dict[int, Matcher] = {}

    def authenticate(self, client_id: str, secret: str) -> EreviewClient:
        return self._registry.authenticate(client_id, secret)

    def client(self, client_id: str) -> EreviewClient:
        """An already authenticated client (by the center's access interceptor)."""
        return self._registry.get(client_id)

    def _today(self) -> date:
        return self._clock().astimezone(JST).date()

    def _matcher(self, code: str) -> Matcher:
        index = self._residents.index_for(code)
        matcher = self._matchers.get(id(index))
        if matcher is None or matcher.index is not index:
            matcher = self._matchers[id(index)] = Matcher(index, self._policy)
        return matcher

    def submit(self, client: EreviewClient, application: Application) -> Submission:
        require_municipality(client, application.municipality_code)
        result = self._matcher(application.municipality_code).match(application)
        suggestions: tuple[Suggestion, ...] = ()
        if result.outcome is Outcome.MATCH:
            suggestions = self._suggest_for(result.household, application.procedure)
        return Submission(result, suggestions)

    def begin_autofill(self, client: EreviewClient) -> AutofillChallenge:
        return self._require_autofill().begin(client)

    def complete_autofill(
        self, client: EreviewClient, *, challenge_id: str, certificate_der: bytes, signature: bytes
    ) -> Autofilled:
        household = self._require_autofill().complete(
            client, challenge_id=challenge_id, certificate_der=certificate_der, signature=signature
        )
        return Autofilled(household, self._suggest_for(household.household, None))

    def suggest(
        self,
        client: EreviewClient,
        municipality_code: str,
        members: Sequence[HouseholdPerson],
        exclude: Procedure | None = None,
    ) -> tuple[Suggestion, ...]:
        require_municipality(client, municipality_code)
        return suggest(members, self._today(), exclude=exclude)

    def _suggest_for(
        self, household: Sequence[ResidentView], exclude: Procedure | None
    ) -> tuple[Suggestion, ...]:
        people = [HouseholdPerson(v.birth_date, v.relationship) for v in household]
        return suggest(people, self._today(), exclude=exclude)

    def _require_autofill(self) -> Autofill:
        if self._autofill is None:
            raise AutofillNotConfigured("auto-fill is not configured on this center")
        return self._autofill
