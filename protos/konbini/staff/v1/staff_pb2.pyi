import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OfferingEntry(_message.Message):
    __slots__ = ("kind", "fee_yen", "enabled")
    KIND_FIELD_NUMBER: _ClassVar[int]
    FEE_YEN_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    kind: str
    fee_yen: int
    enabled: bool
    def __init__(self, kind: _Optional[str] = ..., fee_yen: _Optional[int] = ..., enabled: _Optional[bool] = ...) -> None: ...

class ListOfferingsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListOfferingsResponse(_message.Message):
    __slots__ = ("offerings",)
    OFFERINGS_FIELD_NUMBER: _ClassVar[int]
    offerings: _containers.RepeatedCompositeFieldContainer[OfferingEntry]
    def __init__(self, offerings: _Optional[_Iterable[_Union[OfferingEntry, _Mapping]]] = ...) -> None: ...

class SetOfferingRequest(_message.Message):
    __slots__ = ("kind", "fee_yen", "enabled")
    KIND_FIELD_NUMBER: _ClassVar[int]
    FEE_YEN_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    kind: str
    fee_yen: int
    enabled: bool
    def __init__(self, kind: _Optional[str] = ..., fee_yen: _Optional[int] = ..., enabled: _Optional[bool] = ...) -> None: ...

class Suppression(_message.Message):
    __slots__ = ("suppression_id", "resident_id", "household_id", "created_at", "lifted_at", "created_by")
    SUPPRESSION_ID_FIELD_NUMBER: _ClassVar[int]
    RESIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    HOUSEHOLD_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LIFTED_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    suppression_id: int
    resident_id: str
    household_id: str
    created_at: _timestamp_pb2.Timestamp
    lifted_at: _timestamp_pb2.Timestamp
    created_by: str
    def __init__(self, suppression_id: _Optional[int] = ..., resident_id: _Optional[str] = ..., household_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lifted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_by: _Optional[str] = ...) -> None: ...

class SuppressIssuanceRequest(_message.Message):
    __slots__ = ("resident_id", "household_id", "note")
    RESIDENT_ID_FIELD_NUMBER: _ClassVar[int]
    HOUSEHOLD_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    resident_id: str
    household_id: str
    note: str
    def __init__(self, resident_id: _Optional[str] = ..., household_id: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class LiftSuppressionRequest(_message.Message):
    __slots__ = ("suppression_id",)
    SUPPRESSION_ID_FIELD_NUMBER: _ClassVar[int]
    suppression_id: int
    def __init__(self, suppression_id: _Optional[int] = ...) -> None: ...

class ListSuppressionsRequest(_message.Message):
    __slots__ = ("include_lifted",)
    INCLUDE_LIFTED_FIELD_NUMBER: _ClassVar[int]
    include_lifted: bool
    def __init__(self, include_lifted: _Optional[bool] = ...) -> None: ...

class ListSuppressionsResponse(_message.Message):
    __slots__ = ("suppressions",)
    SUPPRESSIONS_FIELD_NUMBER: _ClassVar[int]
    suppressions: _containers.RepeatedCompositeFieldContainer[Suppression]
    def __init__(self, suppressions: _Optional[_Iterable[_Union[Suppression, _Mapping]]] = ...) -> None: ...

class SuspensionWindow(_message.Message):
    __slots__ = ("suspension_id", "kind", "starts_at", "ends_at", "reason", "cancelled")
    SUSPENSION_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STARTS_AT_FIELD_NUMBER: _ClassVar[int]
    ENDS_AT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    suspension_id: int
    kind: str
    starts_at: _timestamp_pb2.Timestamp
    ends_at: _timestamp_pb2.Timestamp
    reason: str
    cancelled: bool
    def __init__(self, suspension_id: _Optional[int] = ..., kind: _Optional[str] = ..., starts_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ends_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ..., cancelled: _Optional[bool] = ...) -> None: ...

class AddSuspensionRequest(_message.Message):
    __slots__ = ("kind", "starts_at", "ends_at", "reason")
    KIND_FIELD_NUMBER: _ClassVar[int]
    STARTS_AT_FIELD_NUMBER: _ClassVar[int]
    ENDS_AT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    kind: str
    starts_at: _timestamp_pb2.Timestamp
    ends_at: _timestamp_pb2.Timestamp
    reason: str
    def __init__(self, kind: _Optional[str] = ..., starts_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ends_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelSuspensionRequest(_message.Message):
    __slots__ = ("suspension_id",)
    SUSPENSION_ID_FIELD_NUMBER: _ClassVar[int]
    suspension_id: int
    def __init__(self, suspension_id: _Optional[int] = ...) -> None: ...

class ListSuspensionsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListSuspensionsResponse(_message.Message):
    __slots__ = ("suspensions",)
    SUSPENSIONS_FIELD_NUMBER: _ClassVar[int]
    suspensions: _containers.RepeatedCompositeFieldContainer[SuspensionWindow]
    def __init__(self, suspensions: _Optional[_Iterable[_Union[SuspensionWindow, _Mapping]]] = ...) -> None: ...

class CertificateHours(_message.Message):
    __slots__ = ("kind", "opens", "closes", "weekdays_only")
    KIND_FIELD_NUMBER: _ClassVar[int]
    OPENS_FIELD_NUMBER: _ClassVar[int]
    CLOSES_FIELD_NUMBER: _ClassVar[int]
    WEEKDAYS_ONLY_FIELD_NUMBER: _ClassVar[int]
    kind: str
    opens: str
    closes: str
    weekdays_only: bool
    def __init__(self, kind: _Optional[str] = ..., opens: _Optional[str] = ..., closes: _Optional[str] = ..., weekdays_only: _Optional[bool] = ...) -> None: ...

class SetCertificateHoursRequest(_message.Message):
    __slots__ = ("hours",)
    HOURS_FIELD_NUMBER: _ClassVar[int]
    hours: CertificateHours
    def __init__(self, hours: _Optional[_Union[CertificateHours, _Mapping]] = ...) -> None: ...

class Notice(_message.Message):
    __slots__ = ("notice_id", "municipality_code", "title", "body", "starts_at", "ends_at")
    NOTICE_ID_FIELD_NUMBER: _ClassVar[int]
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    STARTS_AT_FIELD_NUMBER: _ClassVar[int]
    ENDS_AT_FIELD_NUMBER: _ClassVar[int]
    notice_id: int
    municipality_code: str
    title: str
    body: str
    starts_at: _timestamp_pb2.Timestamp
    ends_at: _timestamp_pb2.Timestamp
    def __init__(self, notice_id: _Optional[int] = ..., municipality_code: _Optional[str] = ..., title: _Optional[str] = ..., body: _Optional[str] = ..., starts_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ends_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PublishNoticeRequest(_message.Message):
    __slots__ = ("title", "body", "starts_at", "ends_at")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    STARTS_AT_FIELD_NUMBER: _ClassVar[int]
    ENDS_AT_FIELD_NUMBER: _ClassVar[int]
    title: str
    body: str
    starts_at: _timestamp_pb2.Timestamp
    ends_at: _timestamp_pb2.Timestamp
    def __init__(self, title: _Optional[str] = ..., body: _Optional[str] = ..., starts_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ends_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
