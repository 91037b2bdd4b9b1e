"""Refusals of the settlement domain, each with its reason code (mapped by one interceptor)."""

from __future__ import annotations

from server.common.errors import FailedPrecondition, NotFound


class MunicipalityNotFound(NotFound):
    reason = "MUNICIPALITY_NOT_FOUND"


class OperatorNotFound(NotFound):
    reason = "OPERATOR_NOT_FOUND"


class CopyNotSettled(NotFound):
    """No issued copy with that id is in the ledger (never printed, voided, or unknown)."""

    reason = "COPY_NOT_SETTLED"


class MonthNotOver(FailedPrecondition):
    """A month can be closed only once it has ended in Japan time."""

    reason = "MONTH_NOT_OVER"


class EarlierMonthOpen(FailedPrecondition):
    """Months close in order, so that a correction always has one open month to go to."""

    reason = "EARLIER_MONTH_OPEN"


class UnbalancedEntry(Exception):
    """A journal entry whose lines do not sum to zero: a bug, never a caller's mistake."""
