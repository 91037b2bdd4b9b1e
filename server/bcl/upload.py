"""Uploads of resident data into the 中間DB, generation by generation (SPEC section 5).

The life of one upload:

1. **spool** — the files arrive in chunks (`Upload.write`) and go to a directory of their own
   under the spool root, hashed as they come; nothing is held in memory and the database is
   not touched. A stream that ends early, or whose sizes or SHA-256s differ from what the
   client declared, is discarded.
2. **apply** — one transaction: lock the municipality, check the files row by row and apply
   them to the live tables (`upload_apply`), keep the generation's files (the upload itself,
   compressed, for a full upload; a full export for a difference), record the generation.
   Any error: roll back, report every error found (`Rejected`).
3. **commit** — the generation is current; issuance reads the live tables it was applied to.
   Then retention prunes the kept files of older generations.

An upload interrupted anywhere before the commit (the client gone, the server killed) leaves
the previous generation serving: its rows were never committed, its spool and any files kept
for it are removed — at once, or by `recover()` when the server starts again.

Staff authentication is not built yet: the caller names the municipality it acts for (the
servicer reads a metadata header) and may touch only that municipality's data.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, ClassVar

import grpc
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from server.audit import log as audit
from server.bcl.csvformat import FILES, ErrorSink, RowError, check_file_set
from server.bcl.export import export_generation
from server.bcl.generations import (
    BackupCorrupted,
    BackupStore,
    Counts,
    FileDigest,
    GenerationInfo,
    GenerationNotKept,
    UploadKind,
    current_number,
    get_generation,
    list_generations,
    prune,
    record_generation,
    storage_key_of,
)
from server.bcl.models import table_of
from server.bcl.records import IssuingBackend
from server.bcl.upload_apply import Applier
from server.common.clock import JST, Clock
from server.common.errors import (
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from server.db.models import Municipality

log = logging.getLogger(__name__)

_MUNICIPALITY_CODE = re.compile(r"\d{6}")
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_M = table_of(Municipality)


# --- errors ------------------------------------------------------------------------------------


class MunicipalityMismatch(PermissionDenied):
    reason = "MUNICIPALITY_MISMATCH"


class MunicipalityNotFound(NotFound):
    reason = "MUNICIPALITY_NOT_FOUND"


class NotBclMunicipality(FailedPrecondition):
    """The municipality runs its own issuing server; it uploads nothing to BCL."""

    reason = "NOT_A_BCL_MUNICIPALITY"


class BaseGenerationMismatch(FailedPrecondition):
    """A difference made against another generation than the current one."""

    reason = "BASE_GENERATION_MISMATCH"


class UploadProtocolError(InvalidArgument):
    """The client broke the upload protocol (chunk order, missing header or trailer)."""

    reason = "UPLOAD_PROTOCOL"


class UploadCorrupted(InvalidArgument):
    """The bytes received differ from the sizes or SHA-256s the client declared."""

    reason = "UPLOAD_CORRUPTED"


class UploadTooLarge(DomainError):
    status: ClassVar[grpc.StatusCode] = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "UPLOAD_TOO_LARGE"


class StorageFull(DomainError):
    """The disk of the spool or of the kept files filled up; nothing was applied."""

    status: ClassVar[grpc.StatusCode] = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "STORAGE_FULL"


_FULL = (errno.ENOSPC, errno.EDQUOT)


@contextmanager
def _storage() -> Iterator[None]:
    """A full disk is the uploader's to hear about (RESOURCE_EXHAUSTED), not a crash."""
    try:
        yield
    except OSError as exc:
        if exc.errno in _FULL:
            raise StorageFull("the BCL store is out of disk space; nothing was applied") from exc
        raise


class UploadInterrupted(DomainError):
    """The stream ended before the client finished the upload; nothing was applied."""

    status: ClassVar[grpc.StatusCode] = grpc.StatusCode.CANCELLED
    reason = "UPLOAD_INTERRUPTED"


# --- settings and values -----------------------------------------------------------------------


@dataclass(frozen=True)
class BclSettings:
    data_dir: Path = Path("var/bcl")  # spool/ and backups/ below it, owned by one server
    retention: int = 7  # generations whose files are kept for restore, the current included
    max_upload_bytes: int = 64 * 1024**3
    max_files: int = 16
    max_reported_errors: int = 1000  # all errors are counted; this many are listed
    compress_level: int = 1  # of the kept copies: zlib level 1 is ~4x faster than 6, ~30% larger
    batch_rows: int = 2000

    def __post_init__(self) -> None:
        if self.retention < 1:
            raise ValueError("retention must keep at least one generation")
        if self.max_upload_bytes < 1 or self.max_files < 1 or self.batch_rows < 1:
            raise ValueError("limits must be positive")
        if self.max_reported_errors < 1:
            raise ValueError("max_reported_errors must be positive")

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"

    @property
    def backup_dir(self) -> Path:
        return self.data_dir / "backups"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> BclSettings:
        """KONBINI_BCL_DIR, KONBINI_BCL_RETENTION, KONBINI_BCL_MAX_UPLOAD_BYTES,
        KONBINI_BCL_MAX_ERRORS, KONBINI_BCL_COMPRESS_LEVEL; keyword overrides win."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        mapping: dict[str, tuple[str, Callable[[str], object]]] = {
            "KONBINI_BCL_DIR": ("data_dir", Path),
            "KONBINI_BCL_RETENTION": ("retention", int),
            "KONBINI_BCL_MAX_UPLOAD_BYTES": ("max_upload_bytes", int),
            "KONBINI_BCL_MAX_ERRORS": ("max_reported_errors", int),
            "KONBINI_BCL_COMPRESS_LEVEL": ("compress_level", int),
        }
        for var, (name, conv) in mapping.items():
            if var in env:
                values[name] = conv(env[var])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class UploadFile:
    name: str
    size: int


@dataclass(frozen=True)
class UploadHeader:
    municipality_code: str
    kind: UploadKind
    files: tuple[UploadFile, ...]
    base_generation: int = 0  # a difference: refused unless this is current (0: not checked)

    def __post_init__(self) -> None:
        if not _MUNICIPALITY_CODE.fullmatch(self.municipality_code):
            raise InvalidArgument("municipality_code must be 6 digits", field="municipality_code")
        if not self.files:
            raise InvalidArgument("an upload needs at least one file", field="files")
        for f in self.files:
            if not _FILE_NAME.fullmatch(f.name):
                raise InvalidArgument(f"not a plain file name: {f.name!r}", field="files")
            if f.size < 0:
                raise InvalidArgument("file sizes must not be negative", field="files")
        if self.base_generation < 0:
            raise InvalidArgument("base_generation must not be negative", field="base_generation")


class Phase(StrEnum):
    """Checkpoints of an upload, reported to an observer (logging, tests)."""

    SPOOLED = "spooled"  # every byte received and verified; nothing applied
    APPLIED = "applied"  # rows written and the generation recorded, not yet committed
    COMMITTED = "committed"


Checkpoint = Callable[[Phase, str], None]  # (phase, upload id)


def _no_checkpoint(_phase: Phase, _upload_id: str) -> None:
    return None


@dataclass(frozen=True)
class Committed:
    generation: GenerationInfo
    pruned: tuple[int, ...]  # generations whose kept files retention removed just now


@dataclass(frozen=True)
class Rejected:
    error_count: int  # every error found
    errors: tuple[RowError, ...]  # the first `max_reported_errors` found, by file and row


UploadOutcome = Committed | Rejected


# --- the service -------------------------------------------------------------------------------


class BclUploads:
    """The BCL data desk: uploads, generations, restores. Pure domain, no gRPC."""

    def __init__(
        self,
        engine: Engine,
        settings: BclSettings,
        *,
        clock: Clock,
        checkpoint: Checkpoint = _no_checkpoint,
    ) -> None:
        self._engine = engine
        self.settings = settings
        self._clock = clock
        self._checkpoint = checkpoint
        self.store = BackupStore(settings.backup_dir, compress_level=settings.compress_level)

    @property
    def engine(self) -> Engine:
        return self._engine

    def recover(self) -> list[str]:
        """At start-up: drop spools and kept files of uploads a crash cut short."""
        settings = self.settings
        stale = []
        if settings.spool_dir.is_dir():
            for d in settings.spool_dir.iterdir():
                shutil.rmtree(d, ignore_errors=True)
                stale.append(f"spool/{d.name}")
        stale += [f"backups/{k}" for k in self.store.sweep(self._engine)]
        if stale:
            log.warning("removed %d leftovers of interrupted uploads: %s", len(stale), stale)
        return stale

    def _authorize(self, acting_for: str, municipality_code: str) -> None:
        if acting_for != municipality_code:
            raise MunicipalityMismatch(
                f"acting for {acting_for}, you may not use the data of {municipality_code}"
            )

    def _check_municipality(self, municipality_code: str) -> None:
        with self._engine.connect() as conn:
            backend = conn.execute(
                sa.select(_M.c.backend).where(_M.c.code == municipality_code)
            ).scalar()
        if backend is None:
            raise MunicipalityNotFound(f"municipality {municipality_code} has not joined")
        if backend != IssuingBackend.BCL.value:
            raise NotBclMunicipality(f"{municipality_code} issues from its own server")

    def begin(self, acting_for: str, header: UploadHeader) -> Upload:
        """Open an upload; the caller writes its chunks, then finishes or discards it."""
        self._authorize(acting_for, header.municipality_code)
        self._check_municipality(header.municipality_code)
        settings = self.settings
        if len(header.files) > settings.max_files:
            raise InvalidArgument(f"at most {settings.max_files} files", field="files")
        total = sum(f.size for f in header.files)
        if total > settings.max_upload_bytes:
            raise UploadTooLarge(f"{total} bytes is more than {settings.max_upload_bytes}")
        settings.spool_dir.mkdir(parents=True, exist_ok=True)
        # Room for the spool and for the kept copy (compressed, so at most as big).
        if shutil.disk_usage(settings.spool_dir).free < 2 * total:
            raise UploadTooLarge("not enough disk space for this upload")
        return Upload(self, header)

    def generations(self, acting_for: str, municipality_code: str) -> list[GenerationInfo]:
        self._authorize(acting_for, municipality_code)
        return list_generations(self._engine, municipality_code)

    def restore(self, acting_for: str, municipality_code: str, number: int) -> Restore:
        """Generation `number` (0: the current one) as its kept files, checksummed."""
        self._authorize(acting_for, municipality_code)
        info = get_generation(self._engine, municipality_code, number)
        if not info.kept:
            raise GenerationNotKept(
                f"generation {info.number} is older than the retention of "
                f"{self.settings.retention}; its files are gone"
            )
        key = storage_key_of(self._engine, municipality_code, info.number)
        return Restore(info, self.store, key)

    # -- apply ------------------------------------------------------------------------------

    def _apply(self, upload: Upload, received: list[FileDigest]) -> UploadOutcome:
        header = upload.header
        full = header.kind is UploadKind.FULL
        sink = ErrorSink(self.settings.max_reported_errors)
        schemas = check_file_set((f.name for f in header.files), full=full, sink=sink)
        paths = {s.name: upload.path_of(s.name) for s in schemas}
        if sink:  # a wrong file set: still check the rows of the files we know
            with self._engine.connect() as conn, conn.begin() as tx:
                self._run_applier(conn, header, paths, sink)
                tx.rollback()
            return _rejected(sink)

        key = self.store.new_key(header.municipality_code)
        committed = False
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bcl-keep")
        try:
            # The kept copy of a full upload is the upload itself: compress it while applying.
            compressing = pool.submit(self._keep_upload, key, paths) if full else None
            with self._engine.connect() as conn, conn.begin() as tx:
                conn.execute(
                    sa.select(_M.c.code)
                    .where(_M.c.code == header.municipality_code)
                    .with_for_update()  # one upload per municipality commits at a time
                )
                current = current_number(conn, header.municipality_code)
                if not full and header.base_generation and header.base_generation != current:
                    raise BaseGenerationMismatch(
                        f"this difference is against generation {header.base_generation}; "
                        f"the current generation is {current}"
                    )
                counts = self._run_applier(conn, header, paths, sink)
                if sink:
                    tx.rollback()
                    return _rejected(sink)
                if compressing is not None:
                    kept = compressing.result()
                    if sorted(kept, key=_name) != sorted(received, key=_name):
                        raise UploadCorrupted("the spooled files changed on disk")
                else:
                    kept = export_generation(conn, header.municipality_code, self.store, key)
                self.store.seal(key)
                number = current + 1
                record_generation(
                    conn,
                    municipality_code=header.municipality_code,
                    number=number,
                    kind=header.kind,
                    base_number=None if full else current,
                    storage_key=key,
                    uploaded=received,
                    kept=kept,
                    counts=counts,
                    committed_at=self._clock(),
                )
                _audit_generation(conn, header, number, counts, upload.id, self._clock())
                self._checkpoint(Phase.APPLIED, upload.id)
            committed = True
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            if not committed:  # rejected, refused or failed: nothing of it stays
                self.store.delete(key)
        self._checkpoint(Phase.COMMITTED, upload.id)
        log.info(
            "municipality %s: generation %d (%s) committed, %d rows",
            header.municipality_code,
            number,
            header.kind.value,
            counts.total_rows,
        )
        pruned = prune(
            self._engine,
            self.store,
            header.municipality_code,
            keep=self.settings.retention,
            now=self._clock(),
        )
        info = get_generation(self._engine, header.municipality_code, number)
        return Committed(info, tuple(pruned))

    def _run_applier(
        self, conn: sa.Connection, header: UploadHeader, paths: dict[str, Path], sink: ErrorSink
    ) -> Counts:
        now = self._clock()
        applier = Applier(
            conn,
            municipality_code=header.municipality_code,
            full=header.kind is UploadKind.FULL,
            today=now.astimezone(JST).date(),
            now=now,
            sink=sink,
            batch_rows=self.settings.batch_rows,
        )
        return applier.run(paths)

    def _keep_upload(self, key: str, paths: dict[str, Path]) -> list[FileDigest]:
        return [self.store.put(key, name, path) for name, path in paths.items()]


def _audit_generation(
    conn: sa.Connection,
    header: UploadHeader,
    number: int,
    counts: Counts,
    upload: str,
    at: datetime,
) -> None:
    """The committed generation in the audit log, in its transaction (last: it locks the head)."""
    audit.append(
        conn,
        event="bcl.generation_committed",
        actor=f"bcl:{header.municipality_code}",  # the uploader acts only for its municipality
        subject=f"generation:{header.municipality_code}:{number}",
        municipality_code=header.municipality_code,
        details={"kind": header.kind.value, "rows": str(counts.total_rows), "upload_id": upload},
        at=at,
    )


def _rejected(sink: ErrorSink) -> Rejected:
    """The errors in file order (as applied), then row order; unknown files first."""
    order = {schema.name: i for i, schema in enumerate(FILES)}
    errors = sorted(sink.errors, key=lambda e: (order.get(e.file, -1), e.row))
    return Rejected(sink.count, tuple(errors))


def _name(f: FileDigest) -> str:
    return f.name


class Upload:
    """One upload being received: its spool directory and running digests."""

    def __init__(self, service: BclUploads, header: UploadHeader) -> None:
        self.id = uuid.uuid4().hex
        self.header = header
        self._service = service
        self._dir = service.settings.spool_dir / self.id
        self._dir.mkdir(parents=True)
        self._paths = [self._dir / f"{i:02d}-{f.name}" for i, f in enumerate(header.files)]
        self._hashes = [hashlib.sha256() for _ in header.files]
        self._sizes = [0] * len(header.files)
        self._index = 0
        self._out: IO[bytes] | None = None
        self._done = False

    def path_of(self, name: str) -> Path:
        for f, path in zip(self.header.files, self._paths, strict=True):
            if f.name == name:
                return path
        raise KeyError(name)

    def write(self, index: int, data: bytes) -> None:
        """Append a chunk to file `index`; files come in header order, each whole."""
        if self._done:
            raise UploadProtocolError("this upload is finished")
        if not self._index <= index < len(self._paths):
            raise UploadProtocolError(
                f"chunk for file {index}: files come in header order, each before the next"
            )
        declared = self.header.files[index]
        if self._sizes[index] + len(data) > declared.size:
            raise UploadCorrupted(f"{declared.name} is longer than the {declared.size} declared")
        with _storage():
            if index != self._index or self._out is None:
                self._close_file()
                self._index = index
                self._out = open(self._paths[index], "wb")  # noqa: SIM115 - see _close_file
            self._out.write(data)
        self._hashes[index].update(data)
        self._sizes[index] += len(data)

    def _close_file(self) -> None:
        out, self._out = self._out, None
        if out is not None:
            out.close()

    def finish(self, sha256s: Sequence[bytes]) -> UploadOutcome:
        """The client's digests arrived: verify, then apply in one transaction."""
        if self._done:
            raise UploadProtocolError("this upload is finished")
        self._done = True
        try:
            with _storage():
                self._close_file()  # flushes the last bytes: the disk may be full now
            if len(sha256s) != len(self.header.files):
                raise UploadProtocolError("one SHA-256 per file is needed in the trailer")
            received = []
            for i, f in enumerate(self.header.files):
                if not self._paths[i].exists():
                    self._paths[i].touch()  # an empty file needs no chunk
                digest = self._hashes[i].digest()
                if self._sizes[i] != f.size or digest != sha256s[i]:
                    raise UploadCorrupted(
                        f"{f.name}: received {self._sizes[i]} bytes with another SHA-256 than "
                        f"the {f.size} bytes declared"
                    )
                received.append(FileDigest(f.name, f.size, digest.hex()))
            with _storage():
                self._service._checkpoint(Phase.SPOOLED, self.id)
                return self._service._apply(self, received)
        finally:
            self.discard()

    def discard(self) -> None:
        """Forget the upload: close and remove its spool. Safe to call more than once."""
        self._done = True
        with suppress(OSError):  # a full disk may refuse the last flush; the file goes anyway
            self._close_file()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Upload:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()


@dataclass(frozen=True)
class Restore:
    generation: GenerationInfo
    _store: BackupStore
    _key: str

    @property
    def files(self) -> tuple[FileDigest, ...]:
        return self.generation.kept_files

    def chunks(self, chunk_size: int = 256 * 1024) -> Iterator[tuple[int, bytes]]:
        """(file index, bytes) in file order; every file is checked against its SHA-256."""
        for i, f in enumerate(self.files):
            sha = hashlib.sha256()
            size = 0
            with self._store.open(self._key, f.name) as src:
                while chunk := src.read(chunk_size):
                    sha.update(chunk)
                    size += len(chunk)
                    yield i, chunk
            if size != f.size or sha.hexdigest() != f.sha256:
                raise BackupCorrupted(f"the kept copy of {f.name} no longer matches its SHA-256")
