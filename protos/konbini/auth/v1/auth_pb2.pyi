import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from konbini.issuance.v1 import issuance_pb2 as _issuance_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BeginAuthenticationRequest(_message.Message):
    __slots__ = ("kiosk_id",)
    KIOSK_ID_FIELD_NUMBER: _ClassVar[int]
    kiosk_id: str
    def __init__(self, kiosk_id: _Optional[str] = ...) -> None: ...

class BeginAuthenticationResponse(_message.Message):
    __slots__ = ("challenge_id", "to_be_signed", "expires_at")
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    TO_BE_SIGNED_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    challenge_id: str
    to_be_signed: bytes
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, challenge_id: _Optional[str] = ..., to_be_signed: _Optional[bytes] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CompleteAuthenticationRequest(_message.Message):
    __slots__ = ("kiosk_id", "challenge_id", "certificate", "signature", "include_offerings")
    KIOSK_ID_FIELD_NUMBER: _ClassVar[int]
    CHALLENGE_ID_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_OFFERINGS_FIELD_NUMBER: _ClassVar[int]
    kiosk_id: str
    challenge_id: str
    certificate: bytes
    signature: bytes
    include_offerings: bool
    def __init__(self, kiosk_id: _Optional[str] = ..., challenge_id: _Optional[str] = ..., certificate: _Optional[bytes] = ..., signature: _Optional[bytes] = ..., include_offerings: _Optional[bool] = ...) -> None: ...

class CompleteAuthenticationResponse(_message.Message):
    __slots__ = ("session_token", "expires_at", "municipality_code", "municipality_name", "offerings")
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    MUNICIPALITY_NAME_FIELD_NUMBER: _ClassVar[int]
    OFFERINGS_FIELD_NUMBER: _ClassVar[int]
    session_token: str
    expires_at: _timestamp_pb2.Timestamp
    municipality_code: str
    municipality_name: str
    offerings: _issuance_pb2.ListOfferingsResponse
    def __init__(self, session_token: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., municipality_code: _Optional[str] = ..., municipality_name: _Optional[str] = ..., offerings: _Optional[_Union[_issuance_pb2.ListOfferingsResponse, _Mapping]] = ...) -> None: ...

class EndSessionRequest(_message.Message):
    __slots__ = ("session_token",)
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    session_token: str
    def __init__(self, session_token: _Optional[str] = ...) -> None: ...

class EndSessionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
