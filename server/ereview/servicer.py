"""gRPC face of `server.ereview.service`: checks the caller, translates messages, nothing more."""

from __future__ import annotations

from datetime import date
from typing import cast

import grpc
from konbini.ereview.v1 import ereview_pb2, ereview_pb2_grpc

from server.access.caller import CallerKind
from server.access.interceptor import bound_caller
from server.common.era import to_wareki
from server.common.errors import InvalidArgument
from server.common.protoconv import required, timestamp
from server.ereview.access import EreviewClient, credentials_from_metadata
from server.ereview.model import (
    MAX_MEMBERS,
    Application,
    Candidate,
    DeclaredPerson,
    FieldResult,
    FieldStatus,
    MemberResult,
    Outcome,
    Procedure,
    ResidentView,
)
from server.ereview.normalize import VariantRule, parse_date
from server.ereview.service import EReviewService
from server.ereview.suggestions import HouseholdPerson, Suggestion

MAX_CERTIFICATE_BYTES = 8192
RSA2048_SIGNATURE_BYTES = 256

_OUTCOMES = {
    Outcome.MATCH: ereview_pb2.OUTCOME_MATCH,
    Outcome.NO_MATCH: ereview_pb2.OUTCOME_NO_MATCH,
    Outcome.REVIEW: ereview_pb2.OUTCOME_NEEDS_REVIEW,
}
_STATUSES = {
    FieldStatus.MATCHED: ereview_pb2.FIELD_STATUS_MATCHED,
    FieldStatus.VARIANT_MATCHED: ereview_pb2.FIELD_STATUS_VARIANT_MATCHED,
    FieldStatus.MISMATCHED: ereview_pb2.FIELD_STATUS_MISMATCHED,
    FieldStatus.NOT_FOUND: ereview_pb2.FIELD_STATUS_NOT_FOUND,
}
# The proto enums mirror the domain enums name for name: a missing one fails at import.
_RULES = {
    rule: cast(ereview_pb2.VariantRule, ereview_pb2.VariantRule.Value(f"VARIANT_RULE_{rule.name}"))
    for rule in VariantRule
}
_PROCEDURES = {
    p: cast(ereview_pb2.Procedure, ereview_pb2.Procedure.Value(f"PROCEDURE_{p.name}"))
    for p in Procedure
}
_PROCEDURE_OF: dict[int, Procedure] = {v: k for k, v in _PROCEDURES.items()}


def _procedure(value: int) -> Procedure | None:
    if value == ereview_pb2.PROCEDURE_UNSPECIFIED:
        return None
    try:
        return _PROCEDURE_OF[value]
    except KeyError:
        raise InvalidArgument("unknown procedure", field="procedure") from None


def _person(msg: ereview_pb2.DeclaredPerson, field: str) -> DeclaredPerson:
    required(msg.name, f"{field}.name", max_len=200)
    if msg.birth_date:
        try:
            parse_date(msg.birth_date)
        except ValueError:
            raise InvalidArgument(
                "birth_date must be ISO (1980-05-03) or an era date (昭和55年5月3日)",
                field=f"{field}.birth_date",
            ) from None
    try:
        return DeclaredPerson(msg.name, msg.name_kana, msg.birth_date, msg.relationship)
    except ValueError as exc:
        raise InvalidArgument(str(exc), field=field) from None


def _birth(text: str, field: str) -> date:
    try:
        return parse_date(text).value
    except ValueError:
        raise InvalidArgument("not a date (ISO or era form)", field=field) from None


def resident_message(v: ResidentView) -> ereview_pb2.Resident:
    return ereview_pb2.Resident(
        resident_id=v.resident_id,
        household_id=v.household_id,
        name=v.full_name,
        name_kana=v.full_name_kana,
        former_family_name=v.former_family_name,
        birth_date=v.birth_date.isoformat(),
        birth_date_wareki=to_wareki(v.birth_date),
        sex=v.sex,
        address=v.address,
        address_annex=v.address_annex,
        relationship=v.relationship,
        is_household_head=v.is_household_head,
    )


def _field(f: FieldResult) -> ereview_pb2.FieldResult:
    return ereview_pb2.FieldResult(
        field=f.field.value,
        status=_STATUSES[f.status],
        rules=[_RULES[r] for r in f.rules],
        score=f.score,
        weight=round(f.weight, 3),
    )


def _member(m: MemberResult) -> ereview_pb2.MemberResult:
    return ereview_pb2.MemberResult(
        index=m.index,
        outcome=_OUTCOMES[m.outcome],
        resident_id=m.resident_id,
        score=m.score,
        fields=[_field(f) for f in m.fields],
    )


def _candidate(c: Candidate) -> ereview_pb2.Candidate:
    return ereview_pb2.Candidate(resident=resident_message(c.resident), score=c.score)


def suggestion_message(s: Suggestion) -> ereview_pb2.Suggestion:
    return ereview_pb2.Suggestion(
        procedure=_PROCEDURES[s.procedure],
        title=s.title,
        rule_id=s.rule_id,
        rule=s.rule,
        members=list(s.members),
    )


class EReviewServicer(ereview_pb2_grpc.EReviewServiceServicer):
    def __init__(self, service: EReviewService) -> None:
        self._service = service

    def _client(self, context: grpc.ServicerContext) -> EreviewClient:
        caller = bound_caller(context)
        if caller is not None and caller.kind is CallerKind.EREVIEW_CLIENT:
            return self._service.client(caller.id)  # the interceptor checked the secret
        client_id, secret = credentials_from_metadata(tuple(context.invocation_metadata() or ()))
        return self._service.authenticate(client_id, secret)

    def SubmitApplication(
        self, request: ereview_pb2.SubmitApplicationRequest, context: grpc.ServicerContext
    ) -> ereview_pb2.SubmitApplicationResponse:
        client = self._client(context)
        code = required(request.municipality_code, "municipality_code", max_len=6)
        if len(request.household_members) > MAX_MEMBERS:
            raise InvalidArgument(
                f"at most {MAX_MEMBERS} household members", field="household_members"
            )
        applicant = _person(request.applicant, "applicant")
        members = tuple(
            _person(m, f"household_members[{i}]") for i, m in enumerate(request.household_members)
        )
        try:
            application = Application(
                municipality_code=code,
                applicant=applicant,
                address=request.address,
                address_annex=request.address_annex,
                members=members,
                procedure=_procedure(request.procedure) or Procedure.OTHER,
                application_id=request.application_id,
            )
        except ValueError as exc:
            raise InvalidArgument(str(exc), field="application") from None
        submission = self._service.submit(client, application)
        r = submission.result
        return ereview_pb2.SubmitApplicationResponse(
            application_id=request.application_id,
            outcome=_OUTCOMES[r.outcome],
            score=r.score,
            fields=[_field(f) for f in r.fields],
            reasons=[reason.value for reason in r.reasons],
            resident=resident_message(r.resident) if r.resident is not None else None,
            household=[resident_message(v) for v in r.household],
            members=[_member(m) for m in r.members],
            candidates=[_candidate(c) for c in r.candidates],
            suggestions=[suggestion_message(s) for s in submission.suggestions],
        )

    def BeginAutofill(
        self, request: ereview_pb2.BeginAutofillRequest, context: grpc.ServicerContext
    ) -> ereview_pb2.BeginAutofillResponse:
        challenge = self._service.begin_autofill(self._client(context))
        return ereview_pb2.BeginAutofillResponse(
            challenge_id=challenge.challenge_id,
            to_be_signed=challenge.to_be_signed,
            expires_at=timestamp(challenge.expires_at),
        )

    def CompleteAutofill(
        self, request: ereview_pb2.CompleteAutofillRequest, context: grpc.ServicerContext
    ) -> ereview_pb2.CompleteAutofillResponse:
        client = self._client(context)
        required(request.challenge_id, "challenge_id", max_len=64)
        if not request.certificate or len(request.certificate) > MAX_CERTIFICATE_BYTES:
            raise InvalidArgument("certificate must be 1-8192 bytes of DER", field="certificate")
        if len(request.signature) != RSA2048_SIGNATURE_BYTES:
            raise InvalidArgument("signature must be 256 bytes (RSA-2048)", field="signature")
        done = self._service.complete_autofill(
            client,
            challenge_id=request.challenge_id,
            certificate_der=request.certificate,
            signature=request.signature,
        )
        h = done.household
        return ereview_pb2.CompleteAutofillResponse(
            municipality_code=h.municipality_code,
            applicant=resident_message(h.applicant),
            household=[resident_message(v) for v in h.household],
            suggestions=[suggestion_message(s) for s in done.suggestions],
        )

    def SuggestProcedures(
        self, request: ereview_pb2.SuggestProceduresRequest, context: grpc.ServicerContext
    ) -> ereview_pb2.SuggestProceduresResponse:
        client = self._client(context)
        code = required(request.municipality_code, "municipality_code", max_len=6)
        if len(request.members) > MAX_MEMBERS:
            raise InvalidArgument(f"at most {MAX_MEMBERS} members", field="members")
        members = [
            HouseholdPerson(_birth(m.birth_date, f"members[{i}].birth_date"), m.relationship)
            for i, m in enumerate(request.members)
        ]
        suggestions = self._service.suggest(client, code, members, _procedure(request.exclude))
        return ereview_pb2.SuggestProceduresResponse(
            suggestions=[suggestion_message(s) for s in suggestions]
        )
