import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Result(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESULT_UNSPECIFIED: _ClassVar[Result]
    AUTHENTIC: _ClassVar[Result]
    ALTERED: _ClassVar[Result]
    VOIDED: _ClassVar[Result]
    UNKNOWN: _ClassVar[Result]
RESULT_UNSPECIFIED: Result
AUTHENTIC: Result
ALTERED: Result
VOIDED: Result
UNKNOWN: Result

class VerifyCopyRequest(_message.Message):
    __slots__ = ("pdf", "payload")
    PDF_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    pdf: bytes
    payload: str
    def __init__(self, pdf: _Optional[bytes] = ..., payload: _Optional[str] = ...) -> None: ...

class SealedFields(_message.Message):
    __slots__ = ("issue_number", "kind", "issue_date", "municipality_code", "key_id", "text_digest")
    ISSUE_NUMBER_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ISSUE_DATE_FIELD_NUMBER: _ClassVar[int]
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    issue_number: str
    kind: str
    issue_date: str
    municipality_code: str
    key_id: str
    text_digest: bytes
    def __init__(self, issue_number: _Optional[str] = ..., kind: _Optional[str] = ..., issue_date: _Optional[str] = ..., municipality_code: _Optional[str] = ..., key_id: _Optional[str] = ..., text_digest: _Optional[bytes] = ...) -> None: ...

class VerifyCopyResponse(_message.Message):
    __slots__ = ("result", "reason", "sealed", "text_checked", "record_checked", "byte_identical")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SEALED_FIELD_NUMBER: _ClassVar[int]
    TEXT_CHECKED_FIELD_NUMBER: _ClassVar[int]
    RECORD_CHECKED_FIELD_NUMBER: _ClassVar[int]
    BYTE_IDENTICAL_FIELD_NUMBER: _ClassVar[int]
    result: Result
    reason: str
    sealed: SealedFields
    text_checked: bool
    record_checked: bool
    byte_identical: bool
    def __init__(self, result: _Optional[_Union[Result, str]] = ..., reason: _Optional[str] = ..., sealed: _Optional[_Union[SealedFields, _Mapping]] = ..., text_checked: _Optional[bool] = ..., record_checked: _Optional[bool] = ..., byte_identical: _Optional[bool] = ...) -> None: ...

class ListSealKeysRequest(_message.Message):
    __slots__ = ("municipality_code",)
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    municipality_code: str
    def __init__(self, municipality_code: _Optional[str] = ...) -> None: ...

class SealKey(_message.Message):
    __slots__ = ("key_id", "municipality_code", "public_key_der", "created_at")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_DER_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    municipality_code: str
    public_key_der: bytes
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, key_id: _Optional[str] = ..., municipality_code: _Optional[str] = ..., public_key_der: _Optional[bytes] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListSealKeysResponse(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[SealKey]
    def __init__(self, keys: _Optional[_Iterable[_Union[SealKey, _Mapping]]] = ...) -> None: ...
