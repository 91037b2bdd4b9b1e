"""Generations (副本): what each committed upload was, the files kept to restore it, retention.

The kept files live on disk, gzip-compressed, under `<backup root>/<municipality>/<key>/`; the
database says which generation owns which directory. Files are written and fsynced *before*
the transaction that records their generation commits, so a committed generation always has
its files; a crash in between leaves a directory no generation names, which `sweep` removes.
Pruning goes the other way round: the row is marked not kept first, then the files go.

A generation's checksum is the SHA-256 of its manifest — one `<sha256>  <name>` line per file,
sorted by name, as `sha256sum` prints it — so a municipality can check a restore by hand.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from server.bcl.models import BclGeneration, BclGenerationFile, table_of
from server.common.errors import FailedPrecondition, NotFound

COPY_CHUNK = 1024 * 1024


class UploadKind(StrEnum):
    FULL = "full"  # the whole register: what it omits is removed
    DIFFERENCE = "difference"  # upserts and deletions keyed by 宛名番号


class FileRole(StrEnum):
    UPLOAD = "upload"  # as the municipality sent it
    BACKUP = "backup"  # as kept for restore


class GenerationNotFound(NotFound):
    reason = "GENERATION_NOT_FOUND"


class GenerationNotKept(FailedPrecondition):
    """Retention pruned the files of this generation; it can no longer be restored."""

    reason = "GENERATION_NOT_KEPT"


class BackupCorrupted(FailedPrecondition):
    reason = "BACKUP_CORRUPTED"


@dataclass(frozen=True)
class FileDigest:
    name: str
    size: int
    sha256: str  # hex

    def __post_init__(self) -> None:
        if self.size < 0 or len(self.sha256) != 64:
            raise ValueError("a file digest needs a size and a hex SHA-256")


def manifest_checksum(files: Iterable[FileDigest]) -> str:
    """SHA-256 (hex) of the `sha256sum`-style manifest of `files`."""
    lines = "".join(f"{f.sha256}  {f.name}\n" for f in sorted(files, key=lambda f: f.name))
    return hashlib.sha256(lines.encode()).hexdigest()


@dataclass(frozen=True)
class Counts:
    """Rows a generation applied, per register (for a full upload: what it holds)."""

    residents: int = 0
    removed: int = 0  # residents marked removed by this generation
    card_serials: int = 0
    seals: int = 0
    seal_images: int = 0
    tax_records: int = 0
    koseki_members: int = 0
    fuhyo_entries: int = 0
    koseki_events: int = 0  # 戸籍事項 and 身分事項

    @property
    def total_rows(self) -> int:
        return (
            self.residents
            + self.removed
            + self.card_serials
            + self.seals
            + self.seal_images
            + self.tax_records
            + self.koseki_members
            + self.fuhyo_entries
            + self.koseki_events
        )


@dataclass(frozen=True)
class GenerationInfo:
    municipality_code: str
    number: int
    kind: UploadKind
    base_number: int | None
    checksum: str  # of the uploaded files
    backup_checksum: str  # of the kept files (= checksum for a full upload)
    committed_at: datetime
    kept: bool
    current: bool
    uploaded_bytes: int
    counts: Counts
    uploaded_files: tuple[FileDigest, ...]
    kept_files: tuple[FileDigest, ...]


# --- the files on disk -------------------------------------------------------------------------


class _Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...


class HashingWriter(io.RawIOBase):
    """Counts and hashes what is written through it (the uncompressed bytes)."""

    def __init__(self, inner: _Writable) -> None:
        super().__init__()
        self._inner = inner
        self._sha = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._sha.update(view)
        self.size += len(view)
        self._inner.write(bytes(view))
        return len(view)

    def digest(self, name: str) -> FileDigest:
        return FileDigest(name, self.size, self._sha.hexdigest())


class BackupStore:
    def __init__(self, root: Path, *, compress_level: int = 1) -> None:
        if not 0 <= compress_level <= 9:
            raise ValueError("compress_level must be 0-9")
        self.root = root
        self.compress_level = compress_level

    def new_key(self, municipality_code: str) -> str:
        return f"{municipality_code}/{uuid.uuid4().hex}"

    def _dir(self, key: str) -> Path:
        return self.root / key

    @contextmanager
    def writer(self, key: str, name: str) -> Iterator[HashingWriter]:
        """A file of `key` to write plain bytes into; stored compressed, fsynced on close."""
        directory = self._dir(key)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{name}.gz"
        with open(path, "wb") as raw:
            with gzip.GzipFile(
                filename=name, mode="wb", fileobj=raw, compresslevel=self.compress_level, mtime=0
            ) as gz:
                yield HashingWriter(gz)
            raw.flush()
            os.fsync(raw.fileno())

    def put(self, key: str, name: str, source: Path) -> FileDigest:
        """Keep a copy of `source` (compressed); returns the digest of what was read."""
        with self.writer(key, name) as out, open(source, "rb") as src:
            while chunk := src.read(COPY_CHUNK):
                out.write(chunk)
        return out.digest(name)

    def seal(self, key: str) -> None:
        """Make the directory entries of `key` durable too."""
        for directory in (self._dir(key), self._dir(key).parent):
            fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def open(self, key: str, name: str) -> gzip.GzipFile:
        path = self._dir(key) / f"{name}.gz"
        if not path.is_file():
            raise BackupCorrupted(f"the kept file {name} is missing")
        return gzip.GzipFile(path, "rb")

    def delete(self, key: str) -> None:
        shutil.rmtree(self._dir(key), ignore_errors=True)

    def keys(self) -> set[str]:
        if not self.root.is_dir():
            return set()
        return {
            f"{muni.name}/{d.name}"
            for muni in self.root.iterdir()
            if muni.is_dir()
            for d in muni.iterdir()
            if d.is_dir()
        }

    def sweep(self, engine: Engine) -> list[str]:
        """Remove directories that no kept generation owns (a crash before a commit)."""
        with engine.connect() as conn:
            owned = set(
                conn.execute(
                    sa.select(_GEN.c.storage_key).where(_GEN.c.kept == sa.true())
                ).scalars()
            )
        orphans = sorted(self.keys() - owned)
        for key in orphans:
            self.delete(key)
        return orphans


# --- the rows ----------------------------------------------------------------------------------

_GEN = table_of(BclGeneration)
_FILES = table_of(BclGenerationFile)


def current_number(conn: Connection, municipality_code: str) -> int:
    """The number of the municipality's current generation; 0 before the first upload."""
    value = conn.execute(
        sa.select(sa.func.max(_GEN.c.number)).where(_GEN.c.municipality_code == municipality_code)
    ).scalar()
    return int(value or 0)


def record_generation(
    conn: Connection,
    *,
    municipality_code: str,
    number: int,
    kind: UploadKind,
    base_number: int | None,
    storage_key: str,
    uploaded: Iterable[FileDigest],
    kept: Iterable[FileDigest],
    counts: Counts,
    committed_at: datetime,
) -> None:
    uploaded, kept = tuple(uploaded), tuple(kept)
    gen_id = conn.execute(
        sa.insert(_GEN)
        .values(
            municipality_code=municipality_code,
            number=number,
            kind=kind.value,
            base_number=base_number,
            checksum=manifest_checksum(uploaded),
            backup_checksum=manifest_checksum(kept),
            storage_key=storage_key,
            kept=True,
            uploaded_bytes=sum(f.size for f in uploaded),
            committed_at=committed_at,
            **counts.__dict__,
        )
        .returning(_GEN.c.id)
    ).scalar_one()
    conn.execute(
        sa.insert(_FILES),
        [
            {"generation_id": gen_id, "role": role.value, **f.__dict__}
            for role, files in ((FileRole.UPLOAD, uploaded), (FileRole.BACKUP, kept))
            for f in files
        ],
    )


def list_generations(engine: Engine, municipality_code: str) -> list[GenerationInfo]:
    """Every generation of the municipality, newest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(_GEN)
            .where(_GEN.c.municipality_code == municipality_code)
            .order_by(_GEN.c.number.desc())
        ).all()
        files = _files_of(conn, [r.id for r in rows])
    current = rows[0].number if rows else 0
    return [_info(r, files.get(r.id, {}), current) for r in rows]


def get_generation(engine: Engine, municipality_code: str, number: int) -> GenerationInfo:
    """Generation `number` of the municipality; 0 names the current one."""
    with engine.connect() as conn:
        current = current_number(conn, municipality_code)
        wanted = number or current
        row = conn.execute(
            sa.select(_GEN)
            .where(_GEN.c.municipality_code == municipality_code)
            .where(_GEN.c.number == wanted)
        ).first()
        if row is None:
            what = f"generation {number}" if number else "any generation"
            raise GenerationNotFound(f"municipality {municipality_code} has no {what}")
        files = _files_of(conn, [row.id])
    return _info(row, files.get(row.id, {}), current)


def storage_key_of(engine: Engine, municipality_code: str, number: int) -> str:
    with engine.connect() as conn:
        key = conn.execute(
            sa.select(_GEN.c.storage_key)
            .where(_GEN.c.municipality_code == municipality_code)
            .where(_GEN.c.number == number)
        ).scalar_one()
    return str(key)


def prune(
    engine: Engine, store: BackupStore, municipality_code: str, *, keep: int, now: datetime
) -> list[int]:
    """Drop the kept files of all but the newest `keep` generations; returns their numbers."""
    if keep < 1:
        raise ValueError("retention must keep at least one generation")
    with engine.begin() as conn:
        rows = conn.execute(
            sa.select(_GEN.c.id, _GEN.c.number, _GEN.c.storage_key)
            .where(_GEN.c.municipality_code == municipality_code)
            .where(_GEN.c.kept == sa.true())
            .order_by(_GEN.c.number.desc())
        ).all()[keep:]
        if rows:
            conn.execute(
                sa.update(_GEN)
                .where(_GEN.c.id.in_([r.id for r in rows]))
                .values(kept=False, pruned_at=now)
            )
    for r in rows:  # after the commit: a crash here leaves files that `sweep` removes
        store.delete(r.storage_key)
    return sorted(r.number for r in rows)


def _files_of(conn: Connection, ids: list[int]) -> dict[int, dict[str, list[FileDigest]]]:
    out: dict[int, dict[str, list[FileDigest]]] = {}
    if not ids:
        return out
    for f in conn.execute(
        sa.select(_FILES).where(_FILES.c.generation_id.in_(ids)).order_by(_FILES.c.name)
    ):
        out.setdefault(f.generation_id, {}).setdefault(f.role, []).append(
            FileDigest(f.name, f.size, f.sha256)
        )
    return out


def _info(row: Any, files: dict[str, list[FileDigest]], current: int) -> GenerationInfo:
    m = row._mapping
    return GenerationInfo(
        municipality_code=m["municipality_code"],
        number=m["number"],
        kind=UploadKind(m["kind"]),
        base_number=m["base_number"],
        checksum=m["checksum"],
        backup_checksum=m["backup_checksum"],
        committed_at=m["committed_at"],
        kept=bool(m["kept"]),
        current=m["number"] == current,
        uploaded_bytes=m["uploaded_bytes"],
        counts=Counts(**{k: m[k] for k in Counts.__dataclass_fields__}),
        uploaded_files=tuple(files.get(FileRole.UPLOAD.value, ())),
        kept_files=tuple(files.get(FileRole.BACKUP.value, ())),
    )
