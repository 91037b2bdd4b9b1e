"""Small helpers shared by the servicers to translate between protobuf and domain values."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from server.common.errors import InvalidArgument


def timestamp(dt: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(dt.astimezone(UTC))
    return ts


# Instants a request may carry: wide enough for any record, narrow enough that converting to
# Asia/Tokyo or adding a day can never overflow `datetime`.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def to_datetime(ts: Timestamp, field: str) -> datetime:
    """A request's timestamp as an aware UTC datetime; out of range is INVALID_ARGUMENT."""
    try:
        dt = ts.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise InvalidArgument(f"{field} is not a valid timestamp", field=field) from None
    if not EARLIEST <= dt < LATEST:
        raise InvalidArgument(f"{field} must be between 1900 and 2199", field=field)
    return dt


def required(value: str, field: str, *, max_len: int = 256) -> str:
    if not value:
        raise InvalidArgument(f"{field} is required", field=field)
    if len(value) > max_len:
        raise InvalidArgument(f"{field} is longer than {max_len} characters", field=field)
    return value
