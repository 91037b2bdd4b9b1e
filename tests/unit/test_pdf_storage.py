"""PostgreSQL keeps a copy's PDF out of line without compressing it (migration 0009p).

The PDF is deflated already, so TOAST's pglz pass found nothing to gain and cost CPU per copy.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from server.db.engine import make_engine, upgrade
from tests.databases import PG_URL, fresh_postgres

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="KONBINI_TEST_DATABASE_URL not set"),
]

_STORAGE = sa.text(
    "SELECT attstorage FROM pg_attribute WHERE attrelid = 'issuances'::regclass AND attname = 'pdf'"
)


@pytest.fixture
def engine() -> Iterator[Engine]:
    with fresh_postgres("konbini_pdf_storage") as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


def _pdf_storage(engine: Engine) -> str:
    with engine.connect() as conn:
        storage = conn.execute(_STORAGE).scalar_one()
    assert isinstance(storage, str)
    return storage


def test_the_migration_stores_the_pdf_external_instead_of_compressed(engine: Engine) -> None:
    upgrade(engine, "0008")
    assert _pdf_storage(engine) == "x"  # EXTENDED: bytea's default, compressed when it pays
    upgrade(engine)
    assert _pdf_storage(engine) == "e"  # EXTERNAL: out of line, never compressed


def test_a_stored_pdf_reads_back_unchanged_and_uncompressed(engine: Engine) -> None:
    upgrade(engine)
    # Bytes pglz would compress well: only the column's storage keeps them as they are.
    pdf = b"%PDF-1.7\n" + b"0 0 0 rg 10 10 m 20 20 l S\n" * 3000
    with engine.connect() as conn:
        conn.execute(sa.text("CREATE TEMPORARY TABLE probe (LIKE issuances INCLUDING STORAGE)"))
        for (column,) in conn.execute(
            sa.text(
                "SELECT attname FROM pg_attribute WHERE attrelid = 'probe'::regclass"
                " AND attnum > 0 AND attnotnull"
            )
        ).all():
            conn.execute(sa.text(f'ALTER TABLE probe ALTER COLUMN "{column}" DROP NOT NULL'))
        conn.execute(sa.text("INSERT INTO probe (pdf) VALUES (:pdf)"), {"pdf": pdf})
        size, stored = conn.execute(sa.text("SELECT pg_column_size(pdf), pdf FROM probe")).one()
    assert stored == pdf
    assert size == len(pdf)
