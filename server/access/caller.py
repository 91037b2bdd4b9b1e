"""The one caller model: every call is made by exactly one `Caller` of one `CallerKind`."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from server.common.errors import PermissionDenied, Unauthenticated


class CallerKind(enum.StrEnum):
    KIOSK = "kiosk"  # a multi-copy machine in a store: mTLS client certificate
    COUNTER_TERMINAL = "counter_terminal"  # らくらく窓口: a registry row with terminal_kind counter
    MUNICIPALITY_STAFF = "municipality_staff"  # bearer token of a staff account
    EREVIEW_CLIENT = "ereview_client"  # an application portal: client id + bearer secret
    KIOSK_OPERATOR = "kiosk_operator"  # a convenience-store chain's back office: bearer token
    NATIONAL_OPERATOR = "national_operator"  # BCL / J-LIS operations: bearer token
    ANONYMOUS = "anonymous"  # no credentials at all


# Kinds that hold a bearer token issued by `konbini access issue` (table access_tokens).
TOKEN_KINDS = frozenset({CallerKind.KIOSK_OPERATOR, CallerKind.NATIONAL_OPERATOR})


@dataclass(frozen=True)
class Caller:
    kind: CallerKind
    id: str  # kiosk id, staff id, e-review client id, token id; "" when anonymous
    municipality_code: str | None = None  # staff: theirs; kiosk: where it stands
    operator_id: str | None = None  # kiosk: its operator; kiosk operator: itself
    # The municipalities the caller acts for: {its own} for staff, the registered list for an
    # e-review client, empty for everyone else.
    municipalities: frozenset[str] = field(default_factory=frozenset)
    device_id: str | None = None  # the terminal a person's call came through (mTLS), if any

    def __post_init__(self) -> None:
        if (self.kind is CallerKind.ANONYMOUS) != (self.id == ""):
            raise ValueError("only the anonymous caller has no id")

    def acts_for(self, municipality_code: str) -> bool:
        return municipality_code in self.municipalities


ANONYMOUS = Caller(CallerKind.ANONYMOUS, "")


class CredentialsMissing(Unauthenticated):
    """The RPC needs credentials and the call carried none."""

    reason = "CREDENTIALS_MISSING"


class CredentialsInvalid(Unauthenticated):
    """A bearer token that no account or operator holds, or that was disabled."""

    reason = "CREDENTIALS_INVALID"


class RoleNotAllowed(PermissionDenied):
    """Authenticated, but this kind of caller may not call this RPC."""

    reason = "ROLE_NOT_ALLOWED"


class OtherMunicipality(PermissionDenied):
    reason = "OTHER_MUNICIPALITY"


class OtherOperator(PermissionDenied):
    reason = "OTHER_OPERATOR"
