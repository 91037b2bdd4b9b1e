import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CertificateKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CERTIFICATE_KIND_UNSPECIFIED: _ClassVar[CertificateKind]
    CERTIFICATE_KIND_JUMINHYO: _ClassVar[CertificateKind]
    CERTIFICATE_KIND_INKAN: _ClassVar[CertificateKind]
    CERTIFICATE_KIND_JUMINHYO_KISAI: _ClassVar[CertificateKind]
    CERTIFICATE_KIND_TAX_INCOME: _ClassVar[CertificateKind]
    CERTIFICATE_KIND_TAX_ASSESSMENT: _ClassVar[CertificateKind]
    CERTIFICATE_KIND_TAX_PAYMENT: _ClassVar[CertificateKind]
    CERTIFICATE_KIND_KOSEKI_ZENBU: _ClassVar[CertificateKind]
    CERTIFICATE_KIND_KOSEKI_KOJIN: _ClassVar[CertificateKind]
    CERTIFICATE_KIND_KOSEKI_FUHYO: _ClassVar[CertificateKind]

class IssuanceState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ISSUANCE_STATE_UNSPECIFIED: _ClassVar[IssuanceState]
    ISSUANCE_STATE_RESERVED: _ClassVar[IssuanceState]
    ISSUANCE_STATE_PRINTING: _ClassVar[IssuanceState]
    ISSUANCE_STATE_ISSUED: _ClassVar[IssuanceState]
    ISSUANCE_STATE_VOIDED: _ClassVar[IssuanceState]
    ISSUANCE_STATE_AWAITING_HANDOVER: _ClassVar[IssuanceState]

class HonsekiRegistrationState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HONSEKI_REGISTRATION_STATE_UNSPECIFIED: _ClassVar[HonsekiRegistrationState]
    HONSEKI_REGISTRATION_STATE_PENDING: _ClassVar[HonsekiRegistrationState]
    HONSEKI_REGISTRATION_STATE_APPROVED: _ClassVar[HonsekiRegistrationState]
    HONSEKI_REGISTRATION_STATE_REJECTED: _ClassVar[HonsekiRegistrationState]

class PrintOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PRINT_OUTCOME_UNSPECIFIED: _ClassVar[PrintOutcome]
    PRINT_OUTCOME_PRINTED: _ClassVar[PrintOutcome]
    PRINT_OUTCOME_FAILED: _ClassVar[PrintOutcome]
CERTIFICATE_KIND_UNSPECIFIED: CertificateKind
CERTIFICATE_KIND_JUMINHYO: CertificateKind
CERTIFICATE_KIND_INKAN: CertificateKind
CERTIFICATE_KIND_JUMINHYO_KISAI: CertificateKind
CERTIFICATE_KIND_TAX_INCOME: CertificateKind
CERTIFICATE_KIND_TAX_ASSESSMENT: CertificateKind
CERTIFICATE_KIND_TAX_PAYMENT: CertificateKind
CERTIFICATE_KIND_KOSEKI_ZENBU: CertificateKind
CERTIFICATE_KIND_KOSEKI_KOJIN: CertificateKind
CERTIFICATE_KIND_KOSEKI_FUHYO: CertificateKind
ISSUANCE_STATE_UNSPECIFIED: IssuanceState
ISSUANCE_STATE_RESERVED: IssuanceState
ISSUANCE_STATE_PRINTING: IssuanceState
ISSUANCE_STATE_ISSUED: IssuanceState
ISSUANCE_STATE_VOIDED: IssuanceState
ISSUANCE_STATE_AWAITING_HANDOVER: IssuanceState
HONSEKI_REGISTRATION_STATE_UNSPECIFIED: HonsekiRegistrationState
HONSEKI_REGISTRATION_STATE_PENDING: HonsekiRegistrationState
HONSEKI_REGISTRATION_STATE_APPROVED: HonsekiRegistrationState
HONSEKI_REGISTRATION_STATE_REJECTED: HonsekiRegistrationState
PRINT_OUTCOME_UNSPECIFIED: PrintOutcome
PRINT_OUTCOME_PRINTED: PrintOutcome
PRINT_OUTCOME_FAILED: PrintOutcome

class Subject(_message.Message):
    __slots__ = ("subject_id", "display_name", "is_self")
    SUBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    IS_SELF_FIELD_NUMBER: _ClassVar[int]
    subject_id: str
    display_name: str
    is_self: bool
    def __init__(self, subject_id: _Optional[str] = ..., display_name: _Optional[str] = ..., is_self: _Optional[bool] = ...) -> None: ...

class Offering(_message.Message):
    __slots__ = ("kind", "title", "fee_yen", "eligible_subjects", "allows_head_and_relationship", "allows_honseki", "available", "unavailable_reason", "unavailable_message", "fiscal_years", "municipality_code", "municipality_name")
    KIND_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    FEE_YEN_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_SUBJECTS_FIELD_NUMBER: _ClassVar[int]
    ALLOWS_HEAD_AND_RELATIONSHIP_FIELD_NUMBER: _ClassVar[int]
    ALLOWS_HONSEKI_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    UNAVAILABLE_REASON_FIELD_NUMBER: _ClassVar[int]
    UNAVAILABLE_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FISCAL_YEARS_FIELD_NUMBER: _ClassVar[int]
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    MUNICIPALITY_NAME_FIELD_NUMBER: _ClassVar[int]
    kind: CertificateKind
    title: str
    fee_yen: int
    eligible_subjects: _containers.RepeatedCompositeFieldContainer[Subject]
    allows_head_and_relationship: bool
    allows_honseki: bool
    available: bool
    unavailable_reason: str
    unavailable_message: str
    fiscal_years: _containers.RepeatedScalarFieldContainer[int]
    municipality_code: str
    municipality_name: str
    def __init__(self, kind: _Optional[_Union[CertificateKind, str]] = ..., title: _Optional[str] = ..., fee_yen: _Optional[int] = ..., eligible_subjects: _Optional[_Iterable[_Union[Subject, _Mapping]]] = ..., allows_head_and_relationship: _Optional[bool] = ..., allows_honseki: _Optional[bool] = ..., available: _Optional[bool] = ..., unavailable_reason: _Optional[str] = ..., unavailable_message: _Optional[str] = ..., fiscal_years: _Optional[_Iterable[int]] = ..., municipality_code: _Optional[str] = ..., municipality_name: _Optional[str] = ...) -> None: ...

class ListOfferingsRequest(_message.Message):
    __slots__ = ("session_token",)
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    session_token: str
    def __init__(self, session_token: _Optional[str] = ...) -> None: ...

class ListOfferingsResponse(_message.Message):
    __slots__ = ("offerings", "honseki_registrations")
    OFFERINGS_FIELD_NUMBER: _ClassVar[int]
    HONSEKI_REGISTRATIONS_FIELD_NUMBER: _ClassVar[int]
    offerings: _containers.RepeatedCompositeFieldContainer[Offering]
    honseki_registrations: _containers.RepeatedCompositeFieldContainer[HonsekiRegistration]
    def __init__(self, offerings: _Optional[_Iterable[_Union[Offering, _Mapping]]] = ..., honseki_registrations: _Optional[_Iterable[_Union[HonsekiRegistration, _Mapping]]] = ...) -> None: ...

class HonsekiRegistration(_message.Message):
    __slots__ = ("registration_id", "municipality_code", "municipality_name", "state", "requested_at")
    REGISTRATION_ID_FIELD_NUMBER: _ClassVar[int]
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    MUNICIPALITY_NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    registration_id: str
    municipality_code: str
    municipality_name: str
    state: HonsekiRegistrationState
    requested_at: _timestamp_pb2.Timestamp
    def __init__(self, registration_id: _Optional[str] = ..., municipality_code: _Optional[str] = ..., municipality_name: _Optional[str] = ..., state: _Optional[_Union[HonsekiRegistrationState, str]] = ..., requested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RequestHonsekiRegistrationRequest(_message.Message):
    __slots__ = ("session_token", "honseki_municipality_code", "hittousha", "honseki")
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    HONSEKI_MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    HITTOUSHA_FIELD_NUMBER: _ClassVar[int]
    HONSEKI_FIELD_NUMBER: _ClassVar[int]
    session_token: str
    honseki_municipality_code: str
    hittousha: str
    honseki: str
    def __init__(self, session_token: _Optional[str] = ..., honseki_municipality_code: _Optional[str] = ..., hittousha: _Optional[str] = ..., honseki: _Optional[str] = ...) -> None: ...

class ReserveRequest(_message.Message):
    __slots__ = ("session_token", "kind", "subject_ids", "include_head_and_relationship", "include_honseki", "fiscal_year", "municipality_code")
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_IDS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_HEAD_AND_RELATIONSHIP_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_HONSEKI_FIELD_NUMBER: _ClassVar[int]
    FISCAL_YEAR_FIELD_NUMBER: _ClassVar[int]
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    session_token: str
    kind: CertificateKind
    subject_ids: _containers.RepeatedScalarFieldContainer[str]
    include_head_and_relationship: bool
    include_honseki: bool
    fiscal_year: int
    municipality_code: str
    def __init__(self, session_token: _Optional[str] = ..., kind: _Optional[_Union[CertificateKind, str]] = ..., subject_ids: _Optional[_Iterable[str]] = ..., include_head_and_relationship: _Optional[bool] = ..., include_honseki: _Optional[bool] = ..., fiscal_year: _Optional[int] = ..., municipality_code: _Optional[str] = ...) -> None: ...

class ReserveResponse(_message.Message):
    __slots__ = ("reservation_id", "fee_yen", "expires_at", "channel")
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    FEE_YEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    reservation_id: str
    fee_yen: int
    expires_at: _timestamp_pb2.Timestamp
    channel: str
    def __init__(self, reservation_id: _Optional[str] = ..., fee_yen: _Optional[int] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., channel: _Optional[str] = ...) -> None: ...

class IssueRequest(_message.Message):
    __slots__ = ("session_token", "reservation_id", "idempotency_key", "printer_id")
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    PRINTER_ID_FIELD_NUMBER: _ClassVar[int]
    session_token: str
    reservation_id: str
    idempotency_key: str
    printer_id: str
    def __init__(self, session_token: _Optional[str] = ..., reservation_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., printer_id: _Optional[str] = ...) -> None: ...

class IssueChunk(_message.Message):
    __slots__ = ("header", "pdf_chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    PDF_CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: IssueHeader
    pdf_chunk: bytes
    def __init__(self, header: _Optional[_Union[IssueHeader, _Mapping]] = ..., pdf_chunk: _Optional[bytes] = ...) -> None: ...

class IssueHeader(_message.Message):
    __slots__ = ("issuance_id", "issue_number", "page_count", "pdf_size", "pdf_sha256", "fee_yen")
    ISSUANCE_ID_FIELD_NUMBER: _ClassVar[int]
    ISSUE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    PAGE_COUNT_FIELD_NUMBER: _ClassVar[int]
    PDF_SIZE_FIELD_NUMBER: _ClassVar[int]
    PDF_SHA256_FIELD_NUMBER: _ClassVar[int]
    FEE_YEN_FIELD_NUMBER: _ClassVar[int]
    issuance_id: str
    issue_number: str
    page_count: int
    pdf_size: int
    pdf_sha256: bytes
    fee_yen: int
    def __init__(self, issuance_id: _Optional[str] = ..., issue_number: _Optional[str] = ..., page_count: _Optional[int] = ..., pdf_size: _Optional[int] = ..., pdf_sha256: _Optional[bytes] = ..., fee_yen: _Optional[int] = ...) -> None: ...

class ReportPrintResultRequest(_message.Message):
    __slots__ = ("session_token", "issuance_id", "outcome", "pages_printed", "failure_reason", "end_session")
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ISSUANCE_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    PAGES_PRINTED_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    END_SESSION_FIELD_NUMBER: _ClassVar[int]
    session_token: str
    issuance_id: str
    outcome: PrintOutcome
    pages_printed: int
    failure_reason: str
    end_session: bool
    def __init__(self, session_token: _Optional[str] = ..., issuance_id: _Optional[str] = ..., outcome: _Optional[_Union[PrintOutcome, str]] = ..., pages_printed: _Optional[int] = ..., failure_reason: _Optional[str] = ..., end_session: _Optional[bool] = ...) -> None: ...

class ReportPrintResultResponse(_message.Message):
    __slots__ = ("state", "issue_number", "charged_yen", "reception_number", "reception_slip_pdf", "fee_due_yen", "collect_by", "session_ended")
    STATE_FIELD_NUMBER: _ClassVar[int]
    ISSUE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    CHARGED_YEN_FIELD_NUMBER: _ClassVar[int]
    RECEPTION_NUMBER_FIELD_NUMBER: _ClassVar[int]
    RECEPTION_SLIP_PDF_FIELD_NUMBER: _ClassVar[int]
    FEE_DUE_YEN_FIELD_NUMBER: _ClassVar[int]
    COLLECT_BY_FIELD_NUMBER: _ClassVar[int]
    SESSION_ENDED_FIELD_NUMBER: _ClassVar[int]
    state: IssuanceState
    issue_number: str
    charged_yen: int
    reception_number: str
    reception_slip_pdf: bytes
    fee_due_yen: int
    collect_by: _timestamp_pb2.Timestamp
    session_ended: bool
    def __init__(self, state: _Optional[_Union[IssuanceState, str]] = ..., issue_number: _Optional[str] = ..., charged_yen: _Optional[int] = ..., reception_number: _Optional[str] = ..., reception_slip_pdf: _Optional[bytes] = ..., fee_due_yen: _Optional[int] = ..., collect_by: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., session_ended: _Optional[bool] = ...) -> None: ...

class CancelReservationRequest(_message.Message):
    __slots__ = ("session_token", "reservation_id")
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    session_token: str
    reservation_id: str
    def __init__(self, session_token: _Optional[str] = ..., reservation_id: _Optional[str] = ...) -> None: ...

class CancelReservationResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: IssuanceState
    def __init__(self, state: _Optional[_Union[IssuanceState, str]] = ...) -> None: ...
