"""gRPC face of `server.settlement.queries`."""

from __future__ import annotations

import grpc
from konbini.settlement.v1 import settlement_pb2, settlement_pb2_grpc

from server.common.errors import InvalidArgument
from server.common.protoconv import timestamp
from server.settlement.queries import SettlementQueries


def _page_token(token: str) -> int:
    if not token:
        return 0
    if not token.isdigit() or len(token) > 18:
        raise InvalidArgument("malformed page_token", field="page_token")
    return int(token)


class SettlementServicer(settlement_pb2_grpc.SettlementServiceServicer):  # type: ignore[misc]
    def __init__(self, queries: SettlementQueries) -> None:
        self._q = queries

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
