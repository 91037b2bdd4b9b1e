"""A full export of a municipality's current data in the upload format.

What a difference upload keeps as its generation's backup: uploading an export as a full
snapshot recreates the same data. It runs on the connection of the transaction that applies
the difference, so it shows exactly that generation. Every file of the format a full upload
may carry is written, with its header even when empty; rows are in key order.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import groupby
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from server.bcl.csvformat import (
    CARD_SERIALS,
    FILES,
    FUHYO,
    KOSEKI,
    RESIDENTS,
    SEAL_IMAGES,
    SEALS,
    TAXES,
    CsvWriter,
    FileSchema,
    Presence,
)
from server.bcl.generations import BackupStore, FileDigest
from server.bcl.models import BclFuhyoEntry, BclKosekiMember, BclSealImage, BclTaxRecord, table_of
from server.bcl.registers import SealImage, TokenCarrier
from server.db.models import CardSerial, Resident, SealRegistration

R = table_of(Resident)
CS = table_of(CardSerial)
SR = table_of(SealRegistration)
IMG = table_of(BclSealImage)
TAX = table_of(BclTaxRecord)
KM = table_of(BclKosekiMember)
FU = table_of(BclFuhyoEntry)

EXPORTED: tuple[FileSchema, ...] = tuple(f for f in FILES if f.in_full is not Presence.FORBIDDEN)
_PARTITION = 5000


def export_generation(
    conn: Connection, municipality_code: str, store: BackupStore, key: str
) -> list[FileDigest]:
    """Write every register of the municipality into `key` of the store; their digests."""
    exporter = _Exporter(conn, municipality_code)
    sources = {
        RESIDENTS.name: exporter.residents,
        SEAL_IMAGES.name: exporter.seal_images,
        SEALS.name: exporter.seals,
        CARD_SERIALS.name: exporter.card_serials,
        TAXES.name: exporter.taxes,
        KOSEKI.name: exporter.koseki,
        FUHYO.name: exporter.fuhyo,
    }
    digests = []
    for schema in EXPORTED:
        with store.writer(key, schema.name) as out:
            writer = CsvWriter(out, schema)
            writer.write_all(sources[schema.name]())
            writer.close()
        digests.append(out.digest(schema.name))
    return digests


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

    def residents(self) -> Iterator[Any]:
        return self._rows(
            sa.select(R)
            .where(R.c.municipality_code == self._m)
            .where(R.c.removed_on.is_(None))
            .order_by(R.c.resident_id)
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

    def card_serials(self) -> Iterator[dict[str, Any]]:
        query = (
            sa.select(R.c.resident_id, CS.c.serial, CS.c.token, CS.c.active)
            .join(R, R.c.id == CS.c.resident_pk)
            .where(CS.c.resident_pk.in_(self._live))
            .order_by(CS.c.serial)
        )
        for row in self._rows(query):
            yield {
                "resident_id": row.resident_id,
                "serial": row.serial,
                "carrier": TokenCarrier.from_token_label(row.token),
                "active": row.active,
            }

    def taxes(self) -> Iterator[Any]:
        fields = [c for c in TAX.columns if c.name not in ("id", "resident_pk")]
        return self._rows(
            sa.select(R.c.resident_id, *fields)
            .join(R, R.c.id == TAX.c.resident_pk)
            .where(TAX.c.resident_pk.in_(self._live))
            .order_by(R.c.resident_id, TAX.c.fiscal_year)
        )

    def koseki(self) -> Iterator[Any]:
        return self._rows(
            sa.select(KM)
            .where(KM.c.municipality_code == self._m)
            .order_by(KM.c.koseki_id, KM.c.member_no)
        )

    def fuhyo(self) -> Iterator[Any]:
        return self._rows(
            sa.select(FU)
            .where(FU.c.municipality_code == self._m)
            .order_by(FU.c.koseki_id, FU.c.member_no, FU.c.entry_no)
        )
