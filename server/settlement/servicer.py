"""gRPC face of settlement: the copy register (`queries`) and the ledger (`desk`).

It only translates: requests to domain calls, domain values to messages (`protoconv`). Domain
errors leave through the one interceptor.
"""

from __future__ import annotations

import grpc
from konbini.settlement.v1 import settlement_pb2, settlement_pb2_grpc

from server.access.caller import CallerKind, OtherOperator
from server.access.interceptor import bound_caller
from server.common.clock import system_clock
from server.common.errors import InvalidArgument
from server.common.protoconv import timestamp
from server.settlement import protoconv as conv
from server.settlement.desk import SettlementDesk
from server.settlement.queries import SettlementQueries


def _page_token(token: str) -> int:
    if not token:
        return 0
    if not token.isdigit() or len(token) > 18:
        raise InvalidArgument("malformed page_token", field="page_token")
    return int(token)


class SettlementServicer(settlement_pb2_grpc.SettlementServiceServicer):
    def __init__(self, queries: SettlementQueries, desk: SettlementDesk | None = None) -> None:
        self._q = queries
        # Without a desk of its own (older wiring), the ledger runs on the system clock.
        self._desk = desk or SettlementDesk(queries.engine, clock=system_clock)

    # -- the copy register ------------------------------------------------------------------

    def ListIssuances(
        self, request: settlement_pb2.ListIssuancesRequest, context: grpc.ServicerContext
    ) -> settlement_pb2.ListIssuancesResponse:
        if request.page_size < 0:
            raise InvalidArgument("page_size must not be negative", field="page_size")
        rows, next_id = self._q.list_issuances(
            request.municipality_code,
            request.month,
            page_size=request.page_size or 100,
            after_id=_page_token(request.page_token),
        )
        return settlement_pb2.ListIssuancesResponse(
            issuances=[
                settlement_pb2.SettledIssuance(
                    issuance_id=r.issuance_id,
                    issue_number=r.issue_number,
                    certificate_kind=r.kind,
                    issued_at=timestamp(r.issued_at),
                    kiosk_id=r.kiosk_id,
                    operator_id=r.operator_id,
                    kiosk_municipality_code=r.kiosk_municipality_code,
                    fee_yen=r.fee_yen,
                    commission_yen=r.commission_yen,
                    bcl_fee_yen=r.bcl_fee_yen,
                    sheets=r.sheets,
                )
                for r in rows
            ],
            next_page_token="" if next_id is None else str(next_id),
        )

    def MonthlySummary(
        self, request: settlement_pb2.MonthlySummaryRequest, context: grpc.ServicerContext
    ) -> settlement_pb2.MonthlySummaryResponse:
        s = self._q.monthly_summary(request.municipality_code, request.month)
        return settlement_pb2.MonthlySummaryResponse(
            municipality_code=s.municipality_code,
            month=s.month,
            kinds=[
                settlement_pb2.KindSummary(
                    certificate_kind=k.kind,
                    copies=k.copies,
                    fees_yen=k.fees_yen,
                    commission_yen=k.commission_yen,
                    bcl_fee_yen=k.bcl_fee_yen,
                )
                for k in s.kinds
            ],
            total_copies=s.total_copies,
            voided_copies=s.voided_copies,
            total_fees_yen=s.total_fees_yen,
            total_commission_yen=s.total_commission_yen,
            total_bcl_fee_yen=s.total_bcl_fee_yen,
            net_remittance_yen=s.net_remittance_yen,
        )

    # -- the ledger -------------------------------------------------------------------------

    def CloseMonth(
        self, request: settlement_pb2.CloseMonthRequest, context: grpc.ServicerContext
    ) -> settlement_pb2.MonthClose:
        return conv.month_close_to_proto(self._desk.close_month(request.month))

    def GetMunicipalityStatement(
        self,
        request: settlement_pb2.MunicipalityStatementRequest,
        context: grpc.ServicerContext,
    ) -> settlement_pb2.MunicipalityStatement:
        s = self._desk.municipality_statement(request.municipality_code, request.month)
        return conv.municipality_statement_to_proto(s)

    def GetOperatorStatement(
        self, request: settlement_pb2.OperatorStatementRequest, context: grpc.ServicerContext
    ) -> settlement_pb2.OperatorStatement:
        s = self._desk.operator_statement(request.operator_id, request.month)
        return conv.operator_statement_to_proto(s)

    def GetFiscalYearReport(
        self, request: settlement_pb2.FiscalYearReportRequest, context: grpc.ServicerContext
    ) -> settlement_pb2.FiscalYearReport:
        r = self._desk.fiscal_year_report(request.municipality_code, request.fiscal_year)
        return conv.fiscal_year_report_to_proto(r)

    def GetStatistics(
        self, request: settlement_pb2.StatisticsRequest, context: grpc.ServicerContext
    ) -> settlement_pb2.Statistics:
        s = self._desk.statistics(request.fiscal_year, request.municipality_code)
        return conv.statistics_to_proto(s)

    def SubmitOperatorReport(
        self, request: settlement_pb2.SubmitOperatorReportRequest, context: grpc.ServicerContext
    ) -> settlement_pb2.SubmitOperatorReportResponse:
        caller = bound_caller(context)
        if caller is not None and caller.kind is CallerKind.KIOSK_OPERATOR:
            others = sorted({r.operator_id for r in request.rows} - {caller.operator_id or ""})
            if others:
                raise OtherOperator(
                    "an operator reports its own copies only", metadata={"operator_id": others[0]}
                )
        rows = [conv.report_row_from_proto(r) for r in request.rows]
        return settlement_pb2.SubmitOperatorReportResponse(
            rows_stored=self._desk.submit_operator_report(rows)
        )

    def Reconcile(
        self, request: settlement_pb2.ReconcileRequest, context: grpc.ServicerContext
    ) -> settlement_pb2.Reconciliation:
        r = self._desk.reconcile(request.month, request.operator_id)
        return conv.reconciliation_to_proto(r)

    def CorrectCopy(
        self, request: settlement_pb2.CorrectCopyRequest, context: grpc.ServicerContext
    ) -> settlement_pb2.CorrectCopyResponse:
        c = self._desk.correct_copy(request.issuance_id, request.reason)
        return settlement_pb2.CorrectCopyResponse(
            entry_id=c.entry_id,
            month=c.month,
            refunded_yen=c.refunded_yen,
            newly_posted=c.newly_posted,
        )

    def ListVoidedCopies(
        self, request: settlement_pb2.ListVoidedCopiesRequest, context: grpc.ServicerContext
    ) -> settlement_pb2.ListVoidedCopiesResponse:
        found = self._desk.void_log(request.municipality_code, request.month)
        return settlement_pb2.ListVoidedCopiesResponse(
            voided=[conv.void_to_proto(v) for v in found]
        )

    def GetCounterHours(
        self, request: settlement_pb2.GetCounterHoursRequest, context: grpc.ServicerContext
    ) -> settlement_pb2.CounterHours:
        hours = self._desk.counter_hours(request.municipality_code)
        return conv.counter_hours_to_proto(request.municipality_code, hours)

    def SetCounterHours(
        self, request: settlement_pb2.CounterHours, context: grpc.ServicerContext
    ) -> settlement_pb2.CounterHours:
        hours = self._desk.set_counter_hours(
            request.municipality_code, conv.counter_hours_from_proto(request)
        )
        return conv.counter_hours_to_proto(request.municipality_code, hours)
