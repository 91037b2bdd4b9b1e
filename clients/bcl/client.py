"""The municipality's BCL client: upload a directory of CSV files, list generations, restore.

Uploads stream each file in chunks (read once: the SHA-256 is computed as the bytes go) and
end with a trailer of digests; the server applies nothing unless the trailer arrives and
matches. A restore writes each file under a temporary name, checks its SHA-256 and the
generation's manifest checksum, and only then gives it its name.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import grpc
from konbini.bcl.v1 import bcl_pb2, bcl_pb2_grpc

from clients.credentials import bearer

CHUNK_BYTES = 256 * 1024

Progress = Callable[[int], None]  # bytes just sent or received


class RestoreFailed(Exception):
    """What the server sent does not match its own checksums; nothing was left in place."""


@dataclass(frozen=True)
class FileDigest:
    name: str
    size: int
    sha256: str  # hex


@dataclass(frozen=True)
class GenerationView:
    municipality_code: str
    number: int
    kind: str  # full | difference
    base_generation: int
    checksum: str  # hex SHA-256 of the uploaded files' manifest
    kept_checksum: str  # hex SHA-256 of the kept files' manifest
    committed_at: datetime
    current: bool
    kept: bool
    uploaded_bytes: int
    counts: dict[str, int] = field(default_factory=dict)
    uploaded_files: tuple[FileDigest, ...] = ()
    kept_files: tuple[FileDigest, ...] = ()


@dataclass(frozen=True)
class RowErrorView:
    file: str
    row: int
    column: str
    code: str
    message: str


@dataclass(frozen=True)
class UploadResult:
    generation: GenerationView | None  # None: rejected
    error_count: int = 0
    errors: tuple[RowErrorView, ...] = ()
    pruned: tuple[int, ...] = ()

    @property
    def committed(self) -> bool:
        return self.generation is not None


_KINDS = {bcl_pb2.UPLOAD_KIND_FULL: "full", bcl_pb2.UPLOAD_KIND_DIFFERENCE: "difference"}


def manifest_checksum(files: Sequence[FileDigest]) -> str:
    """The same manifest checksum as the server's: `sha256sum` lines sorted by name."""
    lines = "".join(f"{f.sha256}  {f.name}\n" for f in sorted(files, key=lambda f: f.name))
    return hashlib.sha256(lines.encode()).hexdigest()


def _digest(msg: bcl_pb2.FileDigest) -> FileDigest:
    return FileDigest(msg.name, msg.size, msg.sha256.hex())


def _generation(msg: bcl_pb2.Generation) -> GenerationView:
    c = msg.counts
    return GenerationView(
        municipality_code=msg.municipality_code,
        number=msg.number,
        kind=_KINDS.get(msg.kind, "unknown"),
        base_generation=msg.base_generation,
        checksum=msg.checksum.hex(),
        kept_checksum=msg.kept_checksum.hex(),
        committed_at=msg.committed_at.ToDatetime(tzinfo=UTC),
        current=msg.current,
        kept=msg.kept,
        uploaded_bytes=msg.uploaded_bytes,
        counts={f.name: getattr(c, f.name) for f in c.DESCRIPTOR.fields},
        uploaded_files=tuple(_digest(f) for f in msg.uploaded_files),
        kept_files=tuple(_digest(f) for f in msg.kept_files),
    )


def upload_files(directory: Path) -> list[Path]:
    """The files of an upload directory: every *.csv in it (the server judges the names)."""
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix == ".csv")
    if not files:
        raise FileNotFoundError(f"no .csv files in {directory}")
    return files


class BclClient:
    """BCL calls for one municipality, as a staff member of it (its bearer token)."""

    def __init__(self, channel: grpc.Channel, municipality_code: str, *, token: str) -> None:
        self._stub = bcl_pb2_grpc.BclServiceStub(channel)
        self.municipality_code = municipality_code
        self._metadata = bearer(token)

    def upload(
        self,
        files: Sequence[Path],
        *,
        difference: bool = False,
        base_generation: int = 0,
        progress: Progress | None = None,
        chunk_bytes: int = CHUNK_BYTES,
        timeout: float | None = None,
    ) -> UploadResult:
        header = bcl_pb2.UploadHeader(
            municipality_code=self.municipality_code,
            kind=bcl_pb2.UPLOAD_KIND_DIFFERENCE if difference else bcl_pb2.UPLOAD_KIND_FULL,
            files=[bcl_pb2.FileEntry(name=p.name, size=p.stat().st_size) for p in files],
            base_generation=base_generation,
        )
        response = self._stub.Upload(
            _requests(header, files, progress, chunk_bytes),
            metadata=self._metadata,
            timeout=timeout,
        )
        if response.WhichOneof("outcome") == "committed":
            return UploadResult(
                _generation(response.committed), pruned=tuple(response.pruned_generations)
            )
        rejected = response.rejected
        return UploadResult(
            None,
            error_count=rejected.error_count,
            errors=tuple(
                RowErrorView(e.file, e.row, e.column, e.code, e.message) for e in rejected.errors
            ),
        )

    def generations(self, *, timeout: float | None = 30) -> list[GenerationView]:
        response = self._stub.ListGenerations(
            bcl_pb2.ListGenerationsRequest(municipality_code=self.municipality_code),
            metadata=self._metadata,
            timeout=timeout,
        )
        return [_generation(g) for g in response.generations]

    def restore(
        self,
        out: Path,
        *,
        number: int = 0,
        progress: Progress | None = None,
        overwrite: bool = False,
        timeout: float | None = None,
    ) -> GenerationView:
        """Write generation `number` (0: current) into `out`, every file checked."""
        out.mkdir(parents=True, exist_ok=True)
        stream = self._stub.Restore(
            bcl_pb2.RestoreRequest(municipality_code=self.municipality_code, number=number),
            metadata=self._metadata,
            timeout=timeout,
        )
        writer: _RestoreWriter | None = None
        try:
            for msg in stream:
                if msg.WhichOneof("part") == "generation":
                    gen = _generation(msg.generation)
                    writer = _RestoreWriter(out, gen, overwrite=overwrite)
                elif writer is None:
                    raise RestoreFailed("the server sent data before saying what it was")
                else:
                    writer.write(msg.chunk.file_index, msg.chunk.data)
                    if progress is not None:
                        progress(len(msg.chunk.data))
            if writer is None:
                raise RestoreFailed("the server sent nothing")
            return writer.finish()
        finally:
            if writer is not None:
                writer.discard()


def _requests(
    header: bcl_pb2.UploadHeader,
    files: Sequence[Path],
    progress: Progress | None,
    chunk_bytes: int,
) -> Iterator[bcl_pb2.UploadRequest]:
    yield bcl_pb2.UploadRequest(header=header)
    digests = []
    for index, path in enumerate(files):
        sha = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(chunk_bytes):
                sha.update(chunk)
                yield bcl_pb2.UploadRequest(chunk=bcl_pb2.FileChunk(file_index=index, data=chunk))
                if progress is not None:
                    progress(len(chunk))
        digests.append(sha.digest())
    yield bcl_pb2.UploadRequest(trailer=bcl_pb2.UploadTrailer(sha256=digests))


class _RestoreWriter:
    def __init__(self, out: Path, generation: GenerationView, *, overwrite: bool) -> None:
        self.generation = generation
        self._out = out
        self._files = generation.kept_files
        for f in self._files:
            if os.sep in f.name or f.name.startswith("."):
                raise RestoreFailed(f"refusing a file named {f.name!r}")
            if (out / f.name).exists() and not overwrite:
                raise FileExistsError(f"{out / f.name} exists (restore into an empty directory)")
        self._temps = [out / f".{f.name}.restoring" for f in self._files]
        self._hashes = [hashlib.sha256() for _ in self._files]
        self._sizes = [0] * len(self._files)
        self._handles = [open(t, "wb") for t in self._temps]  # noqa: SIM115

    def write(self, index: int, data: bytes) -> None:
        if not 0 <= index < len(self._files):
            raise RestoreFailed(f"the server sent file {index} of {len(self._files)}")
        self._handles[index].write(data)
        self._hashes[index].update(data)
        self._sizes[index] += len(data)

    def finish(self) -> GenerationView:
        for handle in self._handles:
            handle.close()
        for i, f in enumerate(self._files):
            if self._sizes[i] != f.size or self._hashes[i].hexdigest() != f.sha256:
                raise RestoreFailed(f"{f.name} arrived with another size or SHA-256")
        if manifest_checksum(self._files) != self.generation.kept_checksum:
            raise RestoreFailed("the files do not add up to the generation's checksum")
        for temp, f in zip(self._temps, self._files, strict=True):
            temp.replace(self._out / f.name)
        return self.generation

    def discard(self) -> None:
        for handle in self._handles:
            handle.close()
        for temp in self._temps:
            temp.unlink(missing_ok=True)
