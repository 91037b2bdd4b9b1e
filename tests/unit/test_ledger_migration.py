"""Migration 0003 posts the copies settled before it and logs the voids, balanced."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa

from server.db.engine import make_engine, upgrade

ISSUED_AT = datetime(2026, 4, 10, 10, 30, tzinfo=UTC)  # Friday 19:30 JST: after counter hours
VOIDED_AT = datetime(2026, 4, 30, 16, 0, tzinfo=UTC)  # 1 May 01:00 JST


def _insert(conn: sa.Connection, table: str, **values: object) -> None:
    names = ", ".join(values)
    conn.execute(
        sa.text(f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + n for n in values)})"),
        values,
    )


def _issuance(conn: sa.Connection, iid: str, state: str, **extra: object) -> None:
    _insert(
        conn,
        "issuances",
        id=iid,
        state=state,
        kind="juminhyo",
        requester_pk=1,
        subject_pks="1",
        include_head_and_relationship=False,
        include_honseki=False,
        municipality_code="131016",
        kiosk_id="K1",
        operator_id="seven",
        kiosk_municipality_code="131024",
        session_token_sha256="0" * 64,
        fee_yen=200,
        reserved_at=ISSUED_AT,
        expires_at=ISSUED_AT,
        **extra,
    )


def test_history_is_posted_to_the_new_ledger(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0001")
    with engine.begin() as conn:
        _insert(
            conn,
            "municipalities",
            code="131016",
            prefecture="東京都",
            name="千代田区",
            mayor_title="区長",
            mayor_name="某",
            municipality_class="city_50k",
            backend="bcl",
            population=68_000,
            joined_on=date(2017, 4, 1),
            seal_png=b"",
        )
        _insert(
            conn,
            "residents",
            id=1,
            municipality_code="131016",
            resident_id="1",
            household_id="1",
            family_name="千代田",
            given_name="太郎",
            family_name_kana="チヨダ",
            given_name_kana="タロウ",
            former_family_name="",
            birth_date=date(1980, 1, 1),
            sex="男",
            address="東京都千代田区",
            address_annex="",
            is_household_head=True,
            relationship="世帯主",
            honseki="東京都千代田区",
            hittousha="千代田　太郎",
            juminhyo_code="00000000001",
            individual_number="000000000001",
            became_resident_on=date(1980, 1, 1),
            address_set_on=date(1980, 1, 1),
            suppressed=False,
        )
        _issuance(conn, "a", "issued", issue_number="N1", finished_at=ISSUED_AT)
        _insert(
            conn,
            "settlement_entries",
            issuance_id="a",
            issue_number="N1",
            municipality_code="131016",
            month="2026-04",
            kind="juminhyo",
            issued_at=ISSUED_AT,
            kiosk_id="K1",
            operator_id="seven",
            kiosk_municipality_code="131024",
            fee_yen=200,
            commission_yen=117,
            bcl_fee_yen=180,
            sheets=1,
        )
        _issuance(conn, "b", "voided", issue_number="N2", void_reason="jam")
        for old, new, at in (
            ("reserved", "printing", ISSUED_AT),
            ("printing", "voided", VOIDED_AT),
        ):
            _insert(
                conn,
                "issuance_transitions",
                issuance_id="b",
                from_state=old,
                to_state=new,
                at=at,
                reason="",
            )
    upgrade(engine)
    with engine.connect() as conn:
        entries = conn.execute(
            sa.text(
                "SELECT id, entry_key, kind, month, copies, after_hours, other_municipality"
                " FROM ledger_entries"
            )
        ).all()
        assert [tuple(e[1:]) for e in entries] == [
            ("copy:a", "copy_issued", "2026-04", 1, True, True)
        ]
        lines: dict[str, int] = dict(
            conn.execute(
                sa.text("SELECT account, amount_yen FROM ledger_lines WHERE entry_id = :e"),
                {"e": entries[0][0]},
            ).all()
        )
        assert lines == {
            "operator_receivable": 83,
            "commission_expense": 117,
            "fee_income": -200,
            "bcl_fee_expense": 180,
            "bcl_fee_accrued": -180,
        }
        voids = conn.execute(
            sa.text("SELECT issuance_id, month, from_state, refunded_yen FROM voided_copies")
        ).all()
        assert [tuple(v) for v in voids] == [("b", "2026-05", "printing", 200)]
        assert conn.execute(sa.text("SELECT month, closed_at FROM ledger_periods")).all() == [
            ("2026-04", None)
        ]
    engine.dispose()
