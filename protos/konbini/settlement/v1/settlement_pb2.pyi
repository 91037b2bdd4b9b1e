import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

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
