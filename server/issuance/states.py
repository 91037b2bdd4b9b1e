"""The issuance state machine, as one table (STYLE 4).

A kiosk copy (the resident paid at the kiosk before it printed):

    RESERVED ──issue──► PRINTING ──printed──► ISSUED
        │                   │
        └──cancel/expire──► VOIDED ◄──failed/expire──┘

A counter copy (らくらく窓口: printed at the town hall's counter printer, paid to the clerk):

    RESERVED ──issue──► PRINTING ──counter_printed──► AWAITING_HANDOVER ──hand_over──► ISSUED

    and to VOIDED as a kiosk copy from RESERVED and PRINTING, or from AWAITING_HANDOVER by
    `expire` (never collected) or `withhold` (交付抑止 set since it printed).

Which of `PRINTED` and `COUNTER_PRINTED` a print report becomes is decided by the issuance's
channel (the terminal's kind in the registry), never by the terminal's say-so. The fee of a
counter copy is owed only at `HAND_OVER`; a copy nobody collects is voided by the sweeper and
costs nothing. ISSUED and VOIDED are final. Any move not in `TRANSITIONS` is a protocol error.
"""

from __future__ import annotations

from enum import StrEnum

from server.common.errors import FailedPrecondition


class IssuanceState(StrEnum):
    RESERVED = "reserved"
    PRINTING = "printing"
    AWAITING_HANDOVER = "awaiting_handover"  # counter copy printed, waiting for the clerk
    ISSUED = "issued"
    VOIDED = "voided"


class IssuanceEvent(StrEnum):
    ISSUE = "issue"  # the fee is paid (kiosk) or owed at the counter; the center renders the copy
    PRINTED = "printed"  # the kiosk confirms the copy came out whole
    COUNTER_PRINTED = "counter_printed"  # the counter printer put the copy out whole
    HAND_OVER = "hand_over"  # the clerk took the fee and handed the copy over
    WITHHOLD = "withhold"  # the clerk may not hand it over (交付抑止 set since it printed)
    PRINT_FAILED = "print_failed"  # out of paper, jam, … : the copy is void, fee refunded
    CANCEL = "cancel"  # the resident walked away or the card was removed
    EXPIRE = "expire"  # nobody finished it in time


class Channel(StrEnum):
    """Where a copy is printed and paid for: the terminal's kind in the kiosk registry."""

    KIOSK = "kiosk"  # a store's kiosk: paid at the kiosk, operator commission due
    COUNTER = "counter"  # らくらく窓口: paid at the town hall's counter, no operator


TRANSITIONS: dict[tuple[IssuanceState, IssuanceEvent], IssuanceState] = {
    (IssuanceState.RESERVED, IssuanceEvent.ISSUE): IssuanceState.PRINTING,
    (IssuanceState.RESERVED, IssuanceEvent.CANCEL): IssuanceState.VOIDED,
    (IssuanceState.RESERVED, IssuanceEvent.EXPIRE): IssuanceState.VOIDED,
    (IssuanceState.PRINTING, IssuanceEvent.PRINTED): IssuanceState.ISSUED,
    (IssuanceState.PRINTING, IssuanceEvent.COUNTER_PRINTED): IssuanceState.AWAITING_HANDOVER,
    (IssuanceState.PRINTING, IssuanceEvent.PRINT_FAILED): IssuanceState.VOIDED,
    (IssuanceState.PRINTING, IssuanceEvent.CANCEL): IssuanceState.VOIDED,
    (IssuanceState.PRINTING, IssuanceEvent.EXPIRE): IssuanceState.VOIDED,
    (IssuanceState.AWAITING_HANDOVER, IssuanceEvent.HAND_OVER): IssuanceState.ISSUED,
    (IssuanceState.AWAITING_HANDOVER, IssuanceEvent.EXPIRE): IssuanceState.VOIDED,
    (IssuanceState.AWAITING_HANDOVER, IssuanceEvent.WITHHOLD): IssuanceState.VOIDED,
}

FINAL_STATES = frozenset({IssuanceState.ISSUED, IssuanceState.VOIDED})


class InvalidTransition(FailedPrecondition):
    reason = "INVALID_STATE"


def next_state(state: IssuanceState, event: IssuanceEvent) -> IssuanceState:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(
            f"an issuance in state {state.value} cannot take event {event.value}",
            metadata={"state": state.value, "event": event.value},
        ) from None


def printed_event(channel: Channel) -> IssuanceEvent:
    """What a whole print means: issued at a kiosk, waiting for the clerk at a counter."""
    return IssuanceEvent.COUNTER_PRINTED if channel is Channel.COUNTER else IssuanceEvent.PRINTED
