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

class MatchReason(_message.Message):
    __slots__ = ("code", "label", "points")
    CODE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    code: str
    label: str
    points: int
    def __init__(self, code: _Optional[str] = ..., label: _Optional[str] = ..., points: _Optional[int] = ...) -> None: ...

class KosekiCandidate(_message.Message):
    __slots__ = ("koseki_id", "member_no", "family_name", "given_name", "family_name_kana", "given_name_kana", "birth_date", "sex", "relationship", "honseki", "hittousha", "score", "reasons")
    KOSEKI_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_NO_FIELD_NUMBER: _ClassVar[int]
    FAMILY_NAME_FIELD_NUMBER: _ClassVar[int]
    GIVEN_NAME_FIELD_NUMBER: _ClassVar[int]
    FAMILY_NAME_KANA_FIELD_NUMBER: _ClassVar[int]
    GIVEN_NAME_KANA_FIELD_NUMBER: _ClassVar[int]
    BIRTH_DATE_FIELD_NUMBER: _ClassVar[int]
    SEX_FIELD_NUMBER: _ClassVar[int]
    RELATIONSHIP_FIELD_NUMBER: _ClassVar[int]
    HONSEKI_FIELD_NUMBER: _ClassVar[int]
    HITTOUSHA_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    koseki_id: str
    member_no: int
    family_name: str
    given_name: str
    family_name_kana: str
    given_name_kana: str
    birth_date: str
    sex: str
    relationship: str
    honseki: str
    hittousha: str
    score: int
    reasons: _containers.RepeatedCompositeFieldContainer[MatchReason]
    def __init__(self, koseki_id: _Optional[str] = ..., member_no: _Optional[int] = ..., family_name: _Optional[str] = ..., given_name: _Optional[str] = ..., family_name_kana: _Optional[str] = ..., given_name_kana: _Optional[str] = ..., birth_date: _Optional[str] = ..., sex: _Optional[str] = ..., relationship: _Optional[str] = ..., honseki: _Optional[str] = ..., hittousha: _Optional[str] = ..., score: _Optional[int] = ..., reasons: _Optional[_Iterable[_Union[MatchReason, _Mapping]]] = ...) -> None: ...

class HonsekiRequest(_message.Message):
    __slots__ = ("registration_id", "state", "residence_municipality_code", "family_name", "given_name", "family_name_kana", "given_name_kana", "former_family_name", "birth_date", "sex", "address", "honseki", "hittousha", "requested_at", "koseki_id", "member_no", "decided_by", "decided_at", "candidates")
    REGISTRATION_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RESIDENCE_MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    FAMILY_NAME_FIELD_NUMBER: _ClassVar[int]
    GIVEN_NAME_FIELD_NUMBER: _ClassVar[int]
    FAMILY_NAME_KANA_FIELD_NUMBER: _ClassVar[int]
    GIVEN_NAME_KANA_FIELD_NUMBER: _ClassVar[int]
    FORMER_FAMILY_NAME_FIELD_NUMBER: _ClassVar[int]
    BIRTH_DATE_FIELD_NUMBER: _ClassVar[int]
    SEX_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    HONSEKI_FIELD_NUMBER: _ClassVar[int]
    HITTOUSHA_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    KOSEKI_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_NO_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    registration_id: str
    state: str
    residence_municipality_code: str
    family_name: str
    given_name: str
    family_name_kana: str
    given_name_kana: str
    former_family_name: str
    birth_date: str
    sex: str
    address: str
    honseki: str
    hittousha: str
    requested_at: _timestamp_pb2.Timestamp
    koseki_id: str
    member_no: int
    decided_by: str
    decided_at: _timestamp_pb2.Timestamp
    candidates: _containers.RepeatedCompositeFieldContainer[KosekiCandidate]
    def __init__(self, registration_id: _Optional[str] = ..., state: _Optional[str] = ..., residence_municipality_code: _Optional[str] = ..., family_name: _Optional[str] = ..., given_name: _Optional[str] = ..., family_name_kana: _Optional[str] = ..., given_name_kana: _Optional[str] = ..., former_family_name: _Optional[str] = ..., birth_date: _Optional[str] = ..., sex: _Optional[str] = ..., address: _Optional[str] = ..., honseki: _Optional[str] = ..., hittousha: _Optional[str] = ..., requested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., koseki_id: _Optional[str] = ..., member_no: _Optional[int] = ..., decided_by: _Optional[str] = ..., decided_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., candidates: _Optional[_Iterable[_Union[KosekiCandidate, _Mapping]]] = ...) -> None: ...

class ListHonsekiRequestsRequest(_message.Message):
    __slots__ = ("include_decided",)
    INCLUDE_DECIDED_FIELD_NUMBER: _ClassVar[int]
    include_decided: bool
    def __init__(self, include_decided: _Optional[bool] = ...) -> None: ...

class ListHonsekiRequestsResponse(_message.Message):
    __slots__ = ("requests",)
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    requests: _containers.RepeatedCompositeFieldContainer[HonsekiRequest]
    def __init__(self, requests: _Optional[_Iterable[_Union[HonsekiRequest, _Mapping]]] = ...) -> None: ...

class ApproveHonsekiRequestRequest(_message.Message):
    __slots__ = ("registration_id", "koseki_id", "member_no", "note")
    REGISTRATION_ID_FIELD_NUMBER: _ClassVar[int]
    KOSEKI_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_NO_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    registration_id: str
    koseki_id: str
    member_no: int
    note: str
    def __init__(self, registration_id: _Optional[str] = ..., koseki_id: _Optional[str] = ..., member_no: _Optional[int] = ..., note: _Optional[str] = ...) -> None: ...

class RejectHonsekiRequestRequest(_message.Message):
    __slots__ = ("registration_id", "note")
    REGISTRATION_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    registration_id: str
    note: str
    def __init__(self, registration_id: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class HandOverCounterCopyRequest(_message.Message):
    __slots__ = ("reception_number",)
    RECEPTION_NUMBER_FIELD_NUMBER: _ClassVar[int]
    reception_number: str
    def __init__(self, reception_number: _Optional[str] = ...) -> None: ...

class CounterCopy(_message.Message):
    __slots__ = ("reception_number", "state", "kind", "title", "fee_yen", "pages", "issue_number", "terminal_id", "printed_at", "collect_by", "handed_over_at", "handed_over_by")
    RECEPTION_NUMBER_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    FEE_YEN_FIELD_NUMBER: _ClassVar[int]
    PAGES_FIELD_NUMBER: _ClassVar[int]
    ISSUE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    TERMINAL_ID_FIELD_NUMBER: _ClassVar[int]
    PRINTED_AT_FIELD_NUMBER: _ClassVar[int]
    COLLECT_BY_FIELD_NUMBER: _ClassVar[int]
    HANDED_OVER_AT_FIELD_NUMBER: _ClassVar[int]
    HANDED_OVER_BY_FIELD_NUMBER: _ClassVar[int]
    reception_number: str
    state: str
    kind: str
    title: str
    fee_yen: int
    pages: int
    issue_number: str
    terminal_id: str
    printed_at: _timestamp_pb2.Timestamp
    collect_by: _timestamp_pb2.Timestamp
    handed_over_at: _timestamp_pb2.Timestamp
    handed_over_by: str
    def __init__(self, reception_number: _Optional[str] = ..., state: _Optional[str] = ..., kind: _Optional[str] = ..., title: _Optional[str] = ..., fee_yen: _Optional[int] = ..., pages: _Optional[int] = ..., issue_number: _Optional[str] = ..., terminal_id: _Optional[str] = ..., printed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., collect_by: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., handed_over_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., handed_over_by: _Optional[str] = ...) -> None: ...

class ListCounterCopiesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListCounterCopiesResponse(_message.Message):
    __slots__ = ("copies",)
    COPIES_FIELD_NUMBER: _ClassVar[int]
    copies: _containers.RepeatedCompositeFieldContainer[CounterCopy]
    def __init__(self, copies: _Optional[_Iterable[_Union[CounterCopy, _Mapping]]] = ...) -> None: ...

class SetTaxYearsRequest(_message.Message):
    __slots__ = ("fiscal_years",)
    FISCAL_YEARS_FIELD_NUMBER: _ClassVar[int]
    fiscal_years: int
    def __init__(self, fiscal_years: _Optional[int] = ...) -> None: ...

class TaxYearsSetting(_message.Message):
    __slots__ = ("fiscal_years", "municipality_setting", "offered")
    FISCAL_YEARS_FIELD_NUMBER: _ClassVar[int]
    MUNICIPALITY_SETTING_FIELD_NUMBER: _ClassVar[int]
    OFFERED_FIELD_NUMBER: _ClassVar[int]
    fiscal_years: int
    municipality_setting: bool
    offered: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, fiscal_years: _Optional[int] = ..., municipality_setting: _Optional[bool] = ..., offered: _Optional[_Iterable[int]] = ...) -> None: ...
