"""Errors of the card layer: the connection to a card failing, and a card driven while unpowered.

They mirror pyscard's `smartcard.Exceptions` so the kiosk handles an in-process reader and a
PC/SC reader the same way. A PC/SC adapter maps pyscard's exceptions onto these:

| pyscard                                                       | here                  |
|---------------------------------------------------------------|-----------------------|
| `NoCardException` (connect, no card in the reader)            | `NoCardError`         |
| `CardConnectionException` with `SCARD_W_REMOVED_CARD`          | `CardRemovedError`    |
| any other `CardConnectionException` (not connected, reset, …) | `CardConnectionError` |

A card *answering* with an error status word is not one of these: that is a response APDU.
"""

from __future__ import annotations


class CardConnectionError(Exception):
    """The connection to the card failed (≈ pyscard `CardConnectionException`)."""

    code = "CARD_CONNECTION"


class NoCardError(CardConnectionError):
    """`connect()` found no card in the reader (≈ pyscard `NoCardException`)."""

    code = "NO_CARD"


class CardRemovedError(CardConnectionError):
    """The card left the reader (≈ `CardConnectionException`, `SCARD_W_REMOVED_CARD`)."""

    code = "CARD_REMOVED"


class CardPoweredOffError(RuntimeError):
    """An APDU was given to an applet with no power: the reader (the caller) is at fault."""

    code = "CARD_POWERED_OFF"
