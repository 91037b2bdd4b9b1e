"""The expiry sweep finds old challenges and kiosk sessions by an index on `expires_at`
(migration 0010e), which replaced the unused index on `kiosk_id`: the sweep deletes them in a
write transaction every 30 s, and without the index it read both tables whole."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from server.db.engine import alembic_config, make_engine, upgrade
from server.db.models import AuthChallenge, KioskSession
from tests.databases import BACKENDS, fresh_postgres

_TABLES = ("auth_challenges", "kiosk_sessions")


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with ExitStack() as stack:
        if request.param == "postgres":
            url = stack.enter_context(fresh_postgres("konbini_expiry_indexes"))
        else:
            url = f"sqlite:///{tmp_path / 'e.db'}"
        engine = make_engine(url)
        yield engine
        engine.dispose()


def _indexed_columns(engine: Engine, table: str) -> set[tuple[str, ...]]:
    indexes = sa.inspect(engine).get_indexes(table)
    return {tuple(str(c) for c in ix["column_names"]) for ix in indexes}


def _downgrade(engine: Engine, revision: str) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def test_the_migration_swaps_the_kiosk_index_for_an_expiry_index_and_back(
    engine: Engine,
) -> None:
    upgrade(engine, "0009p")
    for table in _TABLES:
        assert _indexed_columns(engine, table) == {("kiosk_id",)}
    upgrade(engine)
    for table in _TABLES:
        assert _indexed_columns(engine, table) == {("expires_at",)}
    _downgrade(engine, "0009p")
    for table in _TABLES:
        assert _indexed_columns(engine, table) == {("kiosk_id",)}


def test_the_sweeps_deletes_find_expired_rows_by_the_index(engine: Engine) -> None:
    upgrade(engine)
    cutoff = datetime(2026, 11, 25, tzinfo=UTC)
    # The statements of `Authenticator.purge_expired`.
    deletes = {
        "auth_challenges": sa.delete(AuthChallenge).where(
            AuthChallenge.expires_at < cutoff  # type: ignore[arg-type]
        ),
        "kiosk_sessions": sa.delete(KioskSession).where(
            KioskSession.expires_at < cutoff  # type: ignore[arg-type]
        ),
    }
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")  # empty tables: a scan is cheaper
        for table, statement in deletes.items():
            sql = statement.compile(engine, compile_kwargs={"literal_binds": True})
            explain = "EXPLAIN" if engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN"
            plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(f"{explain} {sql}"))
            assert f"ix_{table}_expires_at" in plan, plan
