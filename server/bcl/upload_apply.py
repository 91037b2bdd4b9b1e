"""Applying one upload to the live tables inside the caller's transaction, finding every error.

One pass over the spooled files, in `csvformat.FILES` order (residents before what refers to
them). Each row is checked on its own (`csvformat.read_rows`), then against the rest of the
upload (duplicate keys, references) and, where it must be, against the database (a difference
refers to current residents; a serial may already belong to another municipality). While no
error has been found, rows are written in batches as they go; after the first error writing
stops and checking goes on, and the caller rolls the transaction back. Household consistency
is checked last, in SQL over the written rows, so it is reported only for uploads whose rows
are otherwise valid.

Residents are upserted on (municipality_code, resident_id), so a resident keeps the primary key
that issuances and kiosk sessions refer to; one who leaves is marked removed, never deleted.
A full upload is the whole register: registers it omits become empty, residents it omits are
removed. A difference upserts what it carries and removes the residents in deletions.csv; a
戸籍 it carries replaces that 戸籍's members and their 事項 (and its 附票 entries, if fuhyo.csv
carries them); a 戸籍 in koseki_events.csv has its 戸籍事項 and 身分事項 replaced.

Only SQLite and PostgreSQL are supported: both have INSERT … ON CONFLICT.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from server.bcl.bulk import BulkStatement
from server.bcl.csvformat import (
    CARD_SERIALS,
    DELETIONS,
    FUHYO,
    HOUSEHOLD_HEAD,
    KOSEKI,
    KOSEKI_EVENTS,
    RESIDENTS,
    SEAL_IMAGES,
    SEALS,
    TAXES,
    ErrorCode,
    ErrorSink,
    FileSchema,
    Row,
    read_rows,
    seal_image_matches,
)
from server.bcl.generations import Counts
from server.bcl.models import (
    BclFuhyoEntry,
    BclKosekiEvent,
    BclKosekiMember,
    BclSealImage,
    BclTaxRecord,
    table_of,
)
from server.bcl.registers import KosekiEventKind
from server.db.models import CardSerial, Resident, SealRegistration, UtcDateTime

REMOVED_BY_FULL_UPLOAD = "全件更新に無し"  # removal reason: absent from a full upload

R = table_of(Resident)
CS = table_of(CardSerial)
SR = table_of(SealRegistration)
IMG = table_of(BclSealImage)
TAX = table_of(BclTaxRecord)
KM = table_of(BclKosekiMember)
FU = table_of(BclFuhyoEntry)
KE = table_of(BclKosekiEvent)
UNKNOWN_BIRTH = -1  # a member whose row was invalid: its events are not checked against it

_RESIDENT_COLUMNS = [c.name for c in R.columns if c.name not in ("id",)]
_TAX_FIELDS = [c.name for c in TAX.columns if c.name not in ("id", "resident_pk")]

T = TypeVar("T")


def _ignore(_values: dict[str, Any]) -> None:
    return None


def _same(value: Any) -> Any:
    return value


def member_key(koseki_id: str, member_no: int) -> str:
    # One string, not a tuple: a third of the memory for a million keys.
    return f"{koseki_id}:{member_no}"


def _ordinal(day: date | str) -> int:
    # SQLite hands back what a raw select reads: a date, or its ISO text.
    return (day if isinstance(day, date) else date.fromisoformat(day)).toordinal()


def _batched(items: Iterable[T], n: int) -> Iterator[list[T]]:
    it = iter(items)
    while batch := list(islice(it, n)):
        yield batch


class Applier:
    """Applies the files of one upload; `sink` receives every error found."""

    def __init__(
        self,
        conn: Connection,
        *,
        municipality_code: str,
        full: bool,
        today: date,
        now: datetime,
        sink: ErrorSink,
        batch_rows: int = 2000,
    ) -> None:
        dialect = conn.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise NotImplementedError(f"BCL uploads need SQLite or PostgreSQL, not {dialect}")
        self._conn = conn
        self._insert: Callable[[sa.Table], Any] = (
            sqlite.insert if dialect == "sqlite" else postgresql.insert
        )
        self._m = municipality_code
        self._full = full
        self._today = today
        self._now = now
        self._sink = sink
        self._batch = batch_rows
        # What the upload holds, for duplicate and reference checks. Keys only, never rows.
        self._resident_ids: set[str] = set()
        self._deleted: dict[str, tuple[int, str]] = {}  # 宛名番号 → (row, household)
        self._touched_households: set[str] = set()  # a difference re-checks only these
        self._images: set[str] = set()
        self._koseki: dict[str, tuple[str, str]] = {}  # koseki_id → (本籍, 筆頭者)
        # member_key() → birth date ordinal, for the 身分事項 that refer to the member.
        self._koseki_members: dict[str, int] = {}
        self._invalid_koseki: set[str] = set()  # 戸籍 seen only in rows with errors
        self._counts: dict[str, int] = dict.fromkeys(Counts.__dataclass_fields__, 0)

    @property
    def writing(self) -> bool:
        """Rows are written only while the upload is still free of errors."""
        return not self._sink

    def run(self, files: Mapping[str, Path]) -> Counts:
        if self._full and self.writing:
            self._clear_registers()
        handlers: dict[str, Callable[[Path], None]] = {
            RESIDENTS.name: self._residents,
            DELETIONS.name: self._deletions,
            SEAL_IMAGES.name: self._seal_images,
            SEALS.name: self._seals,
            CARD_SERIALS.name: self._card_serials,
            TAXES.name: self._taxes,
            KOSEKI.name: self._koseki_rows,
            KOSEKI_EVENTS.name: self._koseki_events,
            FUHYO.name: self._fuhyo,
        }
        for name, handler in handlers.items():
            if name in files:
                handler(files[name])
        if self._full and self.writing:
            self._remove_absent()
        if self.writing:
            self._check_households(files.get(RESIDENTS.name))
        return Counts(**self._counts)

    def _rows(
        self, path: Path, schema: FileSchema, seen: Callable[[dict[str, Any]], None] = _ignore
    ) -> Iterator[list[Row]]:
        """Batches of the valid rows; `seen` learns the keys of the invalid ones, so that rows
        referring to a row with a bad date are not reported as referring to nothing."""
        valid = []
        for row in read_rows(path, schema, self._sink, invalid=True):
            if row.valid:
                valid.append(row)
                if len(valid) >= self._batch:
                    yield valid
                    valid = []
            else:
                seen(row.values)
        if valid:
            yield valid

    # -- residents --------------------------------------------------------------------------

    def _residents(self, path: Path) -> None:
        codes: set[str] = set()
        numbers: set[str] = set()
        upsert = self._insert(R)
        upsert = upsert.on_conflict_do_update(
            index_elements=["municipality_code", "resident_id"],
            set_={c: upsert.excluded[c] for c in _RESIDENT_COLUMNS if c != "municipality_code"},
        )
        bulk = BulkStatement(self._conn, upsert, _RESIDENT_COLUMNS)
        for batch in self._rows(path, RESIDENTS, self._note_resident):
            params = []
            for row in batch:
                v = row.values
                ok = self._unique(RESIDENTS, row, "resident_id", self._resident_ids)
                ok &= self._unique(RESIDENTS, row, "juminhyo_code", codes, int)
                ok &= self._unique(RESIDENTS, row, "individual_number", numbers, int)
                if ok and self.writing:
                    params.append(
                        {
                            **v,
                            "municipality_code": self._m,
                            "sex": v["sex"].value,
                            "is_household_head": v["relationship"] == HOUSEHOLD_HEAD,
                            "removed_on": None,
                            "removed_reason": "",
                        }
                    )
            if not (params and self.writing):
                continue
            if not self._full:  # a member who moves out may leave a household without a head
                ids = [p["resident_id"] for p in params]
                self._touched_households.update(p["household_id"] for p in params)
                self._touched_households.update(
                    self._conn.execute(
                        sa.select(R.c.household_id)
                        .where(R.c.municipality_code == self._m)
                        .where(R.c.resident_id.in_(ids))
                    ).scalars()
                )
            bulk.execute(params)
            self._counts["residents"] += len(params)

    def _note_resident(self, values: dict[str, Any]) -> None:
        if values.get("resident_id"):
            self._resident_ids.add(values["resident_id"])

    def _note_image(self, values: dict[str, Any]) -> None:
        if values.get("sha256"):
            self._images.add(values["sha256"])

    def _note_member(self, values: dict[str, Any]) -> None:
        if values.get("koseki_id") and values.get("member_no"):
            key = member_key(values["koseki_id"], values["member_no"])
            self._koseki_members.setdefault(key, UNKNOWN_BIRTH)
            self._invalid_koseki.add(values["koseki_id"])

    def _unique(
        self,
        schema: FileSchema,
        row: Row,
        column: str,
        seen: set[Any],
        compact: Callable[[Any], Any] = _same,
    ) -> bool:
        """Whether `column`'s value is new to the file; `compact` keeps the set small (a
        fixed-length code as an int: a million residents' keys are held in memory)."""
        value = compact(row.values[column])
        if value in seen:
            self._error(
                schema,
                row,
                column,
                ErrorCode.DUPLICATE,
                f"{row.values[column]} is in an earlier row",
            )
            return False
        seen.add(value)
        return True

    def _remove_absent(self) -> None:
        """A full upload: every current resident it does not carry leaves the register."""
        live = self._conn.execute(
            sa.select(R.c.resident_id)
            .where(R.c.municipality_code == self._m)
            .where(R.c.removed_on.is_(None))
            .execution_options(yield_per=10_000)  # streamed: a million 宛名番号
        ).scalars()
        gone = [rid for rid in live if rid not in self._resident_ids]
        for batch in _batched(gone, self._batch):
            self._conn.execute(
                sa.update(R)
                .where(R.c.municipality_code == self._m)
                .where(R.c.resident_id.in_(batch))
                .values(removed_on=self._today, removed_reason=REMOVED_BY_FULL_UPLOAD)
            )
        self._counts["removed"] += len(gone)

    def _deletions(self, path: Path) -> None:
        remove = BulkStatement(
            self._conn,
            sa.update(R)
            .where(R.c.municipality_code == self._m)
            .where(R.c.resident_id == sa.bindparam("rid"))
            .values(removed_on=sa.bindparam("on"), removed_reason=sa.bindparam("why")),
        )
        for batch in self._rows(path, DELETIONS):
            candidates = []
            in_batch: set[str] = set()
            for row in batch:
                rid = row.values["resident_id"]
                if rid in self._resident_ids:
                    self._error(
                        DELETIONS,
                        row,
                        "resident_id",
                        ErrorCode.DELETED_AND_UPDATED,
                        f"{rid} is also in residents.csv",
                    )
                elif rid in self._deleted or rid in in_batch:
                    self._error(DELETIONS, row, "resident_id", ErrorCode.DUPLICATE, f"{rid} twice")
                else:
                    in_batch.add(rid)
                    candidates.append(row)
            ids = [r.values["resident_id"] for r in candidates]
            households: dict[str, str] = {
                rid: household
                for rid, household in self._conn.execute(
                    sa.select(R.c.resident_id, R.c.household_id)
                    .where(R.c.municipality_code == self._m)
                    .where(R.c.removed_on.is_(None))
                    .where(R.c.resident_id.in_(ids))
                )
            }
            found = []
            for row in candidates:
                rid = row.values["resident_id"]
                if rid not in households:
                    self._error(
                        DELETIONS,
                        row,
                        "resident_id",
                        ErrorCode.UNKNOWN_RESIDENT,
                        f"{rid} is not a current resident",
                    )
                    continue
                self._deleted[rid] = (row.number, households[rid])
                self._touched_households.add(households[rid])
                found.append(row)
            if not (found and self.writing):
                continue
            remove.execute(
                [
                    {
                        "rid": r.values["resident_id"],
                        "on": r.values["removed_on"],
                        "why": r.values["reason"],
                    }
                    for r in found
                ],
            )
            # A resident who leaves loses the card link and the seal registration with it.
            pks = self._pks_of([r.values["resident_id"] for r in found])
            self._conn.execute(
                sa.update(CS).where(CS.c.resident_pk.in_(pks)).values(active=sa.false())
            )
            self._conn.execute(sa.delete(SR).where(SR.c.resident_pk.in_(pks)))
            self._counts["removed"] += len(found)

    # -- registers that refer to residents ---------------------------------------------------

    def _clear_registers(self) -> None:
        """A full upload replaces every register: start from none."""
        mine = sa.select(R.c.id).where(R.c.municipality_code == self._m).scalar_subquery()
        self._conn.execute(sa.update(CS).where(CS.c.resident_pk.in_(mine)).values(active=False))
        self._conn.execute(sa.delete(SR).where(SR.c.resident_pk.in_(mine)))
        self._conn.execute(sa.delete(TAX).where(TAX.c.resident_pk.in_(mine)))
        self._conn.execute(sa.delete(KM).where(KM.c.municipality_code == self._m))
        self._conn.execute(sa.delete(FU).where(FU.c.municipality_code == self._m))
        self._conn.execute(sa.delete(KE).where(KE.c.municipality_code == self._m))

    def _pks_of(self, resident_ids: list[str]) -> sa.ScalarSelect[Any]:
        return (
            sa.select(R.c.id)
            .where(R.c.municipality_code == self._m)
            .where(R.c.resident_id.in_(resident_ids))
            .scalar_subquery()
        )

    def _current(
        self, schema: FileSchema, rows: list[Row], column: str = "resident_id"
    ) -> list[Row]:
        """The rows whose resident belongs to the new generation; an error for each other."""
        out: list[Row] = []
        ask: list[Row] = []
        for row in rows:
            rid = row.values[column]
            if not rid or rid in self._resident_ids:  # empty only where the column is optional
                out.append(row)
            elif self._full:
                self._error(
                    schema,
                    row,
                    column,
                    ErrorCode.UNKNOWN_RESIDENT,
                    f"{rid} is not in residents.csv",
                )
            elif rid in self._deleted:
                self._error(
                    schema, row, column, ErrorCode.UNKNOWN_RESIDENT, f"{rid} is deleted here"
                )
            else:
                ask.append(row)
        if ask:
            live = set(
                self._conn.execute(
                    sa.select(R.c.resident_id)
                    .where(R.c.municipality_code == self._m)
                    .where(R.c.removed_on.is_(None))
                    .where(R.c.resident_id.in_({r.values[column] for r in ask}))
                ).scalars()
            )
            for row in ask:
                if row.values[column] in live:
                    out.append(row)
                else:
                    self._error(
                        schema,
                        row,
                        column,
                        ErrorCode.UNKNOWN_RESIDENT,
                        f"{row.values[column]} is neither in residents.csv nor a current resident",
                    )
        return out

    def _by_resident(self, columns: dict[str, sa.types.TypeEngine[Any]]) -> sa.Select[Any]:
        """SELECT residents.id, :col… for one resident: the INSERT source of a dependent row."""
        return sa.select(
            R.c.id, *(sa.bindparam(name, type_=type_) for name, type_ in columns.items())
        ).where(R.c.municipality_code == self._m, R.c.resident_id == sa.bindparam("rid"))

    def _seal_images(self, path: Path) -> None:
        stmt = BulkStatement(
            self._conn,
            self._insert(IMG).on_conflict_do_nothing(index_elements=["sha256"]),
            ["sha256", "png"],
        )
        for batch in self._rows(path, SEAL_IMAGES, self._note_image):
            params = []
            for row in batch:
                v = row.values
                if not seal_image_matches(v["sha256"], v["png"]):
                    self._note_image(v)
                    self._error(
                        SEAL_IMAGES,
                        row,
                        "png_base64",
                        ErrorCode.SEAL_IMAGE,
                        "the PNG does not have the SHA-256 of its row",
                    )
                elif self._unique(SEAL_IMAGES, row, "sha256", self._images):
                    params.append(v)
            if params and self.writing:
                stmt.execute(params)
                self._counts["seal_images"] += len(params)

    def _seals(self, path: Path) -> None:
        seen: set[str] = set()
        insert = sa.insert(SR).from_select(
            [
                "resident_pk",
                "registration_number",
                "registered_on",
                "impression_png",
                "active",
                "impression_sha256",
            ],
            self._by_resident(
                {
                    "number": sa.String(),
                    "registered_on_": sa.Date(),
                    "png": sa.LargeBinary(),
                    "active_": sa.Boolean(),
                    "sha": sa.String(),
                }
            ),
        )
        stmt = BulkStatement(self._conn, insert)
        for batch in self._rows(path, SEALS):
            rows = [r for r in batch if self._unique(SEALS, r, "resident_id", seen)]
            rows = self._current(SEALS, rows)
            rows = self._with_images(rows)
            if not (rows and self.writing):
                continue
            if not self._full:  # one registration per resident: this row replaces the last
                pks = self._pks_of([r.values["resident_id"] for r in rows])
                self._conn.execute(sa.delete(SR).where(SR.c.resident_pk.in_(pks)))
            stmt.execute(
                [
                    {
                        "rid": v["resident_id"],
                        "number": v["registration_number"],
                        "registered_on_": v["registered_on"],
                        "png": b"",
                        "active_": v["active"],
                        "sha": v["impression_sha256"],
                    }
                    for v in (r.values for r in rows)
                ],
            )
            self._counts["seals"] += len(rows)

    def _with_images(self, rows: list[Row]) -> list[Row]:
        missing = {r.values["impression_sha256"] for r in rows} - self._images
        if missing and not self._full:  # a difference may use an image uploaded before
            missing -= set(
                self._conn.execute(sa.select(IMG.c.sha256).where(IMG.c.sha256.in_(missing)))
                .scalars()
                .all()
            )
        out = []
        for row in rows:
            if row.values["impression_sha256"] in missing:
                where = "seal_images.csv" if self._full else "seal_images.csv or stored"
                self._error(
                    SEALS,
                    row,
                    "impression_sha256",
                    ErrorCode.UNKNOWN_SEAL_IMAGE,
                    f"no image with this SHA-256 in {where}",
                )
            else:
                out.append(row)
        return out

    def _card_serials(self, path: Path) -> None:
        seen: set[str] = set()
        stmt = self._insert(CS).from_select(
            ["resident_pk", "serial", "token", "linked_at", "active"],
            self._by_resident(
                {
                    "serial_": sa.String(),
                    "token_": sa.String(),
                    "linked_at_": UtcDateTime(),
                    "active_": sa.Boolean(),
                }
            ),
        )
        # The link date of a serial already linked stays; its holder and state follow the upload.
        stmt = stmt.on_conflict_do_update(
            index_elements=["serial"],
            set_={c: stmt.excluded[c] for c in ("resident_pk", "token", "active")},
        )
        bulk = BulkStatement(self._conn, stmt)
        for batch in self._rows(path, CARD_SERIALS):
            rows = [r for r in batch if self._unique(CARD_SERIALS, r, "serial", seen)]
            rows = self._current(CARD_SERIALS, rows)
            taken = set(
                self._conn.execute(
                    sa.select(CS.c.serial)
                    .join(R, R.c.id == CS.c.resident_pk)
                    .where(CS.c.serial.in_([r.values["serial"] for r in rows]))
                    .where(R.c.municipality_code != self._m)
                ).scalars()
            )
            ok = []
            for row in rows:
                if row.values["serial"] in taken:
                    self._error(
                        CARD_SERIALS,
                        row,
                        "serial",
                        ErrorCode.SERIAL_TAKEN,
                        "this serial is linked to a resident of another municipality",
                    )
                else:
                    ok.append(row)
            if not (ok and self.writing):
                continue
            bulk.execute(
                [
                    {
                        "rid": v["resident_id"],
                        "serial_": v["serial"],
                        "token_": v["carrier"].token_label,
                        "linked_at_": self._now,
                        "active_": v["active"],
                    }
                    for v in (r.values for r in ok)
                ],
            )
            self._counts["card_serials"] += len(ok)

    def _taxes(self, path: Path) -> None:
        seen: set[str] = set()
        types = {f: TAX.c[f].type for f in _TAX_FIELDS}
        stmt = self._insert(TAX).from_select(
            ["resident_pk", *_TAX_FIELDS],
            self._by_resident({f"{f}_": t for f, t in types.items()}),
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["resident_pk", "fiscal_year"],
            set_={f: stmt.excluded[f] for f in _TAX_FIELDS},
        )
        bulk = BulkStatement(self._conn, stmt)
        for batch in self._rows(path, TAXES):
            rows = []
            for row in batch:
                key = f"{row.values['resident_id']}:{row.values['fiscal_year']}"
                if key in seen:
                    self._error(
                        TAXES,
                        row,
                        "fiscal_year",
                        ErrorCode.DUPLICATE,
                        f"{row.values['resident_id']} has fiscal year "
                        f"{row.values['fiscal_year']} in an earlier row",
                    )
                else:
                    seen.add(key)
                    rows.append(row)
            rows = self._current(TAXES, rows)
            if rows and self.writing:
                bulk.execute(
                    [
                        {"rid": r.values["resident_id"]}
                        | {f"{f}_": r.values[f] for f in _TAX_FIELDS}
                        for r in rows
                    ],
                )
                self._counts["tax_records"] += len(rows)

    # -- 戸籍 and 附票 ------------------------------------------------------------------------

    def _koseki_rows(self, path: Path) -> None:
        keys = [c.name for c in KM.columns if c.name != "id"]
        insert = BulkStatement(self._conn, sa.insert(KM), keys)
        for batch in self._rows(path, KOSEKI, self._note_member):
            rows = []
            fresh: list[str] = []  # 戸籍 first seen in this batch: a difference replaces them
            for row in batch:
                v = row.values
                kid = v["koseki_id"]
                head = self._koseki.get(kid)
                if head is None:
                    self._koseki[kid] = (v["honseki"], v["hittousha"])
                    fresh.append(kid)
                elif head != (v["honseki"], v["hittousha"]):
                    self._note_member(v)
                    self._error(
                        KOSEKI,
                        row,
                        "honseki" if head[0] != v["honseki"] else "hittousha",
                        ErrorCode.INCONSISTENT,
                        f"戸籍 {kid} has another 本籍 or 筆頭者 in an earlier row",
                    )
                    continue
                key = member_key(kid, v["member_no"])
                if key in self._koseki_members:
                    self._error(
                        KOSEKI,
                        row,
                        "member_no",
                        ErrorCode.DUPLICATE,
                        f"戸籍 {kid} has member {v['member_no']} in an earlier row",
                    )
                    continue
                self._koseki_members[key] = v["birth_date"].toordinal()
                rows.append(row)
            # No check of resident_id: a member who moved away keeps the 宛名番号 they had.
            if not self.writing:
                continue
            if fresh and not self._full:
                for table in (KM, KE):  # the 戸籍 is replaced with its 事項
                    self._conn.execute(
                        sa.delete(table)
                        .where(table.c.municipality_code == self._m)
                        .where(table.c.koseki_id.in_(fresh))
                    )
            if rows:
                insert.execute(
                    [
                        {**r.values, "municipality_code": self._m, "sex": r.values["sex"].value}
                        for r in rows
                    ],
                )
                self._counts["koseki_members"] += len(rows)

    def _koseki_events(self, path: Path) -> None:
        """戸籍事項 and 身分事項: each of a member (or 戸籍) that exists, none before a birth."""
        seen: set[str] = set()
        cleared: set[str] = set()
        keys = [c.name for c in KE.columns if c.name != "id"]
        insert = BulkStatement(self._conn, sa.insert(KE), keys)
        for batch in self._rows(path, KOSEKI_EVENTS):
            rows = []
            for row in batch:
                v = row.values
                key = f"{member_key(v['koseki_id'], v['member_no'])}:{v['event_no']}"
                if key in seen:
                    self._error(
                        KOSEKI_EVENTS,
                        row,
                        "event_no",
                        ErrorCode.DUPLICATE,
                        "event in an earlier row",
                    )
                else:
                    seen.add(key)
                    rows.append(row)
            rows = self._events_of_members(rows)
            if not self.writing:
                continue
            fresh = {r.values["koseki_id"] for r in rows} - cleared
            if fresh and not self._full:
                self._conn.execute(
                    sa.delete(KE)
                    .where(KE.c.municipality_code == self._m)
                    .where(KE.c.koseki_id.in_(fresh))
                )
            cleared |= fresh
            if rows:
                insert.execute(
                    [
                        {**r.values, "municipality_code": self._m, "kind": r.values["kind"].value}
                        for r in rows
                    ]
                )
                self._counts["koseki_events"] += len(rows)

    def _events_of_members(self, rows: list[Row]) -> list[Row]:
        """The rows whose 戸籍 (member_no 0) or member exists and whose date fits the birth."""
        births: dict[str, int] = {}
        elsewhere = {r.values["koseki_id"] for r in rows} - set(self._koseki)
        if elsewhere and not self._full:  # a 戸籍 this difference does not replace
            for koseki_id, member_no, birth_date in self._conn.execute(
                sa.select(KM.c.koseki_id, KM.c.member_no, KM.c.birth_date)
                .where(KM.c.municipality_code == self._m)
                .where(KM.c.koseki_id.in_(elsewhere))
            ):
                births[member_key(koseki_id, 0)] = UNKNOWN_BIRTH
                births[member_key(koseki_id, member_no)] = _ordinal(birth_date)
        out = []
        for row in rows:
            v = row.values
            kid, no = v["koseki_id"], v["member_no"]
            key = member_key(kid, no)
            if no == 0:
                known = kid in self._koseki or kid in self._invalid_koseki
                born: int | None = UNKNOWN_BIRTH if known else births.get(key)
            else:
                born = self._koseki_members.get(key, births.get(key))
            if born is None:
                what = f"no 戸籍 {kid}" if no == 0 else f"戸籍 {kid} has no member {no}"
                self._error(KOSEKI_EVENTS, row, "member_no", ErrorCode.UNKNOWN_KOSEKI_MEMBER, what)
                continue
            day = v["event_date"].toordinal()
            if born != UNKNOWN_BIRTH and no != 0:
                is_birth = v["kind"] is KosekiEventKind.BIRTH
                if (is_birth and day != born) or day < born:
                    message = (
                        "出生日 is not the member's birth date (koseki.csv)"
                        if is_birth
                        else "before the member's birth date (koseki.csv)"
                    )
                    self._error(KOSEKI_EVENTS, row, "event_date", ErrorCode.INCONSISTENT, message)
                    continue
            out.append(row)
        return out

    def _fuhyo(self, path: Path) -> None:
        seen: set[str] = set()
        cleared: set[str] = set()
        keys = [c.name for c in FU.columns if c.name != "id"]
        insert = BulkStatement(self._conn, sa.insert(FU), keys)
        for batch in self._rows(path, FUHYO):
            rows = []
            for row in batch:
                v = row.values
                key = f"{member_key(v['koseki_id'], v['member_no'])}:{v['entry_no']}"
                if key in seen:
                    self._error(
                        FUHYO, row, "entry_no", ErrorCode.DUPLICATE, "entry in an earlier row"
                    )
                else:
                    seen.add(key)
                    rows.append(row)
            rows = self._koseki_member_exists(rows)
            if not self.writing:
                continue
            fresh = {r.values["koseki_id"] for r in rows} - cleared
            if fresh and not self._full:
                self._conn.execute(
                    sa.delete(FU)
                    .where(FU.c.municipality_code == self._m)
                    .where(FU.c.koseki_id.in_(fresh))
                )
            cleared |= fresh
            if rows:
                insert.execute([{**r.values, "municipality_code": self._m} for r in rows])
                self._counts["fuhyo_entries"] += len(rows)

    def _koseki_member_exists(self, rows: list[Row]) -> list[Row]:
        stored: set[str] = set()
        elsewhere = {r.values["koseki_id"] for r in rows} - set(self._koseki)
        if elsewhere and not self._full:  # a 戸籍 this difference does not replace
            stored = {
                member_key(koseki_id, member_no)
                for koseki_id, member_no in self._conn.execute(
                    sa.select(KM.c.koseki_id, KM.c.member_no)
                    .where(KM.c.municipality_code == self._m)
                    .where(KM.c.koseki_id.in_(elsewhere))
                )
            }
        out = []
        for row in rows:
            v = row.values
            key = member_key(v["koseki_id"], v["member_no"])
            if key in self._koseki_members or key in stored:
                out.append(row)
            else:
                self._error(
                    FUHYO,
                    row,
                    "member_no",
                    ErrorCode.UNKNOWN_KOSEKI_MEMBER,
                    f"戸籍 {v['koseki_id']} has no member {v['member_no']}",
                )
        return out

    # -- households -------------------------------------------------------------------------

    def _check_households(self, residents_csv: Path | None) -> None:
        """Every household of the new generation: exactly one 世帯主, one address."""
        heads = sa.func.sum(sa.case((R.c.is_household_head == sa.true(), 1), else_=0))
        addresses = sa.func.count(sa.distinct(R.c.address + "|" + R.c.address_annex))
        query = (
            sa.select(R.c.household_id, heads, addresses)
            .where(R.c.municipality_code == self._m)
            .where(R.c.removed_on.is_(None))
            .group_by(R.c.household_id)
            .having((heads != 1) | (addresses > 1))
        )
        bad: dict[str, tuple[int, int]] = {}
        if self._full:
            bad = {h: (n, a) for h, n, a in self._conn.execute(query)}
        else:
            for batch in _batched(sorted(self._touched_households), self._batch):
                q = query.where(R.c.household_id.in_(batch))
                bad.update({h: (n, a) for h, n, a in self._conn.execute(q)})
        if not bad:
            return
        rows = _rows_by_household(residents_csv, set(bad)) if residents_csv else {}
        for household, (n, a) in sorted(bad.items()):
            problem = (
                f"has {n} 世帯主 (needs exactly one)"
                if n != 1
                else f"has {a} different addresses (members share one)"
            )
            in_file = rows.get(household, [])
            if in_file:
                listed = ", ".join(map(str, in_file[:20]))
                self._sink.add(
                    RESIDENTS.name,
                    in_file[0],
                    "household_id",
                    ErrorCode.HOUSEHOLD,
                    f"世帯 {household} {problem} after this upload (rows {listed})",
                )
                continue
            deleted = sorted(row for row, h in self._deleted.values() if h == household)
            self._sink.add(
                DELETIONS.name if deleted else RESIDENTS.name,
                deleted[0] if deleted else 0,
                "resident_id" if deleted else "",
                ErrorCode.HOUSEHOLD,
                f"世帯 {household} {problem} after this upload",
            )

    def _error(self, schema: FileSchema, row: Row, column: str, code: ErrorCode, msg: str) -> None:
        self._sink.add(schema.name, row.number, column, code, msg)


def _rows_by_household(path: Path, wanted: set[str]) -> dict[str, list[int]]:
    """Row numbers of the members of `wanted` households (the file is valid by now)."""
    out: dict[str, list[int]] = {}
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        col = header.index("household_id")
        for number, fields in enumerate(reader, start=2):
            if fields[col] in wanted:
                out.setdefault(fields[col], []).append(number)
    return out
