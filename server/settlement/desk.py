"""The settlement desk: the ledger's operations, each in its own transaction, with an injected
clock. The gRPC servicer and the benchmark call this; it knows nothing of protobuf.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from server.audit import log as audit
from server.common.clock import Clock
from server.common.errors import InvalidArgument
from server.db.models import Municipality
from server.settlement import ledger, reconcile, statements
from server.settlement.counter_hours import CounterHours
from server.settlement.errors import MunicipalityNotFound
from server.settlement.models import CounterHoursSetting
from server.settlement.periods import Month, check_fiscal_year
from server.settlement.queries import check_municipality_code

MAX_REASON_CHARS = 200


class SettlementDesk:
    def __init__(self, engine: Engine, *, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    @property
    def engine(self) -> Engine:
        return self._engine

    # -- writes -----------------------------------------------------------------------------

    def close_month(self, month: str, *, actor: str = "settlement") -> ledger.MonthClose:
        m = Month.parse(month)
        with Session(self._engine) as db:
            result = ledger.close_month(db, m, now=self._clock())
            if result.newly_closed:
                details = {"digest": result.digest, "debit_total_yen": str(result.debit_total_yen)}
                subject, at = f"month:{m}", result.closed_at
                _audit(db, "settlement.month_closed", actor, subject, at, details)
            db.commit()
        return result

    def correct_copy(
        self, issuance_id: str, reason: str, *, actor: str = "settlement"
    ) -> ledger.Correction:
        if not issuance_id or len(issuance_id) > 64:
            raise InvalidArgument("issuance_id is required", field="issuance_id")
        if not reason.strip() or len(reason) > MAX_REASON_CHARS:
            raise InvalidArgument(
                f"a correction needs a reason of 1-{MAX_REASON_CHARS} characters", field="reason"
            )
        with Session(self._engine) as db:
            now = self._clock()
            result = ledger.correct_copy(db, issuance_id, reason=reason.strip(), now=now)
            if result.newly_posted:  # the reason is free text: kept in the ledger, not here
                details = {"month": result.month, "refunded_yen": str(result.refunded_yen)}
                _audit(db, "settlement.copy_corrected", actor, issuance_id, now, details)
            db.commit()
        return result

    def submit_operator_report(self, rows: Sequence[reconcile.ReportedCount]) -> int:
        with Session(self._engine) as db:
            n = reconcile.store_report(db, rows, now=self._clock())
            db.commit()
        return n

    def set_counter_hours(self, municipality_code: str, hours: CounterHours) -> CounterHours:
        check_municipality_code(municipality_code)
        with Session(self._engine) as db:
            if db.get(Municipality, municipality_code) is None:
                raise MunicipalityNotFound(f"no municipality {municipality_code}")
            row = db.get(CounterHoursSetting, municipality_code) or CounterHoursSetting(
                municipality_code=municipality_code, opens="", closes="", weekdays=""
            )
            row.opens = hours.opens.strftime("%H:%M")
            row.closes = hours.closes.strftime("%H:%M")
            row.weekdays = hours.weekdays_text
            row.closed_on_holidays = hours.closed_on_holidays
            db.add(row)
            db.commit()
        return hours

    # -- reads ------------------------------------------------------------------------------

    def counter_hours(self, municipality_code: str) -> CounterHours:
        check_municipality_code(municipality_code)
        with Session(self._engine) as db:
            if db.get(Municipality, municipality_code) is None:
                raise MunicipalityNotFound(f"no municipality {municipality_code}")
            return ledger.counter_hours_of(db, municipality_code)

    def municipality_statement(
        self, municipality_code: str, month: str
    ) -> statements.MunicipalityStatement:
        check_municipality_code(municipality_code)
        with Session(self._engine) as db:
            return statements.municipality_statement(db, municipality_code, Month.parse(month))

    def operator_statement(self, operator_id: str, month: str) -> statements.OperatorStatement:
        if not operator_id:
            raise InvalidArgument("operator_id is required", field="operator_id")
        with Session(self._engine) as db:
            return statements.operator_statement(db, operator_id, Month.parse(month))

    def fiscal_year_report(
        self, municipality_code: str, fiscal_year: int
    ) -> statements.FiscalYearReport:
        check_municipality_code(municipality_code)
        with Session(self._engine) as db:
            return statements.fiscal_year_report(
                db, municipality_code, check_fiscal_year(fiscal_year)
            )

    def statistics(self, fiscal_year: int, municipality_code: str = "") -> statements.Statistics:
        if municipality_code:
            check_municipality_code(municipality_code)
        with Session(self._engine) as db:
            return statements.statistics(db, check_fiscal_year(fiscal_year), municipality_code)

    def reconcile(self, month: str, operator_id: str = "") -> reconcile.Reconciliation:
        with Session(self._engine) as db:
            return reconcile.reconcile_month(db, Month.parse(month), operator_id)

    def void_log(self, municipality_code: str, month: str) -> tuple[statements.VoidRecord, ...]:
        check_municipality_code(municipality_code)
        with Session(self._engine) as db:
            return statements.void_log(db, municipality_code, Month.parse(month))

    def closed_month_intact(self, month: str) -> bool:
        with Session(self._engine) as db:
            return ledger.closed_month_intact(db, Month.parse(month))


def _audit(
    db: Session, event: str, actor: str, subject: str, at: datetime, details: dict[str, str]
) -> None:
    audit.append(db, event=event, actor=actor, subject=subject, details=details, at=at)
