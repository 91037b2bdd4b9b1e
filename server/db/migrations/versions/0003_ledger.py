"""settlement ledger: periods, journal entries and lines, void log, operator counts, counter hours

Copies settled before this revision (rows of settlement_entries) are posted to the new journal,
and voided issuances to the void log, so that the ledger covers the whole history and balances
from the first copy. The backfill is written against this revision's tables only.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-27 10:00:00.000000
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

import server.db.models
import server.settlement.models  # noqa: F401  (registers the ledger tables in the metadata)
from server.settlement.counter_hours import DEFAULT_COUNTER_HOURS
from server.settlement.periods import Month

revision = '0003'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ledger_periods',
    sa.Column('month', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
    sa.Column('closed_at', server.db.models.UtcDateTime(timezone=True), nullable=True),
    sa.Column('entry_count', sa.Integer(), nullable=False),
    sa.Column('line_count', sa.Integer(), nullable=False),
    sa.Column('debit_total_yen', sa.BigInteger(), nullable=False),
    sa.Column('digest', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.PrimaryKeyConstraint('month')
    )
    op.create_table('counter_hours',
    sa.Column('municipality_code', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('opens', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('closes', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('weekdays', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('closed_on_holidays', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['municipality_code'], ['municipalities.code'], ),
    sa.PrimaryKeyConstraint('municipality_code')
    )
    op.create_table('operator_reported_counts',
    sa.Column('operator_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('month', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('municipality_code', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('certificate_kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('copies', sa.Integer(), nullable=False),
    sa.Column('submitted_at', server.db.models.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['operator_id'], ['operators.operator_id'], ),
    sa.PrimaryKeyConstraint('operator_id', 'month', 'municipality_code', 'certificate_kind')
    )
    op.create_table('ledger_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('month', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('posted_at', server.db.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('occurred_at', server.db.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('municipality_code', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('operator_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('kiosk_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('certificate_kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('issuance_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('reverses_entry_id', sa.Integer(), nullable=True),
    sa.Column('copies', sa.Integer(), nullable=False),
    sa.Column('after_hours', sa.Boolean(), nullable=False),
    sa.Column('other_municipality', sa.Boolean(), nullable=False),
    sa.Column('memo', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.CheckConstraint("kind NOT IN ('copy_issued', 'copy_reversed') OR issuance_id IS NOT NULL", name='ck_ledger_entries_copy_traces_issuance'),
    sa.ForeignKeyConstraint(['issuance_id'], ['issuances.id'], ),
    sa.ForeignKeyConstraint(['month'], ['ledger_periods.month'], ),
    sa.ForeignKeyConstraint(['municipality_code'], ['municipalities.code'], ),
    sa.ForeignKeyConstraint(['reverses_entry_id'], ['ledger_entries.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('entry_key')
    )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_entries_issuance_id'), ['issuance_id'], unique=False)
        batch_op.create_index('ix_ledger_entries_kind_occurred', ['kind', 'occurred_at'], unique=False)
        batch_op.create_index('ix_ledger_entries_month_muni', ['month', 'municipality_code'], unique=False)

    op.create_table('voided_copies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('issuance_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('issue_number', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('month', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('voided_at', server.db.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('municipality_code', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('operator_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('kiosk_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('certificate_kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('from_state', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('refunded_yen', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['issuance_id'], ['issuances.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('issuance_id')
    )
    with op.batch_alter_table('voided_copies', schema=None) as batch_op:
        batch_op.create_index('ix_voided_copies_month_muni', ['month', 'municipality_code'], unique=False)

    op.create_table('ledger_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('account', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('amount_yen', sa.BigInteger(), nullable=False),
    sa.Column('month', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('municipality_code', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('operator_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('certificate_kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entries.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('ledger_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_lines_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index('ix_ledger_lines_month_muni', ['month', 'municipality_code'], unique=False)

    _backfill(op.get_bind())


def _utc(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite hands back text through a plain select
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _backfill(conn: sa.Connection) -> None:
    """Post every copy already settled, and log every issuance already voided."""
    now = datetime.now(UTC)
    settled = conn.execute(sa.text(
        "SELECT issuance_id, municipality_code, kind, issued_at, kiosk_id, operator_id,"
        " kiosk_municipality_code, fee_yen, commission_yen, bcl_fee_yen"
        " FROM settlement_entries ORDER BY id"
    )).all()
    months = sorted({str(Month.of(_utc(r.issued_at))) for r in settled})
    for month in months:
        conn.execute(sa.text(
            "INSERT INTO ledger_periods (month, entry_count, line_count, debit_total_yen, digest)"
            " VALUES (:m, 0, 0, 0, '')"
        ), {"m": month})
    entries = sa.table(
        'ledger_entries', *(sa.column(c) for c in (
            'entry_key', 'kind', 'month', 'posted_at', 'occurred_at', 'municipality_code',
            'operator_id', 'kiosk_id', 'certificate_kind', 'issuance_id', 'copies',
            'after_hours', 'other_municipality', 'memo')),
        sa.column('id', sa.Integer),
    )
    lines = sa.table('ledger_lines', *(sa.column(c) for c in (
        'entry_id', 'account', 'amount_yen', 'month', 'municipality_code', 'operator_id',
        'certificate_kind')))
    for r in settled:
        issued_at = _utc(r.issued_at)
        month = str(Month.of(issued_at))
        entry_id = conn.execute(entries.insert().returning(entries.c.id), {
            'entry_key': f"copy:{r.issuance_id}", 'kind': 'copy_issued', 'month': month,
            'posted_at': now, 'occurred_at': issued_at, 'municipality_code': r.municipality_code,
            'operator_id': r.operator_id, 'kiosk_id': r.kiosk_id, 'certificate_kind': r.kind,
            'issuance_id': r.issuance_id, 'copies': 1,
            'after_hours': DEFAULT_COUNTER_HOURS.is_after_hours(issued_at),
            'other_municipality': r.kiosk_municipality_code != r.municipality_code,
            'memo': 'backfilled by migration 0003',
        }).scalar_one()
        amounts = (
            ('operator_receivable', r.fee_yen - r.commission_yen),
            ('commission_expense', r.commission_yen),
            ('fee_income', -r.fee_yen),
            ('bcl_fee_expense', r.bcl_fee_yen),
            ('bcl_fee_accrued', -r.bcl_fee_yen),
        )
        rows = [
            {'entry_id': entry_id, 'account': account, 'amount_yen': amount, 'month': month,
             'municipality_code': r.municipality_code, 'operator_id': r.operator_id,
             'certificate_kind': r.kind}
            for account, amount in amounts if amount != 0
        ]
        if rows:
            conn.execute(lines.insert(), rows)
    voided = conn.execute(sa.text(
        "SELECT i.id, i.issue_number, i.municipality_code, i.operator_id, i.kiosk_id, i.kind,"
        " i.fee_yen, i.void_reason, t.from_state, t.at"
        " FROM issuances i JOIN issuance_transitions t"
        " ON t.issuance_id = i.id AND t.to_state = 'voided'"
        " WHERE i.state = 'voided' ORDER BY t.id"
    )).all()
    void_log = sa.table('voided_copies', *(sa.column(c) for c in (
        'issuance_id', 'issue_number', 'month', 'voided_at', 'municipality_code', 'operator_id',
        'kiosk_id', 'certificate_kind', 'from_state', 'reason', 'refunded_yen')))
    rows = [
        {'issuance_id': v.id, 'issue_number': v.issue_number,
         'month': str(Month.of(_utc(v.at))), 'voided_at': _utc(v.at),
         'municipality_code': v.municipality_code, 'operator_id': v.operator_id,
         'kiosk_id': v.kiosk_id, 'certificate_kind': v.kind, 'from_state': v.from_state,
         'reason': v.void_reason or '', 'refunded_yen': v.fee_yen if v.from_state == 'printing' else 0}
        for v in voided
    ]
    if rows:
        conn.execute(void_log.insert(), rows)


def downgrade() -> None:
    with op.batch_alter_table('ledger_lines', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_lines_month_muni')
        batch_op.drop_index(batch_op.f('ix_ledger_lines_entry_id'))

    op.drop_table('ledger_lines')
    with op.batch_alter_table('voided_copies', schema=None) as batch_op:
        batch_op.drop_index('ix_voided_copies_month_muni')

    op.drop_table('voided_copies')
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_entries_month_muni')
        batch_op.drop_index('ix_ledger_entries_kind_occurred')
        batch_op.drop_index(batch_op.f('ix_ledger_entries_issuance_id'))

    op.drop_table('ledger_entries')
    op.drop_table('operator_reported_counts')
    op.drop_table('counter_hours')
    op.drop_table('ledger_periods')
