"""gRPC face of `server.bcl.upload`: translates messages and streams, nothing more."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent import futures

import grpc
from konbini.bcl.v1 import bcl_pb2, bcl_pb2_grpc

from server.access.caller import CallerKind, CredentialsMissing, RoleNotAllowed
from server.access.interceptor import AccessInterceptor, bound_caller
from server.access.resolve import CallerResolver
from server.access.tokens import AccessTokens
from server.bcl.generations import FileDigest, GenerationInfo, UploadKind
from server.bcl.upload import (
    BclUploads,
    Committed,
    MunicipalityMismatch,
    UploadFile,
    UploadHeader,
    UploadInterrupted,
    UploadOutcome,
    UploadProtocolError,
)
from server.common.clock import system_clock
from server.common.errors import InvalidArgument
from server.common.protoconv import timestamp
from server.ereview.access import ClientRegistry
from server.kiosks.tls import LOOPBACK, InsecureListenerRefused

# The municipality a call acts for: the calling staff member's (resolved by the center's access
# interceptor, server.access), or, for the national operator, the one the request names.
RESTORE_CHUNK_BYTES = 256 * 1024

_MUNICIPALITY = re.compile(r"[0-9]{6}")
_KIND_TO_PROTO = {
    UploadKind.FULL: bcl_pb2.UPLOAD_KIND_FULL,
    UploadKind.DIFFERENCE: bcl_pb2.UPLOAD_KIND_DIFFERENCE,
}
_KIND_FROM_PROTO = {v: k for k, v in _KIND_TO_PROTO.items()}


def acting_for(context: grpc.ServicerContext, requested: str = "") -> str:
    caller = bound_caller(context)
    if caller is None:
        raise CredentialsMissing("BCL calls need the credentials of a staff account")
    if caller.kind is CallerKind.NATIONAL_OPERATOR and _MUNICIPALITY.fullmatch(requested):
        return requested
    if caller.kind is CallerKind.MUNICIPALITY_STAFF and caller.municipality_code:
        return caller.municipality_code
    raise RoleNotAllowed(f"a {caller.kind} does not act for a municipality")


def _header(msg: bcl_pb2.UploadHeader) -> UploadHeader:
    kind = _KIND_FROM_PROTO.get(msg.kind)
    if kind is None:
        raise InvalidArgument("choose a full or a difference upload", field="kind")
    return UploadHeader(
        municipality_code=msg.municipality_code,
        kind=kind,
        files=tuple(UploadFile(f.name, f.size) for f in msg.files),
        base_generation=msg.base_generation,
    )


def digest_pb(f: FileDigest) -> bcl_pb2.FileDigest:
    return bcl_pb2.FileDigest(name=f.name, size=f.size, sha256=bytes.fromhex(f.sha256))


def generation_pb(g: GenerationInfo) -> bcl_pb2.Generation:
    c = g.counts
    return bcl_pb2.Generation(
        municipality_code=g.municipality_code,
        number=g.number,
        kind=_KIND_TO_PROTO[g.kind],
        base_generation=g.base_number or 0,
        checksum=bytes.fromhex(g.checksum),
        kept_checksum=bytes.fromhex(g.backup_checksum),
        committed_at=timestamp(g.committed_at),
        current=g.current,
        kept=g.kept,
        uploaded_bytes=g.uploaded_bytes,
        counts=bcl_pb2.Counts(
            residents=c.residents,
            removed=c.removed,
            card_serials=c.card_serials,
            seals=c.seals,
            seal_images=c.seal_images,
            tax_records=c.tax_records,
            koseki_members=c.koseki_members,
            fuhyo_entries=c.fuhyo_entries,
            koseki_events=c.koseki_events,
        ),
        uploaded_files=[digest_pb(f) for f in g.uploaded_files],
        kept_files=[digest_pb(f) for f in g.kept_files],
    )


def _response(outcome: UploadOutcome) -> bcl_pb2.UploadResponse:
    if isinstance(outcome, Committed):
        return bcl_pb2.UploadResponse(
            committed=generation_pb(outcome.generation),
            pruned_generations=list(outcome.pruned),
        )
    return bcl_pb2.UploadResponse(
        rejected=bcl_pb2.Rejection(
            error_count=outcome.error_count,
            errors=[
                bcl_pb2.RowError(
                    file=e.file, row=e.row, column=e.column, code=e.code.value, message=e.message
                )
                for e in outcome.errors
            ],
        )
    )


class BclServicer(bcl_pb2_grpc.BclServiceServicer):
    def __init__(self, uploads: BclUploads) -> None:
        self._uploads = uploads

    def Upload(
        self, request_iterator: Iterator[bcl_pb2.UploadRequest], context: grpc.ServicerContext
    ) -> bcl_pb2.UploadResponse:
        municipality = acting_for(context)
        requests = _Requests(request_iterator)
        first = requests.next()
        if first is None or first.WhichOneof("part") != "header":
            raise UploadProtocolError("an upload starts with its header")
        named = first.header.municipality_code
        if named != municipality:  # refused before the header is checked any further
            raise MunicipalityMismatch(f"acting for {municipality}, you may not upload for {named}")
        with self._uploads.begin(municipality, _header(first.header)) as upload:
            while (msg := requests.next()) is not None:
                part = msg.WhichOneof("part")
                if part == "chunk":
                    upload.write(msg.chunk.file_index, msg.chunk.data)
                elif part == "trailer":
                    return _response(upload.finish(list(msg.trailer.sha256)))
                else:
                    raise UploadProtocolError("after the header come chunks, then the trailer")
        raise UploadInterrupted("the stream ended before the trailer; nothing was applied")

    def ListGenerations(
        self, request: bcl_pb2.ListGenerationsRequest, context: grpc.ServicerContext
    ) -> bcl_pb2.ListGenerationsResponse:
        code = request.municipality_code
        gens = self._uploads.generations(acting_for(context, code), code)
        return bcl_pb2.ListGenerationsResponse(generations=[generation_pb(g) for g in gens])

    def Restore(
        self, request: bcl_pb2.RestoreRequest, context: grpc.ServicerContext
    ) -> Iterator[bcl_pb2.RestoreChunk]:
        if request.number < 0:
            raise InvalidArgument("number must not be negative", field="number")
        code = request.municipality_code
        restore = self._uploads.restore(acting_for(context, code), code, request.number)
        yield bcl_pb2.RestoreChunk(generation=generation_pb(restore.generation))
        for index, data in restore.chunks(RESTORE_CHUNK_BYTES):
            yield bcl_pb2.RestoreChunk(chunk=bcl_pb2.FileChunk(file_index=index, data=data))


class _Requests:
    """The request stream; a client that went away ends the upload as interrupted."""

    def __init__(self, it: Iterator[bcl_pb2.UploadRequest]) -> None:
        self._it = it

    def next(self) -> bcl_pb2.UploadRequest | None:
        try:
            return next(self._it)
        except StopIteration:
            return None
        except grpc.RpcError:  # cancelled or disconnected mid-stream
            raise UploadInterrupted("the client went away; nothing was applied") from None


def create_bcl_server(
    uploads: BclUploads,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    max_workers: int = 4,
    credentials: grpc.ServerCredentials | None = None,
    insecure: bool = False,
) -> tuple[grpc.Server, int]:
    """A server with the BCL service alone (the 中間DB side), not started; port 0 picks one.

    Callers authenticate as in the center (`server.access`: staff tokens, national-operator
    tokens). TLS `credentials`, or plaintext only when `insecure` says so (tests, the demo).
    The issuance center registers `BclServicer` beside its own services instead.
    """
    if credentials is None and not insecure:
        raise InsecureListenerRefused("the BCL server needs TLS credentials outside the demo")
    if credentials is None and host not in LOOPBACK:  # bearer tokens would cross the wire bare
        raise InsecureListenerRefused(f"the plaintext BCL server is for loopback only, not {host}")
    engine = uploads.engine
    resolver = CallerResolver(
        engine, tokens=AccessTokens(engine, clock=system_clock), ereview=ClientRegistry()
    )
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="bcl"),
        # The access check is also the error mapping (as on the center): one wrapper per call.
        interceptors=[AccessInterceptor(resolver)],
        options=[("grpc.so_reuseport", 0)],
    )
    bcl_pb2_grpc.add_BclServiceServicer_to_server(BclServicer(uploads), server)
    address = f"{host}:{port}"
    if credentials is None:
        bound = server.add_insecure_port(address)
    else:
        bound = server.add_secure_port(address, credentials)
    if bound == 0:
        raise RuntimeError(f"cannot bind {host}:{port}")
    return server, bound
