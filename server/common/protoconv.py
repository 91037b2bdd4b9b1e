"""Small helpers shared by the servicers to translate between protobuf and domain values."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from server.common.errors import InvalidArgument


def timestamp(dt: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(dt.astimezone(UTC))
    return ts


def required(value: str, field: str, *, max_len: int = 256) -> str:
    if not value:
        raise InvalidArgument(f"{field} is required", field=field)
    if len(value) > max_len:
        raise InvalidArgument(f"{field} is longer than {max_len} characters", field=field)
    return value
