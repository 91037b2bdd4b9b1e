"""gRPC face of `server.auth.service`: translates messages, nothing more."""

from __future__ import annotations

import logging
from collections.abc import Callable

import grpc
from konbini.auth.v1 import auth_pb2, auth_pb2_grpc
from konbini.issuance.v1 import issuance_pb2

from server.access.interceptor import terminal_id
from server.auth.service import AuthenticatedSession, Authenticator
from server.common.errors import DomainError, InvalidArgument
from server.common.identity import KioskIdMismatch
from server.common.protoconv import required, timestamp

log = logging.getLogger(__name__)

MAX_CERTIFICATE_BYTES = 8192
RSA2048_SIGNATURE_BYTES = 256

Offerings = Callable[
    [AuthenticatedSession, grpc.ServicerContext], issuance_pb2.ListOfferingsResponse
]
"""offerings(session, context): ListOfferings' answer for the session the caller just opened."""


class AuthServicer(auth_pb2_grpc.AuthServiceServicer):
    def __init__(self, authenticator: Authenticator, *, offerings: Offerings | None = None) -> None:
        """`offerings` serves `include_offerings` (`IssuanceServicer.offerings`); None: the
        flag is ignored and the kiosk asks ListOfferings."""
        self._auth = authenticator
        self._offerings = offerings

    def _kiosk(self, claimed: str, context: grpc.ServicerContext) -> str:
        kiosk_id = terminal_id(context)
        if claimed and claimed != kiosk_id:
            raise KioskIdMismatch("kiosk_id differs from the calling kiosk")
        return kiosk_id

    def BeginAuthentication(
        self, request: auth_pb2.BeginAuthenticationRequest, context: grpc.ServicerContext
    ) -> auth_pb2.BeginAuthenticationResponse:
        kiosk_id = self._kiosk(request.kiosk_id, context)
        ch = self._auth.begin(kiosk_id)
        return auth_pb2.BeginAuthenticationResponse(
            challenge_id=ch.challenge_id,
            to_be_signed=ch.to_be_signed,
            expires_at=timestamp(ch.expires_at),
        )

    def CompleteAuthentication(
        self, request: auth_pb2.CompleteAuthenticationRequest, context: grpc.ServicerContext
    ) -> auth_pb2.CompleteAuthenticationResponse:
        kiosk_id = self._kiosk(request.kiosk_id, context)
        required(request.challenge_id, "challenge_id", max_len=64)
        if not request.certificate or len(request.certificate) > MAX_CERTIFICATE_BYTES:
            raise InvalidArgument("certificate must be 1-8192 bytes of DER", field="certificate")
        if len(request.signature) != RSA2048_SIGNATURE_BYTES:
            raise InvalidArgument("signature must be 256 bytes (RSA-2048)", field="signature")
        session = self._auth.complete(
            kiosk_id=kiosk_id,
            challenge_id=request.challenge_id,
            certificate_der=request.certificate,
            signature=request.signature,
        )
        response = auth_pb2.CompleteAuthenticationResponse(
            session_token=session.token,
            expires_at=timestamp(session.expires_at),
            municipality_code=session.municipality_code,
            municipality_name=session.municipality_name,
        )
        if request.include_offerings and self._offerings is not None:
            # The resident is signed in all the same when the menu cannot come with the answer:
            # the session is committed and the challenge spent, so the token must reach the
            # kiosk. The menu is left out and the kiosk's ListOfferings gets the refusal (e.g.
            # 交付抑止) with its own status, or the failure (database, 戸籍 server) again.
            try:
                response.offerings.CopyFrom(self._offerings(session, context))
            except DomainError:
                pass
            except Exception as exc:  # the sign-in stands whatever the menu hit
                # The type only: a driver's message may carry the statement's parameters.
                log.warning("menu left out of the authentication answer: %s", type(exc).__name__)
        return response

    def EndSession(
        self, request: auth_pb2.EndSessionRequest, context: grpc.ServicerContext
    ) -> auth_pb2.EndSessionResponse:
        terminal_id(context)
        self._auth.end_session(required(request.session_token, "session_token"))
        return auth_pb2.EndSessionResponse()
