"""What the settlement desk and BCL uploads write to the audit log: a month close once, a
correction once (retries write nothing more), a committed generation, and nothing for an
upload that does not commit."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from server.audit.verify import verify_chain
from server.bcl.upload import BaseGenerationMismatch, BclUploads
from tests.unit.test_bcl_upload import (  # noqa: F401 (fixtures)
    CODE,
    Files,
    committed,
    dataset,
    desk,
    engine,
    upload,
)
from tests.unit.test_ledger import World, at, template, world  # noqa: F401 (fixtures)


def audit_rows(engine: Engine) -> list[tuple[str, str, str, dict[str, str]]]:  # noqa: F811
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT event, actor, subject, details FROM audit_entries ORDER BY seq")
        ).all()
    return [(r[0], r[1], r[2], json.loads(r[3])) for r in rows]


def test_a_month_close_and_a_correction_are_each_recorded_once(world: World) -> None:  # noqa: F811
    iid = world.issue(world.town, at("2026-04"))
    world.close("2026-04")
    world.desk.close_month("2026-04")  # again: already closed, nothing new
    world.clock.now = at("2026-05", day=12)
    world.desk.correct_copy(iid, "誤交付", actor="S131016-clerk")
    world.desk.correct_copy(iid, "retried", actor="S131016-clerk")
    rows = audit_rows(world.engine)
    assert [(e, a, s) for e, a, s, _ in rows] == [
        ("settlement.month_closed", "settlement", "month:2026-04"),
        ("settlement.copy_corrected", "S131016-clerk", iid),
    ]
    assert rows[1][3] == {"month": "2026-05", "refunded_yen": "300"}
    assert "誤交付" not in json.dumps(rows, ensure_ascii=False)
    assert verify_chain(world.engine).ok


def test_a_committed_generation_is_recorded_and_a_refused_upload_is_not(
    desk: BclUploads,  # noqa: F811
    engine: Engine,  # noqa: F811
    dataset: Files,  # noqa: F811
) -> None:
    gen = committed(upload(desk, dataset)).generation
    with pytest.raises(BaseGenerationMismatch):
        upload(desk, dataset, difference=True, base=gen.number + 5)
    [(event, actor, subject, details)] = audit_rows(engine)
    assert (event, actor, subject) == (
        "bcl.generation_committed",
        f"bcl:{CODE}",
        f"generation:{CODE}:{gen.number}",
    )
    assert details["kind"] == "full" and details["rows"] == str(gen.counts.total_rows)
    assert verify_chain(engine).ok
