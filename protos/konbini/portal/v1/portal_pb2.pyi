from konbini.staff.v1 import staff_pb2 as _staff_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListNoticesRequest(_message.Message):
    __slots__ = ("municipality_code",)
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    municipality_code: str
    def __init__(self, municipality_code: _Optional[str] = ...) -> None: ...

class ListNoticesResponse(_message.Message):
    __slots__ = ("notices",)
    NOTICES_FIELD_NUMBER: _ClassVar[int]
    notices: _containers.RepeatedCompositeFieldContainer[_staff_pb2.Notice]
    def __init__(self, notices: _Optional[_Iterable[_Union[_staff_pb2.Notice, _Mapping]]] = ...) -> None: ...

class ServiceStatusRequest(_message.Message):
    __slots__ = ("municipality_code",)
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    municipality_code: str
    def __init__(self, municipality_code: _Optional[str] = ...) -> None: ...

class KindStatus(_message.Message):
    __slots__ = ("kind", "available", "reason")
    KIND_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    kind: str
    available: bool
    reason: str
    def __init__(self, kind: _Optional[str] = ..., available: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class ServiceStatusResponse(_message.Message):
    __slots__ = ("open", "hours", "kinds")
    OPEN_FIELD_NUMBER: _ClassVar[int]
    HOURS_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    open: bool
    hours: str
    kinds: _containers.RepeatedCompositeFieldContainer[KindStatus]
    def __init__(self, open: _Optional[bool] = ..., hours: _Optional[str] = ..., kinds: _Optional[_Iterable[_Union[KindStatus, _Mapping]]] = ...) -> None: ...
