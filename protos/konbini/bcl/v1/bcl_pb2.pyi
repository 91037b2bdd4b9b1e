import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UploadKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UPLOAD_KIND_UNSPECIFIED: _ClassVar[UploadKind]
    UPLOAD_KIND_FULL: _ClassVar[UploadKind]
    UPLOAD_KIND_DIFFERENCE: _ClassVar[UploadKind]
UPLOAD_KIND_UNSPECIFIED: UploadKind
UPLOAD_KIND_FULL: UploadKind
UPLOAD_KIND_DIFFERENCE: UploadKind

class UploadRequest(_message.Message):
    __slots__ = ("header", "chunk", "trailer")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    TRAILER_FIELD_NUMBER: _ClassVar[int]
    header: UploadHeader
    chunk: FileChunk
    trailer: UploadTrailer
    def __init__(self, header: _Optional[_Union[UploadHeader, _Mapping]] = ..., chunk: _Optional[_Union[FileChunk, _Mapping]] = ..., trailer: _Optional[_Union[UploadTrailer, _Mapping]] = ...) -> None: ...

class UploadHeader(_message.Message):
    __slots__ = ("municipality_code", "kind", "files", "base_generation")
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    BASE_GENERATION_FIELD_NUMBER: _ClassVar[int]
    municipality_code: str
    kind: UploadKind
    files: _containers.RepeatedCompositeFieldContainer[FileEntry]
    base_generation: int
    def __init__(self, municipality_code: _Optional[str] = ..., kind: _Optional[_Union[UploadKind, str]] = ..., files: _Optional[_Iterable[_Union[FileEntry, _Mapping]]] = ..., base_generation: _Optional[int] = ...) -> None: ...

class FileEntry(_message.Message):
    __slots__ = ("name", "size")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    name: str
    size: int
    def __init__(self, name: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

class FileChunk(_message.Message):
    __slots__ = ("file_index", "data")
    FILE_INDEX_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    file_index: int
    data: bytes
    def __init__(self, file_index: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class UploadTrailer(_message.Message):
    __slots__ = ("sha256",)
    SHA256_FIELD_NUMBER: _ClassVar[int]
    sha256: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, sha256: _Optional[_Iterable[bytes]] = ...) -> None: ...

class UploadResponse(_message.Message):
    __slots__ = ("committed", "rejected", "pruned_generations")
    COMMITTED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    PRUNED_GENERATIONS_FIELD_NUMBER: _ClassVar[int]
    committed: Generation
    rejected: Rejection
    pruned_generations: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, committed: _Optional[_Union[Generation, _Mapping]] = ..., rejected: _Optional[_Union[Rejection, _Mapping]] = ..., pruned_generations: _Optional[_Iterable[int]] = ...) -> None: ...

class Rejection(_message.Message):
    __slots__ = ("error_count", "errors")
    ERROR_COUNT_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    error_count: int
    errors: _containers.RepeatedCompositeFieldContainer[RowError]
    def __init__(self, error_count: _Optional[int] = ..., errors: _Optional[_Iterable[_Union[RowError, _Mapping]]] = ...) -> None: ...

class RowError(_message.Message):
    __slots__ = ("file", "row", "column", "code", "message")
    FILE_FIELD_NUMBER: _ClassVar[int]
    ROW_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    file: str
    row: int
    column: str
    code: str
    message: str
    def __init__(self, file: _Optional[str] = ..., row: _Optional[int] = ..., column: _Optional[str] = ..., code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class FileDigest(_message.Message):
    __slots__ = ("name", "size", "sha256")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    name: str
    size: int
    sha256: bytes
    def __init__(self, name: _Optional[str] = ..., size: _Optional[int] = ..., sha256: _Optional[bytes] = ...) -> None: ...

class Counts(_message.Message):
    __slots__ = ("residents", "removed", "card_serials", "seals", "seal_images", "tax_records", "koseki_members", "fuhyo_entries", "koseki_events")
    RESIDENTS_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    CARD_SERIALS_FIELD_NUMBER: _ClassVar[int]
    SEALS_FIELD_NUMBER: _ClassVar[int]
    SEAL_IMAGES_FIELD_NUMBER: _ClassVar[int]
    TAX_RECORDS_FIELD_NUMBER: _ClassVar[int]
    KOSEKI_MEMBERS_FIELD_NUMBER: _ClassVar[int]
    FUHYO_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    KOSEKI_EVENTS_FIELD_NUMBER: _ClassVar[int]
    residents: int
    removed: int
    card_serials: int
    seals: int
    seal_images: int
    tax_records: int
    koseki_members: int
    fuhyo_entries: int
    koseki_events: int
    def __init__(self, residents: _Optional[int] = ..., removed: _Optional[int] = ..., card_serials: _Optional[int] = ..., seals: _Optional[int] = ..., seal_images: _Optional[int] = ..., tax_records: _Optional[int] = ..., koseki_members: _Optional[int] = ..., fuhyo_entries: _Optional[int] = ..., koseki_events: _Optional[int] = ...) -> None: ...

class Generation(_message.Message):
    __slots__ = ("municipality_code", "number", "kind", "base_generation", "checksum", "kept_checksum", "committed_at", "current", "kept", "uploaded_bytes", "counts", "uploaded_files", "kept_files")
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    BASE_GENERATION_FIELD_NUMBER: _ClassVar[int]
    CHECKSUM_FIELD_NUMBER: _ClassVar[int]
    KEPT_CHECKSUM_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    KEPT_FIELD_NUMBER: _ClassVar[int]
    UPLOADED_BYTES_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    UPLOADED_FILES_FIELD_NUMBER: _ClassVar[int]
    KEPT_FILES_FIELD_NUMBER: _ClassVar[int]
    municipality_code: str
    number: int
    kind: UploadKind
    base_generation: int
    checksum: bytes
    kept_checksum: bytes
    committed_at: _timestamp_pb2.Timestamp
    current: bool
    kept: bool
    uploaded_bytes: int
    counts: Counts
    uploaded_files: _containers.RepeatedCompositeFieldContainer[FileDigest]
    kept_files: _containers.RepeatedCompositeFieldContainer[FileDigest]
    def __init__(self, municipality_code: _Optional[str] = ..., number: _Optional[int] = ..., kind: _Optional[_Union[UploadKind, str]] = ..., base_generation: _Optional[int] = ..., checksum: _Optional[bytes] = ..., kept_checksum: _Optional[bytes] = ..., committed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., current: _Optional[bool] = ..., kept: _Optional[bool] = ..., uploaded_bytes: _Optional[int] = ..., counts: _Optional[_Union[Counts, _Mapping]] = ..., uploaded_files: _Optional[_Iterable[_Union[FileDigest, _Mapping]]] = ..., kept_files: _Optional[_Iterable[_Union[FileDigest, _Mapping]]] = ...) -> None: ...

class ListGenerationsRequest(_message.Message):
    __slots__ = ("municipality_code",)
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    municipality_code: str
    def __init__(self, municipality_code: _Optional[str] = ...) -> None: ...

class ListGenerationsResponse(_message.Message):
    __slots__ = ("generations",)
    GENERATIONS_FIELD_NUMBER: _ClassVar[int]
    generations: _containers.RepeatedCompositeFieldContainer[Generation]
    def __init__(self, generations: _Optional[_Iterable[_Union[Generation, _Mapping]]] = ...) -> None: ...

class RestoreRequest(_message.Message):
    __slots__ = ("municipality_code", "number")
    MUNICIPALITY_CODE_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    municipality_code: str
    number: int
    def __init__(self, municipality_code: _Optional[str] = ..., number: _Optional[int] = ...) -> None: ...

class RestoreChunk(_message.Message):
    __slots__ = ("generation", "chunk")
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    generation: Generation
    chunk: FileChunk
    def __init__(self, generation: _Optional[_Union[Generation, _Mapping]] = ..., chunk: _Optional[_Union[FileChunk, _Mapping]] = ...) -> None: ...
