"""gRPC face of `server.bcl.upload`: translates messages and streams, nothing more."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent import futures

import grpc
from konbini.bcl.v1 import bcl_pb2, bcl_pb2_grpc

from server.bcl.generations import FileDigest, GenerationInfo, UploadKind
from server.bcl.upload import (
    BclUploads,
    Committed,
    UploadFile,
    UploadHeader,
    UploadInterrupted,
    UploadOutcome,
    UploadProtocolError,
)
from server.common.errors import InvalidArgument, Unauthenticated
from server.common.protoconv import timestamp
from server.grpc_errors import DomainErrorInterceptor

# Until staff authentication comes (the security issue), the caller names the municipality it
# acts for in this header; every call is limited to that municipality's data.
MUNICIPALITY_HEADER = "konbini-municipality"
RESTORE_CHUNK_BYTES = 256 * 1024

_MUNICIPALITY = re.compile(r"[0-9]{6}")
_KIND_TO_PROTO = {
    UploadKind.FULL: bcl_pb2.UPLOAD_KIND_FULL,
    UploadKind.DIFFERENCE: bcl_pb2.UPLOAD_KIND_DIFFERENCE,
}
_KIND_FROM_PROTO = {v: k for k, v in _KIND_TO_PROTO.items()}


class MunicipalityIdentityMissing(Unauthenticated):
    reason = "MUNICIPALITY_IDENTITY_MISSING"


def acting_for(context: grpc.ServicerContext) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == MUNICIPALITY_HEADER and isinstance(value, str) and _MUNICIPALITY.fullmatch(value):
            return value
    raise MunicipalityIdentityMissing(
        f"BCL calls must name the municipality acted for in the {MUNICIPALITY_HEADER} header"
    )


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
        gens = self._uploads.generations(acting_for(context), request.municipality_code)
        return bcl_pb2.ListGenerationsResponse(generations=[generation_pb(g) for g in gens])

    def Restore(
        self, request: bcl_pb2.RestoreRequest, context: grpc.ServicerContext
    ) -> Iterator[bcl_pb2.RestoreChunk]:
        if request.number < 0:
            raise InvalidArgument("number must not be negative", field="number")
        restore = self._uploads.restore(
            acting_for(context), request.municipality_code, request.number
        )
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
    uploads: BclUploads, *, host: str = "127.0.0.1", port: int = 0, max_workers: int = 4
) -> tuple[grpc.Server, int]:
    """A server with the BCL service alone (the 中間DB side), not started; port 0 picks one.

    The issuance center registers `BclServicer` beside its own services instead.
    """
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="bcl"),
        interceptors=[DomainErrorInterceptor()],
        options=[("grpc.so_reuseport", 0)],
    )
    bcl_pb2_grpc.add_BclServiceServicer_to_server(BclServicer(uploads), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise RuntimeError(f"cannot bind {host}:{port}")
    return server, bound
