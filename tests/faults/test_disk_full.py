"""The disk fills up while an upload generation is being written: the previous one keeps serving.

The BCL data directory (spool and kept files, `BclSettings.data_dir`) is a small tmpfs mounted
for the test, so ENOSPC is real. The disk is filled by a ballast file at two moments: while the
upload is still being spooled, and after it was spooled, while the generation's files are kept
inside the applying transaction. Either way the upload is not committed, the current generation
and the live rows stay as they were and restore byte for byte, nothing of the failed upload is
left on the disk, and once space is back the same upload commits.

Mounting needs root (CI runs as root); elsewhere these tests skip and say why.
"""

from __future__ import annotations

import errno
import filecmp
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from clients.bcl.client import BclClient, UploadResult, upload_files
from clients.bcl.generate import generate_dataset
from clients.bcl.onboard import join_municipality
from clients.errors import decode_error
from server.bcl.servicer import create_bcl_server
from server.bcl.upload import BclSettings, BclUploads, Phase
from server.common.clock import system_clock
from server.db.engine import make_engine, upgrade
from tests.credentials import staff_token
from tests.faults.conftest import Recorder
from tests.faults.kiosks import wait_for

CODE = "131016"
DISK = "12m"  # room for one kept generation and one upload in flight, not much more


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("uploads")
    for n, residents in enumerate((1500, 1600)):
        generate_dataset(root / f"upload{n}", residents=residents, seed=n, code=CODE)
    return root / "upload0", root / "upload1"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs to fill needs root")
    mount = tmp_path / "bcl"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK},mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@dataclass
class Desk:
    engine: Engine
    uploader: BclClient
    disk: Path
    on_phase: dict[Phase, Callable[[], object]] = field(default_factory=dict)

    def residents(self) -> list[tuple[object, ...]]:
        with self.engine.connect() as conn:
            return sorted(
                tuple(r)
                for r in conn.execute(
                    sa.text(
                        "SELECT resident_id, household_id, address, removed_on FROM residents "
                        "WHERE municipality_code = :m"
                    ),
                    {"m": CODE},
                )
            )

    def files(self) -> set[str]:
        return {str(p.relative_to(self.disk)) for p in self.disk.rglob("*") if p.is_file()}

    def fill(self) -> int:
        """Write a ballast file until the disk is full; returns its size."""
        written = 0
        with (self.disk / "ballast").open("wb") as f:
            for block in (1 << 20, 4096, 1):
                try:
                    while True:
                        f.write(b"\0" * block)
                        f.flush()
                        written += block
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
        return written

    def make_room(self) -> None:
        (self.disk / "ballast").unlink()


@pytest.fixture
def desk(small_disk: Path, tmp_path: Path) -> Iterator[Desk]:
    engine = make_engine(f"sqlite:///{tmp_path / 'center.db'}")  # the database is elsewhere
    upgrade(engine)
    join_municipality(engine, code=CODE, prefecture="東京都", name="千代田区")
    hooks: dict[Phase, Callable[[], object]] = {}

    def checkpoint(phase: Phase, _upload_id: str) -> None:
        hook = hooks.pop(phase, None)
        if hook is not None:
            hook()

    uploads = BclUploads(
        engine,
        BclSettings(data_dir=small_disk, retention=3),
        clock=system_clock,
        checkpoint=checkpoint,
    )
    server, port = create_bcl_server(uploads, insecure=True)
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    client = BclClient(channel, CODE, token=staff_token(engine, CODE))
    try:
        yield Desk(engine, client, small_disk, hooks)
    finally:
        channel.close()
        server.stop(grace=None).wait()
        engine.dispose()


def upload(desk: Desk, data: Path, **kw: object) -> UploadResult | grpc.RpcError:
    try:
        return desk.uploader.upload(upload_files(data), **kw)  # type: ignore[arg-type]
    except grpc.RpcError as err:
        return err


def check_previous_generation_serves(
    desk: Desk, first: UploadResult, data: Path, rows: list[tuple[object, ...]], out: Path
) -> None:
    assert first.generation is not None
    gens = desk.uploader.generations()
    assert [(g.number, g.current) for g in gens] == [(first.generation.number, True)]
    assert desk.residents() == rows
    restored = desk.uploader.restore(out, number=first.generation.number)
    assert restored.kept_checksum == first.generation.kept_checksum
    names = [p.name for p in upload_files(data)]
    _, mismatch, errors = filecmp.cmpfiles(data, out, names, shallow=False)
    assert (mismatch, errors) == ([], [])
    shutil.rmtree(out)


@pytest.mark.parametrize("moment", ["while spooling", "while keeping the generation's files"])
def test_a_full_disk_mid_upload_leaves_the_previous_generation_serving(
    desk: Desk,
    datasets: tuple[Path, Path],
    moment: str,
    tmp_path: Path,
    record_figures: Recorder,
) -> None:
    first = upload(desk, datasets[0])
    assert isinstance(first, UploadResult) and first.committed
    rows, kept = desk.residents(), desk.files()

    progress: Callable[[int], None] | None = None
    if moment == "while spooling":
        filled: list[int] = []

        # After the first chunk, once the server has opened the spool: the next writes fail.
        def fill_once(_sent: int) -> None:
            if not filled:
                wait_for(lambda: any((desk.disk / "spool").iterdir()), "the spool to open")
                filled.append(desk.fill())

        progress = fill_once
    else:
        desk.on_phase[Phase.SPOOLED] = desk.fill  # every byte received; now the kept copy

    failed = upload(desk, datasets[1], progress=progress, chunk_bytes=64 * 1024)
    assert isinstance(failed, grpc.RpcError), "the upload went through on a full disk"
    status = decode_error(failed)

    check_previous_generation_serves(desk, first, datasets[0], rows, tmp_path / "restored")
    assert desk.files() == kept | {"ballast"}  # the failed upload left nothing behind
    desk.make_room()
    again = upload(desk, datasets[1])  # space is back: the same upload commits
    assert isinstance(again, UploadResult) and again.generation is not None
    assert again.generation.number == 2 and again.generation.current
    record_figures(
        faults_injected=1,
        copies_checked=0,
        ledger_differences=0,
        generations_checked=2,
        uploader_saw=f"{status.code.name} {status.reason}".strip(),
    )


def test_the_uploader_is_told_the_disk_is_full_not_an_internal_error(
    desk: Desk, datasets: tuple[Path, Path]
) -> None:
    assert isinstance(upload(desk, datasets[0]), UploadResult)
    desk.on_phase[Phase.SPOOLED] = desk.fill
    failed = upload(desk, datasets[1])
    assert isinstance(failed, grpc.RpcError)
    assert decode_error(failed).code is grpc.StatusCode.RESOURCE_EXHAUSTED
