"""Per-copy money of a settled issuance (SPEC section 4). Integer yen throughout.

A counter copy (らくらく窓口) is printed at the town hall and paid to the clerk: no kiosk operator
touches it, so no commission (委託手数料) is due. The BCL fee (証明発行機能利用料, 180 yen) still
is, for a BCL-backed municipality: the deck bills it per copy the BCL issuing function produces
("BCL証明発行機能利用料として1通180円"), and a counter terminal obtains its copy from that same
function through the issuance center, exactly as a kiosk does. Only a copy handed over (ISSUED)
is charged; a counter copy never collected is voided and costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.bcl.records import IssuingBackend
from server.issuance.states import Channel

OPERATOR_COMMISSION_YEN = 117  # 委託手数料, per copy, kept by the kiosk operator
BCL_ISSUING_FEE_YEN = 180  # 証明発行機能利用料, per copy, BCL-backed municipalities only


@dataclass(frozen=True)
class CopyCharges:
    fee_yen: int  # 交付手数料 paid by the resident
    commission_yen: int
    bcl_fee_yen: int

    def __post_init__(self) -> None:
        if min(self.fee_yen, self.commission_yen, self.bcl_fee_yen) < 0:
            raise ValueError("charges are never negative")

    @property
    def operator_remits_yen(self) -> int:
        """What the operator passes on to the municipality for this copy."""
        return self.fee_yen - self.commission_yen


def charges_for_copy(
    *, fee_yen: int, backend: IssuingBackend, channel: Channel = Channel.KIOSK
) -> CopyCharges:
    return CopyCharges(
        fee_yen=fee_yen,
        commission_yen=OPERATOR_COMMISSION_YEN if channel is Channel.KIOSK else 0,
        bcl_fee_yen=BCL_ISSUING_FEE_YEN if backend is IssuingBackend.BCL else 0,
    )
