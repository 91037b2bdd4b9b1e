"""A full export of a municipality's current data in the upload format.

What a difference upload keeps as its generation's backup: uploading an export as a full
snapshot recreates the same data. It runs on the connection of the transaction that applies
the difference, so it shows exactly that generation. Every file of the format a full upload
may carry is written, with its header even when empty; rows are in key order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import groupby
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from server.bcl.bulk import raw_rows
from server.bcl.csvformat import (
    CARD_SERIALS,
    FILES,
    FUHYO,
    KOSEKI,
    KOSEKI_EVENTS,
    RESIDENTS,
    SEAL_IMAGES,
    SEALS,
    TAXES,
    CsvWriter,
    FileSchema,
    Presence,
)
from server.bcl.generations import BackupStore, FileDigest
from server.bcl.models import (
    BclFuhyoEntry,
    BclKosekiEvent,
    BclKosekiMember,
    BclSealImage,
    BclTaxRecord,
    table_of,
)
from server.bcl.registers import SealImage, TokenCarrier
from server.db.models import CardSerial, Resident, SealRegistration

R = table_of(Resident)
CS = table_of(CardSerial)
SR = table_of(SealRegistration)
IMG = table_of(BclSealImage)
TAX = table_of(BclTaxRecord)
KM = table_of(BclKosekiMember)
FU = table_of(BclFuhyoEntry)
KE = table_of(BclKosekiEvent)

EXPORTED: tuple[FileSchema, ...] = tuple(f for f in FILES if f.in_full is not Presence.FORBIDDEN)
_PARTITION = 5000


def export_generation(
    conn: Connection, municipality_code: str, store: BackupStore, key: str
) -> list[FileDigest]:
    """Write every register of the municipality into `key` of the store; their digests."""
    exporter = _Exporter(conn, municipality_code)
    records = {  # written record by record (few rows, or rows that need Python)
        SEAL_IMAGES.name: exporter.seal_images,
        SEALS.name: exporter.seals,
    }
    cells = {  # written as the database returns them, in the files' column order
        RESIDENTS.name: exporter.residents,
        CARD_SERIALS.name: exporter.card_serials,
        TAXES.name: exporter.taxes,
        KOSEKI.name: exporter.koseki,
        KOSEKI_EVENTS.name: exporter.koseki_events,
        FUHYO.name: exporter.fuhyo,
    }
    digests = []
    for schema in EXPORTED:
        with store.writer(key, schema.name) as out:
            writer = CsvWriter(out, schema)
            if schema.name in cells:
                writer.write_cells(cells[schema.name]())
            else:
                writer.write_all(records[schema.name]())
            writer.close()
        digests.append(out.digest(schema.name))
    return digests


def _cells(table: sa.Table, schema: FileSchema, **columns: Any) -> list[Any]:
    """The SELECT list of a file's columns in order; booleans as 0 / 1 on every backend."""
    out = []
    for name in schema.header:
        column = columns[name] if name in columns else table.c.get(name)
        if column is None:
            raise KeyError(f"{schema.name}: no column for {name}")
        if isinstance(column.type, sa.Boolean):
            column = sa.cast(column, sa.Integer)
        out.append(column)
    return out


class _Exporter:
    def __init__(self, conn: Connection, municipality_code: str) -> None:
        self._conn = conn
        self._m = municipality_code
        self._live = (
            sa.select(R.c.id)
            .where(R.c.municipality_code == municipality_code)
            .where(R.c.removed_on.is_(None))
            .scalar_subquery()
        )

    def _rows(self, query: sa.Select[Any]) -> Iterator[Any]:
        for part in self._conn.execute(query).partitions(_PARTITION):
            yield from part

    def residents(self) -> Iterator[Sequence[Any]]:
        return raw_rows(
            self._conn,
            sa.select(*_cells(R, RESIDENTS))
            .where(R.c.municipality_code == self._m)
            .where(R.c.removed_on.is_(None))
            .order_by(R.c.resident_id),
        )

    def _seal_rows(self) -> sa.Select[Any]:
        return (
            sa.select(
                R.c.resident_id,
                SR.c.registration_number,
                SR.c.registered_on,
                SR.c.impression_sha256,
                SR.c.impression_png,
                SR.c.active,
            )
            .join(R, R.c.id == SR.c.resident_pk)
            .where(SR.c.resident_pk.in_(self._live))
            .order_by(R.c.resident_id, SR.c.id)
        )

    def seal_images(self) -> Iterator[SealImage]:
        # Images stored once by SHA-256, and any a direct load kept inline (no SHA-256 yet).
        stored = (
            sa.select(IMG.c.sha256, IMG.c.png)
            .where(
                IMG.c.sha256.in_(
                    sa.select(SR.c.impression_sha256).where(SR.c.resident_pk.in_(self._live))
                )
            )
            .order_by(IMG.c.sha256)
        )
        seen: set[str] = set()
        for row in self._rows(stored):
            seen.add(row.sha256)
            yield SealImage(row.sha256, row.png)
        inline: dict[str, bytes] = {}
        for row in self._rows(self._seal_rows().where(SR.c.impression_sha256.is_(None))):
            image = SealImage.of(row.impression_png)
            if image.sha256 not in seen:
                inline[image.sha256] = image.png
        for sha in sorted(inline):
            yield SealImage(sha, inline[sha])

    def seals(self) -> Iterator[dict[str, Any]]:
        # The format has one registration per resident: the active one, else the last.
        for rid, group in groupby(self._rows(self._seal_rows()), key=lambda r: r.resident_id):
            rows = list(group)
            row = next((r for r in reversed(rows) if r.active), rows[-1])
            yield {
                "resident_id": rid,
                "registration_number": row.registration_number,
                "registered_on": row.registered_on,
                "impression_sha256": row.impression_sha256
                or SealImage.of(row.impression_png).sha256,
                "active": row.active,
            }

    def card_serials(self) -> Iterator[Sequence[Any]]:
        carrier = sa.case(
            {c.token_label: c.value for c in TokenCarrier}, value=CS.c.token, else_=CS.c.token
        )
        return raw_rows(
            self._conn,
            sa.select(*_cells(CS, CARD_SERIALS, resident_id=R.c.resident_id, carrier=carrier))
            .join(R, R.c.id == CS.c.resident_pk)
            .where(CS.c.resident_pk.in_(self._live))
            .order_by(CS.c.serial),
        )

    def taxes(self) -> Iterator[Sequence[Any]]:
        return raw_rows(
            self._conn,
            sa.select(*_cells(TAX, TAXES, resident_id=R.c.resident_id))
            .join(R, R.c.id == TAX.c.resident_pk)
            .where(TAX.c.resident_pk.in_(self._live))
            .order_by(R.c.resident_id, TAX.c.fiscal_year),
        )

    def koseki(self) -> Iterator[Sequence[Any]]:
        return raw_rows(
            self._conn,
            sa.select(*_cells(KM, KOSEKI))
            .where(KM.c.municipality_code == self._m)
            .order_by(KM.c.koseki_id, KM.c.member_no),
        )

    def koseki_events(self) -> Iterator[Sequence[Any]]:
        return raw_rows(
            self._conn,
            sa.select(*_cells(KE, KOSEKI_EVENTS))
            .where(KE.c.municipality_code == self._m)
            .order_by(KE.c.koseki_id, KE.c.member_no, KE.c.event_no),
        )

    def fuhyo(self) -> Iterator[Sequence[Any]]:
        return raw_rows(
            self._conn,
            sa.select(*_cells(FU, FUHYO))
            .where(FU.c.municipality_code == self._m)
            .order_by(FU.c.koseki_id, FU.c.member_no, FU.c.entry_no),
        )
