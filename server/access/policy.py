"""The policy table: for every RPC, which kinds of caller may call it, over what (default deny).

Each entry maps the full method name ("/package.Service/Method", as gRPC routes it) to a `Rule`:
the allowed kinds, each with its `Scope`, and which request field names the municipality or
operator the call is about. `authorize` is applied by the one interceptor
(`server.access.interceptor`) to every call before the servicer runs; a method without an entry
is refused for everyone, and tests/unit/test_access_policy.py fails while any served RPC lacks
one. docs/security.md has the same table for people.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from google.protobuf.message import Message

from server.access.caller import (
    Caller,
    CallerKind,
    CredentialsMissing,
    OtherMunicipality,
    OtherOperator,
    RoleNotAllowed,
)
from server.common.errors import InvalidArgument, PermissionDenied

K = CallerKind


class Scope(enum.Enum):
    ANY = "any"  # every municipality and operator (public data, or the national operator)
    OWN_MUNICIPALITY = "own municipality"  # the request's municipality field must be the caller's
    OWN_OPERATOR = "own operator"  # the request's operator field must be the caller's
    # The request names nothing to compare: the servicer acts on the caller's own data only
    # (staff desk: the staff member's municipality; kiosks: sessions bound to the kiosk; a BCL
    # upload or an operator report: the servicer compares what the stream or rows name).
    OWN = "own"


@dataclass(frozen=True)
class Rule:
    allow: Mapping[CallerKind, Scope]
    municipality_field: str | None = None
    operator_field: str | None = None
    # An empty municipality/operator field asks for all of them (national statistics): denied
    # to an own-scoped caller. Otherwise an empty field is a missing argument.
    empty_means_all: bool = False

    def __post_init__(self) -> None:
        scopes = set(self.allow.values())
        if Scope.OWN_MUNICIPALITY in scopes and self.municipality_field is None:
            raise ValueError("an own-municipality scope needs the request's municipality field")
        if Scope.OWN_OPERATOR in scopes and self.operator_field is None:
            raise ValueError("an own-operator scope needs the request's operator field")
        object.__setattr__(self, "allow", MappingProxyType(dict(self.allow)))

    @property
    def needs_request(self) -> bool:
        """Whether checking the scope reads the request (not possible for request streams)."""
        return any(s in (Scope.OWN_MUNICIPALITY, Scope.OWN_OPERATOR) for s in self.allow.values())


class MethodNotInPolicy(PermissionDenied):
    reason = "METHOD_NOT_IN_POLICY"


TERMINALS = {K.KIOSK: Scope.OWN, K.COUNTER_TERMINAL: Scope.OWN}
_PUBLIC = {kind: Scope.ANY for kind in CallerKind}
_PARTIES = {
    K.KIOSK: Scope.ANY,
    K.COUNTER_TERMINAL: Scope.ANY,
    K.MUNICIPALITY_STAFF: Scope.ANY,
    K.KIOSK_OPERATOR: Scope.ANY,
    K.NATIONAL_OPERATOR: Scope.ANY,
}
_STAFF = {K.MUNICIPALITY_STAFF: Scope.OWN}
_MUNICIPAL_BOOKS = Rule(
    {K.MUNICIPALITY_STAFF: Scope.OWN_MUNICIPALITY, K.NATIONAL_OPERATOR: Scope.ANY},
    municipality_field="municipality_code",
)
_NATIONAL = Rule({K.NATIONAL_OPERATOR: Scope.ANY})


def _service(name: str, rules: Mapping[str, Rule]) -> dict[str, Rule]:
    return {f"/{name}/{method}": rule for method, rule in rules.items()}


_terminal = Rule(TERMINALS)
_staff = Rule(_STAFF)

POLICY: Mapping[str, Rule] = MappingProxyType(
    {
        **_service(
            "konbini.auth.v1.AuthService",
            dict.fromkeys(
                ("BeginAuthentication", "CompleteAuthentication", "EndSession"), _terminal
            ),
        ),
        **_service(
            "konbini.issuance.v1.IssuanceService",
            dict.fromkeys(
                (
                    "ListOfferings",
                    "Reserve",
                    "Issue",
                    "ReportPrintResult",
                    "CancelReservation",
                    "RequestHonsekiRegistration",
                ),
                _terminal,
            ),
        ),
        **_service(
            "konbini.portal.v1.PortalService",
            dict.fromkeys(("ListNotices", "ServiceStatus"), Rule(_PARTIES)),
        ),
        **_service(
            "konbini.staff.v1.MunicipalityStaffService",
            dict.fromkeys(
                (
                    "ListOfferings",
                    "SetOffering",
                    "SuppressIssuance",
                    "LiftSuppression",
                    "ListSuppressions",
                    "AddSuspension",
                    "CancelSuspension",
                    "ListSuspensions",
                    "SetCertificateHours",
                    "PublishNotice",
                    "ListHonsekiRequests",
                    "ApproveHonsekiRequest",
                    "RejectHonsekiRequest",
                    "HandOverCounterCopy",
                    "ListCounterCopies",
                    "SetTaxYears",
                ),
                _staff,
            ),
        ),
        **_service(
            "konbini.settlement.v1.SettlementService",
            {
                "ListIssuances": _MUNICIPAL_BOOKS,
                "MonthlySummary": _MUNICIPAL_BOOKS,
                "CloseMonth": _NATIONAL,
                "GetMunicipalityStatement": _MUNICIPAL_BOOKS,
                "GetOperatorStatement": Rule(
                    {K.KIOSK_OPERATOR: Scope.OWN_OPERATOR, K.NATIONAL_OPERATOR: Scope.ANY},
                    operator_field="operator_id",
                ),
                "GetFiscalYearReport": _MUNICIPAL_BOOKS,
                "GetStatistics": Rule(
                    _MUNICIPAL_BOOKS.allow,
                    municipality_field="municipality_code",
                    empty_means_all=True,
                ),
                "SubmitOperatorReport": Rule({K.KIOSK_OPERATOR: Scope.OWN}),
                "Reconcile": Rule(
                    {K.KIOSK_OPERATOR: Scope.OWN_OPERATOR, K.NATIONAL_OPERATOR: Scope.ANY},
                    operator_field="operator_id",
                    empty_means_all=True,
                ),
                "CorrectCopy": _NATIONAL,
                "ListVoidedCopies": _MUNICIPAL_BOOKS,
                "GetCounterHours": _MUNICIPAL_BOOKS,
                "SetCounterHours": Rule(
                    {K.MUNICIPALITY_STAFF: Scope.OWN_MUNICIPALITY},
                    municipality_field="municipality_code",
                ),
            },
        ),
        **_service(
            "konbini.ereview.v1.EReviewService",
            {
                "SubmitApplication": Rule(
                    {K.EREVIEW_CLIENT: Scope.OWN_MUNICIPALITY},
                    municipality_field="municipality_code",
                ),
                "BeginAutofill": Rule({K.EREVIEW_CLIENT: Scope.OWN}),
                "CompleteAutofill": Rule({K.EREVIEW_CLIENT: Scope.OWN}),
                "SuggestProcedures": Rule(
                    {K.EREVIEW_CLIENT: Scope.OWN_MUNICIPALITY},
                    municipality_field="municipality_code",
                ),
            },
        ),
        **_service(
            "konbini.bcl.v1.BclService",
            {
                "Upload": _staff,  # the servicer compares the header's municipality
                "ListGenerations": _MUNICIPAL_BOOKS,
                "Restore": _MUNICIPAL_BOOKS,
            },
        ),
        # Anyone handed a printed copy may check it (a bank, a landlord, a phone app); the
        # public seal keys are public. Each check is audited (server.verify).
        **_service(
            "konbini.verify.v1.VerifyService",
            dict.fromkeys(("VerifyCopy", "ListSealKeys"), Rule(_PUBLIC)),
        ),
        # Health and reflection describe the service, not anybody's data.
        **_service(
            "grpc.health.v1.Health", dict.fromkeys(("Check", "Watch", "List"), Rule(_PUBLIC))
        ),
        **_service(
            "grpc.reflection.v1alpha.ServerReflection",
            {"ServerReflectionInfo": Rule(_PUBLIC)},
        ),
    }
)


def _field(request: Message, name: str) -> str:
    value = getattr(request, name)
    return value if isinstance(value, str) else str(value)


def authorize(
    policy: Mapping[str, Rule], method: str, caller: Caller, request: Message | None
) -> None:
    """Refuse the call unless the policy lets `caller` make it (request None: a stream)."""
    rule = policy.get(method)
    if rule is None:
        raise MethodNotInPolicy(f"{method} has no access policy", metadata={"method": method})
    scope = rule.allow.get(caller.kind)
    if scope is None:
        if caller.kind is CallerKind.ANONYMOUS:
            raise CredentialsMissing(f"{method} needs credentials")
        raise RoleNotAllowed(
            f"a {caller.kind} may not call {method}",
            metadata={"method": method, "caller_kind": caller.kind.value},
        )
    if scope is Scope.OWN_MUNICIPALITY:
        assert rule.municipality_field is not None and request is not None
        _own(rule, request, rule.municipality_field, caller.acts_for, OtherMunicipality)
    elif scope is Scope.OWN_OPERATOR:
        assert rule.operator_field is not None and request is not None
        _own(rule, request, rule.operator_field, lambda o: o == caller.operator_id, OtherOperator)


def _own(
    rule: Rule,
    request: Message,
    field: str,
    mine: Callable[[str], bool],
    refusal: type[PermissionDenied],
) -> None:
    value = _field(request, field)
    if not value:
        if rule.empty_means_all:
            raise refusal(f"{field} empty asks for all; name your own", metadata={"field": field})
        raise InvalidArgument(f"{field} is required", field=field)
    if not mine(value):
        raise refusal(f"{field} {value} is not yours", metadata={field: value})
