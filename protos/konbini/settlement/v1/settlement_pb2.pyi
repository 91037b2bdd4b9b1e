import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DifferenceKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DIFFERENCE_KIND_UNSPECIFIED: _ClassVar[DifferenceKind]
    DIFFERENCE_KIND_DIFFERENT: _ClassVar[DifferenceKind]
    DIFFERENCE_KIND_NOT_REPORTED: _ClassVar[DifferenceKind]
    DIFFERENCE_KIND_NOT_RECORDED: _ClassVar[DifferenceKind]
DIFFERENCE_KIND_UNSPECIFIED: DifferenceKind
DIFFERENCE_KIND_DIFFERENT: DifferenceKind
DIFFERENCE_KIND_NOT_REPORTED: DifferenceKind
DIFFERENCE_KIND_NOT_RECORDED: DifferenceKind

class ListIssuancesRequest(_message.Message):
    __slots__ = ("municipality_code", "month", "page_size", "page_token")
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    MONTH_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    municipality_code: str
    month: str
    page_size: int
    page_token: str
    def __init__(self, municipality_code: _Optional[str] = ..., month: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class SettledIssuance(_message.Message):
    __slots__ = ("issuance_id", "issue_number", "certificate_kind", "issued_at", "kiosk_id", "operator_id", "kiosk_municipality_code", "fee_yen", "commission_yen", "bcl_fee_yen", "sheets")
    ISSUANCE_ID_FIELD_NUMBER: _ClassVar[int]
    ISSUE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_KIND_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    KIOSK_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_ID_FIELD_NUMBER: _ClassVar[int]
    KIOSK_MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    FEE_YEN_FIELD_NUMBER: _ClassVar[int]
    COMMISSION_YEN_FIELD_NUMBER: _ClassVar[int]
    BCL_FEE_YEN_FIELD_NUMBER: _ClassVar[int]
    SHEETS_FIELD_NUMBER: _ClassVar[int]
    issuance_id: str
    issue_number: str
    certificate_kind: str
    issued_at: _timestamp_pb2.Timestamp
    kiosk_id: str
    operator_id: str
    kiosk_municipality_code: str
    fee_yen: int
    commission_yen: int
    bcl_fee_yen: int
    sheets: int
    def __init__(self, issuance_id: _Optional[str] = ..., issue_number: _Optional[str] = ..., certificate_kind: _Optional[str] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., kiosk_id: _Optional[str] = ..., operator_id: _Optional[str] = ..., kiosk_municipality_code: _Optional[str] = ..., fee_yen: _Optional[int] = ..., commission_yen: _Optional[int] = ..., bcl_fee_yen: _Optional[int] = ..., sheets: _Optional[int] = ...) -> None: ...

class ListIssuancesResponse(_message.Message):
    __slots__ = ("issuances", "next_page_token")
    ISSUANCES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    issuances: _containers.RepeatedCompositeFieldContainer[SettledIssuance]
    next_page_token: str
    def __init__(self, issuances: _Optional[_Iterable[_Union[SettledIssuance, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class MonthlySummaryRequest(_message.Message):
    __slots__ = ("municipality_code", "month")
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    MONTH_FIELD_NUMBER: _ClassVar[int]
    municipality_code: str
    month: str
    def __init__(self, municipality_code: _Optional[str] = ..., month: _Optional[str] = ...) -> None: ...

class KindSummary(_message.Message):
    __slots__ = ("certificate_kind", "copies", "fees_yen", "commission_yen", "bcl_fee_yen")
    CERTIFICATE_KIND_FIELD_NUMBER: _ClassVar[int]
    COPIES_FIELD_NUMBER: _ClassVar[int]
    FEES_YEN_FIELD_NUMBER: _ClassVar[int]
    COMMISSION_YEN_FIELD_NUMBER: _ClassVar[int]
    BCL_FEE_YEN_FIELD_NUMBER: _ClassVar[int]
    certificate_kind: str
    copies: int
    fees_yen: int
    commission_yen: int
    bcl_fee_yen: int
    def __init__(self, certificate_kind: _Optional[str] = ..., copies: _Optional[int] = ..., fees_yen: _Optional[int] = ..., commission_yen: _Optional[int] = ..., bcl_fee_yen: _Optional[int] = ...) -> None: ...

class MonthlySummaryResponse(_message.Message):
    __slots__ = ("municipality_code", "month", "kinds", "total_copies", "voided_copies", "total_fees_yen", "total_commission_yen", "total_bcl_fee_yen", "net_remittance_yen")
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    MONTH_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COPIES_FIELD_NUMBER: _ClassVar[int]
    VOIDED_COPIES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FEES_YEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COMMISSION_YEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BCL_FEE_YEN_FIELD_NUMBER: _ClassVar[int]
    NET_REMITTANCE_YEN_FIELD_NUMBER: _ClassVar[int]
    municipality_code: str
    month: str
    kinds: _containers.RepeatedCompositeFieldContainer[KindSummary]
    total_copies: int
    voided_copies: int
    total_fees_yen: int
    total_commission_yen: int
    total_bcl_fee_yen: int
    net_remittance_yen: int
    def __init__(self, municipality_code: _Optional[str] = ..., month: _Optional[str] = ..., kinds: _Optional[_Iterable[_Union[KindSummary, _Mapping]]] = ..., total_copies: _Optional[int] = ..., voided_copies: _Optional[int] = ..., total_fees_yen: _Optional[int] = ..., total_commission_yen: _Optional[int] = ..., total_bcl_fee_yen: _Optional[int] = ..., net_remittance_yen: _Optional[int] = ...) -> None: ...

class CloseMonthRequest(_message.Message):
    __slots__ = ("month",)
    MONTH_FIELD_NUMBER: _ClassVar[int]
    month: str
    def __init__(self, month: _Optional[str] = ...) -> None: ...

class MonthClose(_message.Message):
    __slots__ = ("month", "closed_at", "newly_closed", "municipality_codes", "operator_ids", "entry_count", "line_count", "debit_total_yen", "digest")
    MONTH_FIELD_NUMBER: _ClassVar[int]
    CLOSED_AT_FIELD_NUMBER: _ClassVar[int]
    NEWLY_CLOSED_FIELD_NUMBER: _ClassVar[int]
    MUNICIPALITY_CODES_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_IDS_FIELD_NUMBER: _ClassVar[int]
    ENTRY_COUNT_FIELD_NUMBER: _ClassVar[int]
    LINE_COUNT_FIELD_NUMBER: _ClassVar[int]
    DEBIT_TOTAL_YEN_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    month: str
    closed_at: _timestamp_pb2.Timestamp
    newly_closed: bool
    municipality_codes: _containers.RepeatedScalarFieldContainer[str]
    operator_ids: _containers.RepeatedScalarFieldContainer[str]
    entry_count: int
    line_count: int
    debit_total_yen: int
    digest: str
    def __init__(self, month: _Optional[str] = ..., closed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., newly_closed: _Optional[bool] = ..., municipality_codes: _Optional[_Iterable[str]] = ..., operator_ids: _Optional[_Iterable[str]] = ..., entry_count: _Optional[int] = ..., line_count: _Optional[int] = ..., debit_total_yen: _Optional[int] = ..., digest: _Optional[str] = ...) -> None: ...

class SettlementCell(_message.Message):
    __slots__ = ("municipality_code", "operator_id", "certificate_kind", "copies", "fees_yen", "commission_yen", "bcl_fee_yen", "net_remittance_yen", "after_hours_copies", "other_municipality_copies", "counter_copies")
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_ID_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_KIND_FIELD_NUMBER: _ClassVar[int]
    COPIES_FIELD_NUMBER: _ClassVar[int]
    FEES_YEN_FIELD_NUMBER: _ClassVar[int]
    COMMISSION_YEN_FIELD_NUMBER: _ClassVar[int]
    BCL_FEE_YEN_FIELD_NUMBER: _ClassVar[int]
    NET_REMITTANCE_YEN_FIELD_NUMBER: _ClassVar[int]
    AFTER_HOURS_COPIES_FIELD_NUMBER: _ClassVar[int]
    OTHER_MUNICIPALITY_COPIES_FIELD_NUMBER: _ClassVar[int]
    COUNTER_COPIES_FIELD_NUMBER: _ClassVar[int]
    municipality_code: str
    operator_id: str
    certificate_kind: str
    copies: int
    fees_yen: int
    commission_yen: int
    bcl_fee_yen: int
    net_remittance_yen: int
    after_hours_copies: int
    other_municipality_copies: int
    counter_copies: int
    def __init__(self, municipality_code: _Optional[str] = ..., operator_id: _Optional[str] = ..., certificate_kind: _Optional[str] = ..., copies: _Optional[int] = ..., fees_yen: _Optional[int] = ..., commission_yen: _Optional[int] = ..., bcl_fee_yen: _Optional[int] = ..., net_remittance_yen: _Optional[int] = ..., after_hours_copies: _Optional[int] = ..., other_municipality_copies: _Optional[int] = ..., counter_copies: _Optional[int] = ...) -> None: ...

class MunicipalityStatementRequest(_message.Message):
    __slots__ = ("municipality_code", "month")
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    MONTH_FIELD_NUMBER: _ClassVar[int]
    municipality_code: str
    month: str
    def __init__(self, municipality_code: _Optional[str] = ..., month: _Optional[str] = ...) -> None: ...

class MunicipalityStatement(_message.Message):
    __slots__ = ("month", "municipality_code", "municipality_name", "backend", "closed", "closed_at", "cells", "contribution_yen", "bcl_billed_yen", "voided_copies")
    MONTH_FIELD_NUMBER: _ClassVar[int]
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    MUNICIPALITY_NAME_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    CLOSED_FIELD_NUMBER: _ClassVar[int]
    CLOSED_AT_FIELD_NUMBER: _ClassVar[int]
    CELLS_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_YEN_FIELD_NUMBER: _ClassVar[int]
    BCL_BILLED_YEN_FIELD_NUMBER: _ClassVar[int]
    VOIDED_COPIES_FIELD_NUMBER: _ClassVar[int]
    month: str
    municipality_code: str
    municipality_name: str
    backend: str
    closed: bool
    closed_at: _timestamp_pb2.Timestamp
    cells: _containers.RepeatedCompositeFieldContainer[SettlementCell]
    contribution_yen: int
    bcl_billed_yen: int
    voided_copies: int
    def __init__(self, month: _Optional[str] = ..., municipality_code: _Optional[str] = ..., municipality_name: _Optional[str] = ..., backend: _Optional[str] = ..., closed: _Optional[bool] = ..., closed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cells: _Optional[_Iterable[_Union[SettlementCell, _Mapping]]] = ..., contribution_yen: _Optional[int] = ..., bcl_billed_yen: _Optional[int] = ..., voided_copies: _Optional[int] = ...) -> None: ...

class OperatorStatementRequest(_message.Message):
    __slots__ = ("operator_id", "month")
    OPERATOR_ID_FIELD_NUMBER: _ClassVar[int]
    MONTH_FIELD_NUMBER: _ClassVar[int]
    operator_id: str
    month: str
    def __init__(self, operator_id: _Optional[str] = ..., month: _Optional[str] = ...) -> None: ...

class OperatorStatement(_message.Message):
    __slots__ = ("month", "operator_id", "operator_name", "closed", "closed_at", "cells")
    MONTH_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_NAME_FIELD_NUMBER: _ClassVar[int]
    CLOSED_FIELD_NUMBER: _ClassVar[int]
    CLOSED_AT_FIELD_NUMBER: _ClassVar[int]
    CELLS_FIELD_NUMBER: _ClassVar[int]
    month: str
    operator_id: str
    operator_name: str
    closed: bool
    closed_at: _timestamp_pb2.Timestamp
    cells: _containers.RepeatedCompositeFieldContainer[SettlementCell]
    def __init__(self, month: _Optional[str] = ..., operator_id: _Optional[str] = ..., operator_name: _Optional[str] = ..., closed: _Optional[bool] = ..., closed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cells: _Optional[_Iterable[_Union[SettlementCell, _Mapping]]] = ...) -> None: ...

class FiscalYearReportRequest(_message.Message):
    __slots__ = ("municipality_code", "fiscal_year")
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    FISCAL_YEAR_FIELD_NUMBER: _ClassVar[int]
    municipality_code: str
    fiscal_year: int
    def __init__(self, municipality_code: _Optional[str] = ..., fiscal_year: _Optional[int] = ...) -> None: ...

class MonthTotals(_message.Message):
    __slots__ = ("month", "copies", "fees_yen", "commission_yen", "bcl_fee_yen", "net_remittance_yen", "contribution_yen", "bcl_billed_yen", "closed", "total_cost_yen")
    MONTH_FIELD_NUMBER: _ClassVar[int]
    COPIES_FIELD_NUMBER: _ClassVar[int]
    FEES_YEN_FIELD_NUMBER: _ClassVar[int]
    COMMISSION_YEN_FIELD_NUMBER: _ClassVar[int]
    BCL_FEE_YEN_FIELD_NUMBER: _ClassVar[int]
    NET_REMITTANCE_YEN_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_YEN_FIELD_NUMBER: _ClassVar[int]
    BCL_BILLED_YEN_FIELD_NUMBER: _ClassVar[int]
    CLOSED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COST_YEN_FIELD_NUMBER: _ClassVar[int]
    month: str
    copies: int
    fees_yen: int
    commission_yen: int
    bcl_fee_yen: int
    net_remittance_yen: int
    contribution_yen: int
    bcl_billed_yen: int
    closed: bool
    total_cost_yen: int
    def __init__(self, month: _Optional[str] = ..., copies: _Optional[int] = ..., fees_yen: _Optional[int] = ..., commission_yen: _Optional[int] = ..., bcl_fee_yen: _Optional[int] = ..., net_remittance_yen: _Optional[int] = ..., contribution_yen: _Optional[int] = ..., bcl_billed_yen: _Optional[int] = ..., closed: _Optional[bool] = ..., total_cost_yen: _Optional[int] = ...) -> None: ...

class CopyCount(_message.Message):
    __slots__ = ("key", "copies")
    KEY_FIELD_NUMBER: _ClassVar[int]
    COPIES_FIELD_NUMBER: _ClassVar[int]
    key: str
    copies: int
    def __init__(self, key: _Optional[str] = ..., copies: _Optional[int] = ...) -> None: ...

class FiscalYearReport(_message.Message):
    __slots__ = ("municipality_code", "municipality_name", "fiscal_year", "backend", "municipality_class", "months", "total", "copies_by_kind")
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    MUNICIPALITY_NAME_FIELD_NUMBER: _ClassVar[int]
    FISCAL_YEAR_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    MUNICIPALITY_CLASS_FIELD_NUMBER: _ClassVar[int]
    MONTHS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    COPIES_BY_KIND_FIELD_NUMBER: _ClassVar[int]
    municipality_code: str
    municipality_name: str
    fiscal_year: int
    backend: str
    municipality_class: str
    months: _containers.RepeatedCompositeFieldContainer[MonthTotals]
    total: MonthTotals
    copies_by_kind: _containers.RepeatedCompositeFieldContainer[CopyCount]
    def __init__(self, municipality_code: _Optional[str] = ..., municipality_name: _Optional[str] = ..., fiscal_year: _Optional[int] = ..., backend: _Optional[str] = ..., municipality_class: _Optional[str] = ..., months: _Optional[_Iterable[_Union[MonthTotals, _Mapping]]] = ..., total: _Optional[_Union[MonthTotals, _Mapping]] = ..., copies_by_kind: _Optional[_Iterable[_Union[CopyCount, _Mapping]]] = ...) -> None: ...

class StatisticsRequest(_message.Message):
    __slots__ = ("fiscal_year", "municipality_code")
    FISCAL_YEAR_FIELD_NUMBER: _ClassVar[int]
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    fiscal_year: int
    municipality_code: str
    def __init__(self, fiscal_year: _Optional[int] = ..., municipality_code: _Optional[str] = ...) -> None: ...

class MonthPoint(_message.Message):
    __slots__ = ("month", "copies", "participating_municipalities")
    MONTH_FIELD_NUMBER: _ClassVar[int]
    COPIES_FIELD_NUMBER: _ClassVar[int]
    PARTICIPATING_MUNICIPALITIES_FIELD_NUMBER: _ClassVar[int]
    month: str
    copies: int
    participating_municipalities: int
    def __init__(self, month: _Optional[str] = ..., copies: _Optional[int] = ..., participating_municipalities: _Optional[int] = ...) -> None: ...

class Statistics(_message.Message):
    __slots__ = ("fiscal_year", "municipality_code", "months", "by_kind", "by_operator", "copies", "after_hours_copies", "other_municipality_copies", "counter_copies")
    FISCAL_YEAR_FIELD_NUMBER: _ClassVar[int]
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    MONTHS_FIELD_NUMBER: _ClassVar[int]
    BY_KIND_FIELD_NUMBER: _ClassVar[int]
    BY_OPERATOR_FIELD_NUMBER: _ClassVar[int]
    COPIES_FIELD_NUMBER: _ClassVar[int]
    AFTER_HOURS_COPIES_FIELD_NUMBER: _ClassVar[int]
    OTHER_MUNICIPALITY_COPIES_FIELD_NUMBER: _ClassVar[int]
    COUNTER_COPIES_FIELD_NUMBER: _ClassVar[int]
    fiscal_year: int
    municipality_code: str
    months: _containers.RepeatedCompositeFieldContainer[MonthPoint]
    by_kind: _containers.RepeatedCompositeFieldContainer[CopyCount]
    by_operator: _containers.RepeatedCompositeFieldContainer[CopyCount]
    copies: int
    after_hours_copies: int
    other_municipality_copies: int
    counter_copies: int
    def __init__(self, fiscal_year: _Optional[int] = ..., municipality_code: _Optional[str] = ..., months: _Optional[_Iterable[_Union[MonthPoint, _Mapping]]] = ..., by_kind: _Optional[_Iterable[_Union[CopyCount, _Mapping]]] = ..., by_operator: _Optional[_Iterable[_Union[CopyCount, _Mapping]]] = ..., copies: _Optional[int] = ..., after_hours_copies: _Optional[int] = ..., other_municipality_copies: _Optional[int] = ..., counter_copies: _Optional[int] = ...) -> None: ...

class OperatorReportRow(_message.Message):
    __slots__ = ("operator_id", "month", "municipality_code", "certificate_kind", "copies")
    OPERATOR_ID_FIELD_NUMBER: _ClassVar[int]
    MONTH_FIELD_NUMBER: _ClassVar[int]
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_KIND_FIELD_NUMBER: _ClassVar[int]
    COPIES_FIELD_NUMBER: _ClassVar[int]
    operator_id: str
    month: str
    municipality_code: str
    certificate_kind: str
    copies: int
    def __init__(self, operator_id: _Optional[str] = ..., month: _Optional[str] = ..., municipality_code: _Optional[str] = ..., certificate_kind: _Optional[str] = ..., copies: _Optional[int] = ...) -> None: ...

class SubmitOperatorReportRequest(_message.Message):
    __slots__ = ("rows",)
    ROWS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[OperatorReportRow]
    def __init__(self, rows: _Optional[_Iterable[_Union[OperatorReportRow, _Mapping]]] = ...) -> None: ...

class SubmitOperatorReportResponse(_message.Message):
    __slots__ = ("rows_stored",)
    ROWS_STORED_FIELD_NUMBER: _ClassVar[int]
    rows_stored: int
    def __init__(self, rows_stored: _Optional[int] = ...) -> None: ...

class ReconcileRequest(_message.Message):
    __slots__ = ("month", "operator_id")
    MONTH_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_ID_FIELD_NUMBER: _ClassVar[int]
    month: str
    operator_id: str
    def __init__(self, month: _Optional[str] = ..., operator_id: _Optional[str] = ...) -> None: ...

class CountDifference(_message.Message):
    __slots__ = ("operator_id", "municipality_code", "certificate_kind", "reported", "recorded", "kind")
    OPERATOR_ID_FIELD_NUMBER: _ClassVar[int]
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_KIND_FIELD_NUMBER: _ClassVar[int]
    REPORTED_FIELD_NUMBER: _ClassVar[int]
    RECORDED_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    operator_id: str
    municipality_code: str
    certificate_kind: str
    reported: int
    recorded: int
    kind: DifferenceKind
    def __init__(self, operator_id: _Optional[str] = ..., municipality_code: _Optional[str] = ..., certificate_kind: _Optional[str] = ..., reported: _Optional[int] = ..., recorded: _Optional[int] = ..., kind: _Optional[_Union[DifferenceKind, str]] = ...) -> None: ...

class Reconciliation(_message.Message):
    __slots__ = ("month", "operator_id", "reports_received", "differences", "matched_cells", "reported_copies", "recorded_copies")
    MONTH_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_ID_FIELD_NUMBER: _ClassVar[int]
    REPORTS_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCES_FIELD_NUMBER: _ClassVar[int]
    MATCHED_CELLS_FIELD_NUMBER: _ClassVar[int]
    REPORTED_COPIES_FIELD_NUMBER: _ClassVar[int]
    RECORDED_COPIES_FIELD_NUMBER: _ClassVar[int]
    month: str
    operator_id: str
    reports_received: _containers.RepeatedScalarFieldContainer[str]
    differences: _containers.RepeatedCompositeFieldContainer[CountDifference]
    matched_cells: int
    reported_copies: int
    recorded_copies: int
    def __init__(self, month: _Optional[str] = ..., operator_id: _Optional[str] = ..., reports_received: _Optional[_Iterable[str]] = ..., differences: _Optional[_Iterable[_Union[CountDifference, _Mapping]]] = ..., matched_cells: _Optional[int] = ..., reported_copies: _Optional[int] = ..., recorded_copies: _Optional[int] = ...) -> None: ...

class CorrectCopyRequest(_message.Message):
    __slots__ = ("issuance_id", "reason")
    ISSUANCE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    issuance_id: str
    reason: str
    def __init__(self, issuance_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CorrectCopyResponse(_message.Message):
    __slots__ = ("entry_id", "month", "refunded_yen", "newly_posted")
    ENTRY_ID_FIELD_NUMBER: _ClassVar[int]
    MONTH_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_YEN_FIELD_NUMBER: _ClassVar[int]
    NEWLY_POSTED_FIELD_NUMBER: _ClassVar[int]
    entry_id: int
    month: str
    refunded_yen: int
    newly_posted: bool
    def __init__(self, entry_id: _Optional[int] = ..., month: _Optional[str] = ..., refunded_yen: _Optional[int] = ..., newly_posted: _Optional[bool] = ...) -> None: ...

class ListVoidedCopiesRequest(_message.Message):
    __slots__ = ("municipality_code", "month")
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    MONTH_FIELD_NUMBER: _ClassVar[int]
    municipality_code: str
    month: str
    def __init__(self, municipality_code: _Optional[str] = ..., month: _Optional[str] = ...) -> None: ...

class VoidedCopy(_message.Message):
    __slots__ = ("issuance_id", "issue_number", "voided_at", "operator_id", "kiosk_id", "certificate_kind", "from_state", "reason", "refunded_yen")
    ISSUANCE_ID_FIELD_NUMBER: _ClassVar[int]
    ISSUE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    VOIDED_AT_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_ID_FIELD_NUMBER: _ClassVar[int]
    KIOSK_ID_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_KIND_FIELD_NUMBER: _ClassVar[int]
    FROM_STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_YEN_FIELD_NUMBER: _ClassVar[int]
    issuance_id: str
    issue_number: str
    voided_at: _timestamp_pb2.Timestamp
    operator_id: str
    kiosk_id: str
    certificate_kind: str
    from_state: str
    reason: str
    refunded_yen: int
    def __init__(self, issuance_id: _Optional[str] = ..., issue_number: _Optional[str] = ..., voided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., operator_id: _Optional[str] = ..., kiosk_id: _Optional[str] = ..., certificate_kind: _Optional[str] = ..., from_state: _Optional[str] = ..., reason: _Optional[str] = ..., refunded_yen: _Optional[int] = ...) -> None: ...

class ListVoidedCopiesResponse(_message.Message):
    __slots__ = ("voided",)
    VOIDED_FIELD_NUMBER: _ClassVar[int]
    voided: _containers.RepeatedCompositeFieldContainer[VoidedCopy]
    def __init__(self, voided: _Optional[_Iterable[_Union[VoidedCopy, _Mapping]]] = ...) -> None: ...

class GetCounterHoursRequest(_message.Message):
    __slots__ = ("municipality_code",)
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    municipality_code: str
    def __init__(self, municipality_code: _Optional[str] = ...) -> None: ...

class CounterHours(_message.Message):
    __slots__ = ("municipality_code", "opens", "closes", "weekdays", "closed_on_holidays")
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    OPENS_FIELD_NUMBER: _ClassVar[int]
    CLOSES_FIELD_NUMBER: _ClassVar[int]
    WEEKDAYS_FIELD_NUMBER: _ClassVar[int]
    CLOSED_ON_HOLIDAYS_FIELD_NUMBER: _ClassVar[int]
    municipality_code: str
    opens: str
    closes: str
    weekdays: _containers.RepeatedScalarFieldContainer[int]
    closed_on_holidays: bool
    def __init__(self, municipality_code: _Optional[str] = ..., opens: _Optional[str] = ..., closes: _Optional[str] = ..., weekdays: _Optional[_Iterable[int]] = ..., closed_on_holidays: _Optional[bool] = ...) -> None: ...
