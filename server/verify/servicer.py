"""gRPC face of the verifier: translation only."""

from __future__ import annotations

import re

import grpc
from konbini.verify.v1 import verify_pb2, verify_pb2_grpc
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from server.access.caller import CallerKind
from server.access.interceptor import bound_caller
from server.common.errors import InvalidArgument
from server.common.protoconv import timestamp
from server.verify.models import SealKey
from server.verify.verifier import Outcome, Submission, Verdict, Verifier

# Who is asking, for the audit log: a caller with credentials is named by them; an anonymous
# verifier may name itself (a bank's branch) in this header, else it is "anonymous". Never free
# text: it goes into the audit log verbatim.
VERIFIER_HEADER = "konbini-verifier-id"
_VERIFIER_ID = re.compile(r"[0-9A-Za-z_.@-]{1,64}")

_RESULTS = {
    Outcome.AUTHENTIC: verify_pb2.AUTHENTIC,
    Outcome.ALTERED: verify_pb2.ALTERED,
    Outcome.VOIDED: verify_pb2.VOIDED,
    Outcome.UNKNOWN: verify_pb2.UNKNOWN,
}


def caller_of(context: grpc.ServicerContext) -> str:
    """The audit log's actor: the resolved caller if it has credentials, else the header."""
    caller = bound_caller(context)
    if caller is not None and caller.kind is not CallerKind.ANONYMOUS:
        return f"{caller.kind.value}:{caller.id}"
    for key, value in context.invocation_metadata() or ():
        if key == VERIFIER_HEADER and isinstance(value, str):
            if not _VERIFIER_ID.fullmatch(value):
                raise InvalidArgument(
                    f"{VERIFIER_HEADER} is 1-64 letters, digits or _.@-", field=VERIFIER_HEADER
                )
            return f"verifier:{value}"
    return "anonymous"


def verdict_pb(verdict: Verdict) -> verify_pb2.VerifyCopyResponse:
    out = verify_pb2.VerifyCopyResponse(
        result=_RESULTS[verdict.outcome],
        reason=verdict.reason,
        text_checked=verdict.text_checked,
        record_checked=verdict.record_checked,
        byte_identical=verdict.byte_identical,
    )
    p = verdict.payload
    if p is not None:
        out.sealed.CopyFrom(
            verify_pb2.SealedFields(
                issue_number=p.issue_number,
                kind=p.kind.value,
                issue_date=p.issue_date.isoformat(),
                municipality_code=p.municipality_code,
                key_id=p.key_id_hex,
                text_digest=p.text_digest,
            )
        )
    return out


class VerifyServicer(verify_pb2_grpc.VerifyServiceServicer):
    def __init__(self, verifier: Verifier, engine: Engine) -> None:
        self._verifier = verifier
        self._engine = engine

    def VerifyCopy(
        self, request: verify_pb2.VerifyCopyRequest, context: grpc.ServicerContext
    ) -> verify_pb2.VerifyCopyResponse:
        which = request.WhichOneof("copy")
        if which is None:
            raise InvalidArgument("give the copy's pdf or its QR payload", field="copy")
        submission = Submission(pdf=request.pdf, payload_text=request.payload)
        return verdict_pb(self._verifier.verify(submission, actor=caller_of(context)))

    def ListSealKeys(
        self, request: verify_pb2.ListSealKeysRequest, context: grpc.ServicerContext
    ) -> verify_pb2.ListSealKeysResponse:
        code = request.municipality_code
        if code and not re.fullmatch(r"\d{6}", code):
            raise InvalidArgument("municipality_code is 6 digits", field="municipality_code")
        query = select(SealKey).order_by(col(SealKey.municipality_code), col(SealKey.key_id))
        if code:
            query = query.where(SealKey.municipality_code == code)
        with Session(self._engine) as db:
            rows = db.exec(query).all()
            return verify_pb2.ListSealKeysResponse(
                keys=[
                    verify_pb2.SealKey(
                        key_id=r.key_id,
                        municipality_code=r.municipality_code,
                        public_key_der=r.public_key_der,
                        created_at=timestamp(r.created_at),
                    )
                    for r in rows
                ]
            )
