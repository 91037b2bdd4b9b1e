"""A small e-review API for an application portal (電子申請システム) to embed.

It sends the client's identity with every call, decodes each response into plain frozen
dataclasses (no protobuf in its signatures), and turns every refused call into an
`EReviewError` carrying the status, the reason code and any field violations
(`clients.errors.decode_error`). Auto-fill drives the applicant's card through the kiosk's JPKI
middleware: the card signs the center's challenge after its PIN is verified.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from konbini.ereview.v1 import ereview_pb2, ereview_pb2_grpc

from clients.errors import ErrorDetails, decode_error
from clients.kiosk.jpki import JpkiClient, PinResult

CLIENT_HEADER = "konbini-ereview-client"
DEFAULT_TIMEOUT_S = 10.0


class EReviewError(Exception):
    """The center refused the call; `details` has the status, reason and field violations."""

    def __init__(self, details: ErrorDetails) -> None:
        super().__init__(f"{details.code.name} {details.reason}: {details.message}")
        self.details = details

    @property
    def reason(self) -> str:
        return self.details.reason


class PinRefused(Exception):
    """The card refused the PIN (wrong, with tries left, or blocked); nothing was sent."""

    def __init__(self, result: PinResult) -> None:
        super().__init__(f"PIN {result.status.value}, tries left {result.tries_left}")
        self.result = result


@dataclass(frozen=True)
class Person:
    name: str
    name_kana: str = ""
    birth_date: str = ""  # ISO or era form
    relationship: str = ""


@dataclass(frozen=True)
class FieldView:
    field: str  # name, name_kana, birth_date, address
    status: str  # matched, variant_matched, mismatched, not_found
    rules: tuple[str, ...]  # kanji_variant, width, kana, era_date, address_notation, …
    score: float
    weight: float


@dataclass(frozen=True)
class ResidentInfo:
    resident_id: str
    household_id: str
    name: str
    name_kana: str
    former_family_name: str
    birth_date: str
    birth_date_wareki: str
    sex: str
    address: str
    address_annex: str
    relationship: str
    is_household_head: bool


@dataclass(frozen=True)
class SuggestionView:
    procedure: str  # jido_teate, …
    title: str
    rule_id: str
    rule: str
    members: tuple[int, ...]


@dataclass(frozen=True)
class MemberView:
    index: int
    outcome: str
    resident_id: str
    score: float
    fields: tuple[FieldView, ...]


@dataclass(frozen=True)
class Review:
    application_id: str
    outcome: str  # match, no_match, needs_review
    score: float
    fields: tuple[FieldView, ...]
    reasons: tuple[str, ...]
    resident: ResidentInfo | None
    household: tuple[ResidentInfo, ...]
    members: tuple[MemberView, ...]
    candidates: tuple[tuple[ResidentInfo, float], ...]
    suggestions: tuple[SuggestionView, ...]

    def field(self, name: str) -> FieldView:
        return next(f for f in self.fields if f.field == name)


@dataclass(frozen=True)
class AutofillResult:
    municipality_code: str
    applicant: ResidentInfo
    household: tuple[ResidentInfo, ...]
    suggestions: tuple[SuggestionView, ...]


def _enum(value: int, enum: object, prefix: str) -> str:
    name: str = enum.Name(value)  # type: ignore[attr-defined]
    return name.removeprefix(prefix).lower()


def _fields(msgs: Sequence[ereview_pb2.FieldResult]) -> tuple[FieldView, ...]:
    return tuple(
        FieldView(
            f.field,
            _enum(f.status, ereview_pb2.FieldStatus, "FIELD_STATUS_"),
            tuple(_enum(r, ereview_pb2.VariantRule, "VARIANT_RULE_") for r in f.rules),
            f.score,
            f.weight,
        )
        for f in msgs
    )


def _resident(m: ereview_pb2.Resident) -> ResidentInfo:
    return ResidentInfo(
        m.resident_id, m.household_id, m.name, m.name_kana, m.former_family_name, m.birth_date,
        m.birth_date_wareki, m.sex, m.address, m.address_annex, m.relationship,
        m.is_household_head,
    )  # fmt: skip


def _suggestions(msgs: Sequence[ereview_pb2.Suggestion]) -> tuple[SuggestionView, ...]:
    return tuple(
        SuggestionView(
            _enum(s.procedure, ereview_pb2.Procedure, "PROCEDURE_"),
            s.title,
            s.rule_id,
            s.rule,
            tuple(s.members),
        )
        for s in msgs
    )


def _declared(p: Person) -> ereview_pb2.DeclaredPerson:
    return ereview_pb2.DeclaredPerson(
        name=p.name, name_kana=p.name_kana, birth_date=p.birth_date, relationship=p.relationship
    )


class EReviewClient:
    """One portal's connection to the e-review service."""

    def __init__(
        self,
        channel: grpc.Channel,
        *,
        client_id: str,
        secret: str,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self._stub = ereview_pb2_grpc.EReviewServiceStub(channel)
        self._metadata = ((CLIENT_HEADER, client_id), ("authorization", f"Bearer {secret}"))
        self._timeout = timeout

    def submit(
        self,
        municipality_code: str,
        applicant: Person,
        *,
        address: str = "",
        address_annex: str = "",
        members: Sequence[Person] = (),
        procedure: str = "other",
        application_id: str = "",
    ) -> Review:
        request = ereview_pb2.SubmitApplicationRequest(
            municipality_code=municipality_code,
            procedure=f"PROCEDURE_{procedure.upper()}",
            applicant=_declared(applicant),
            address=address,
            address_annex=address_annex,
            household_members=[_declared(m) for m in members],
            application_id=application_id,
        )
        try:
            r = self._stub.SubmitApplication(
                request, metadata=self._metadata, timeout=self._timeout
            )
        except grpc.RpcError as err:
            raise EReviewError(decode_error(err)) from None
        return Review(
            application_id=r.application_id,
            outcome=_enum(r.outcome, ereview_pb2.Outcome, "OUTCOME_"),
            score=r.score,
            fields=_fields(r.fields),
            reasons=tuple(r.reasons),
            resident=_resident(r.resident) if r.HasField("resident") else None,
            household=tuple(_resident(v) for v in r.household),
            members=tuple(
                MemberView(
                    m.index,
                    _enum(m.outcome, ereview_pb2.Outcome, "OUTCOME_"),
                    m.resident_id,
                    m.score,
                    _fields(m.fields),
                )
                for m in r.members
            ),
            candidates=tuple((_resident(c.resident), c.score) for c in r.candidates),
            suggestions=_suggestions(r.suggestions),
        )

    def autofill(self, card: JpkiClient, pin: str) -> AutofillResult:
        """Pre-fill from the applicant's card: read its certificate, verify the PIN, sign the
        center's challenge. Raises `PinRefused` before anything is signed if the PIN fails."""
        challenge_id, to_be_signed = self.begin_autofill()
        certificate = card.read_auth_certificate()
        pin_result = card.verify_auth_pin(pin)
        if not pin_result.ok:
            raise PinRefused(pin_result)
        signature = card.sign_with_auth_key(to_be_signed)
        return self.complete_autofill(challenge_id, certificate, signature)

    def begin_autofill(self) -> tuple[str, bytes]:
        """(challenge id, bytes to sign) for a portal that drives the card itself."""
        try:
            c = self._stub.BeginAutofill(
                ereview_pb2.BeginAutofillRequest(), metadata=self._metadata, timeout=self._timeout
            )
        except grpc.RpcError as err:
            raise EReviewError(decode_error(err)) from None
        return c.challenge_id, c.to_be_signed

    def complete_autofill(
        self, challenge_id: str, certificate: bytes, signature: bytes
    ) -> AutofillResult:
        try:
            r = self._stub.CompleteAutofill(
                ereview_pb2.CompleteAutofillRequest(
                    challenge_id=challenge_id, certificate=certificate, signature=signature
                ),
                metadata=self._metadata,
                timeout=self._timeout,
            )
        except grpc.RpcError as err:
            raise EReviewError(decode_error(err)) from None
        return AutofillResult(
            r.municipality_code,
            _resident(r.applicant),
            tuple(_resident(v) for v in r.household),
            _suggestions(r.suggestions),
        )

    def suggest(
        self,
        municipality_code: str,
        members: Sequence[tuple[str, str]],
        *,
        exclude: str | None = None,
    ) -> tuple[SuggestionView, ...]:
        """`members`: (birth date, 続柄) pairs, the head as 世帯主."""
        request = ereview_pb2.SuggestProceduresRequest(
            municipality_code=municipality_code,
            members=[
                ereview_pb2.HouseholdMember(birth_date=b, relationship=rel) for b, rel in members
            ],
            exclude=f"PROCEDURE_{exclude.upper()}" if exclude else "PROCEDURE_UNSPECIFIED",
        )
        try:
            r = self._stub.SuggestProcedures(
                request, metadata=self._metadata, timeout=self._timeout
            )
        except grpc.RpcError as err:
            raise EReviewError(decode_error(err)) from None
        return _suggestions(r.suggestions)
