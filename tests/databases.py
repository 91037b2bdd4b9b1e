"""The databases tests run on: a SQLite file, and PostgreSQL when KONBINI_TEST_DATABASE_URL is
set (a fresh database per fixture, dropped afterwards, so parallel sessions never share rows).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

PG_URL = os.environ.get("KONBINI_TEST_DATABASE_URL", "")

# The `params` of a fixture that runs once per backend.
BACKENDS: list[object] = [
    "sqlite",
    pytest.param(
        "postgres",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(not PG_URL, reason="KONBINI_TEST_DATABASE_URL not set"),
        ],
    ),
]


@contextmanager
def fresh_postgres(prefix: str) -> Iterator[str]:
    """The URL of a new, empty database on KONBINI_TEST_DATABASE_URL's server, named
    `<prefix>_<random>`; dropped on exit even while connections to it are still open."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    base = sa.engine.make_url(PG_URL)
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
