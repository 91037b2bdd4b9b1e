"""BCL uploads over loopback gRPC, on SQLite and PostgreSQL: round trips, refusals, and uploads
cut short by a client or a server that is killed."""

from __future__ import annotations

import filecmp
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import sqlalchemy as sa
from konbini.bcl.v1 import bcl_pb2, bcl_pb2_grpc
from sqlalchemy.engine import Engine

from clients.bcl.client import BclClient, UploadResult, upload_files
from clients.bcl.generate import generate_dataset
from clients.bcl.onboard import join_municipality
from clients.errors import decode_error
from server.bcl.servicer import create_bcl_server
from server.bcl.upload import BclSettings, BclUploads
from server.common.clock import system_clock
from server.db.engine import make_engine, upgrade
from tests.credentials import bearer, national_token, staff_token

CODE = "131016"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Desk:
    engine: Engine
    uploads: BclUploads
    channel: grpc.Channel
    client: BclClient
    port: int
    data: Path  # a generated municipality
    database_url: str
    settings: BclSettings
    token: str  # a staff member of CODE

    def generations(self) -> list[tuple[int, str, bool]]:
        return [(g.number, g.kind, g.current) for g in self.client.generations()]

    def residents(self) -> list[tuple[object, ...]]:
        with self.engine.connect() as conn:
            return sorted(
                tuple(r)
                for r in conn.execute(
                    sa.text(
                        "SELECT id, resident_id, household_id, address, removed_on FROM residents"
                    )
                )
            )

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.05)


@pytest.fixture(scope="module")
def desk(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    tmp = tmp_path_factory.mktemp("bcl")
    data = tmp / "municipality"
    generate_dataset(data, residents=1500, seed=21)
    engine = make_engine(database_url)
    upgrade(engine)
    join_municipality(engine, code=CODE, prefecture="東京都", name="千代田区")
    settings = BclSettings(data_dir=tmp / "bcl", retention=3)
    uploads = BclUploads(engine, settings, clock=system_clock)
    server, port = create_bcl_server(uploads, insecure=True)
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    token = staff_token(engine, CODE)
    client = BclClient(channel, CODE, token=token)
    try:
        yield Desk(engine, uploads, channel, client, port, data, database_url, settings, token)
    finally:
        channel.close()
        server.stop(grace=None).wait()
        engine.dispose()


@pytest.fixture(scope="module")
def first(desk: Desk) -> UploadResult:
    result = desk.client.upload(upload_files(desk.data))
    assert result.committed, result.errors
    return result


def test_a_national_operator_lists_any_municipality_and_staff_only_their_own(desk: Desk) -> None:
    stub = bcl_pb2_grpc.BclServiceStub(desk.channel)
    request = bcl_pb2.ListGenerationsRequest(municipality_code=CODE)
    national = bearer(national_token(desk.engine))
    assert stub.ListGenerations(request, metadata=national) is not None
    join_municipality(desk.engine, code="131024", prefecture="東京都", name="中央区")
    other_staff = bearer(staff_token(desk.engine, "131024"))
    with pytest.raises(grpc.RpcError) as info:
        stub.ListGenerations(request, metadata=other_staff)
    assert decode_error(info.value).reason == "OTHER_MUNICIPALITY"


def test_a_full_upload_is_listed_and_restores_byte_for_byte(
    desk: Desk, first: UploadResult, tmp_path: Path
) -> None:
    gen = first.generation
    assert gen is not None and (gen.number, gen.kind, gen.current) == (1, "full", True)
    assert gen.counts["residents"] == 1500
    assert desk.generations()[-1][:2] == (1, "full")
    restored = desk.client.restore(tmp_path / "out", number=1)
    assert restored.kept_checksum == gen.checksum
    names = [p.name for p in upload_files(desk.data)]
    match, mismatch, errors = filecmp.cmpfiles(desk.data, tmp_path / "out", names, shallow=False)
    assert (sorted(match), mismatch, errors) == (sorted(names), [], [])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(names)


def test_rejected_rows_come_back_as_a_list_and_change_nothing(
    desk: Desk, first: UploadResult, tmp_path: Path
) -> None:
    before = (desk.residents(), desk.generations())
    broken = tmp_path / "broken"
    broken.mkdir()
    lines = (desk.data / "residents.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    lines[5] = lines[5].replace(",男,", ",M,").replace(",女,", ",F,")
    lines[9] = lines[9].replace("-", "/", 1)
    (broken / "residents.csv").write_text("".join(lines), encoding="utf-8")
    result = desk.client.upload([broken / "residents.csv"])
    assert not result.committed
    assert [(e.file, e.row, e.column, e.code) for e in result.errors] == [
        ("residents.csv", 6, "sex", "CHOICE"),
        ("residents.csv", 10, "birth_date", "DATE"),
    ]
    assert (desk.residents(), desk.generations()) == before


def test_a_difference_is_restored_as_a_full_export(
    desk: Desk, first: UploadResult, tmp_path: Path
) -> None:
    assert first.generation is not None
    lines = (desk.data / "residents.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    header, row = lines[0], lines[1]
    single = row.split(",")  # a household head: move the household's address
    household = [line for line in lines[1:] if line.split(",")[1] == single[1]]
    diff = tmp_path / "diff"
    diff.mkdir()
    moved = [line.replace(single[9], "東京都千代田区平河町二丁目7番1号") for line in household]
    (diff / "residents.csv").write_text(header + "".join(moved), encoding="utf-8")
    current = desk.client.generations()[0].number
    result = desk.client.upload(upload_files(diff), difference=True, base_generation=current)
    assert result.generation is not None, result.errors
    assert (result.generation.kind, result.generation.base_generation) == ("difference", current)
    out = desk.client.restore(tmp_path / "export")
    assert out.number == result.generation.number
    exported = (tmp_path / "export" / "residents.csv").read_text(encoding="utf-8")
    assert exported.count("東京都千代田区平河町二丁目7番1号") == len(household)
    assert {f.name for f in out.kept_files} >= {"residents.csv", "seals.csv", "koseki.csv"}


def test_refusals_carry_a_status_and_a_reason(desk: Desk, first: UploadResult) -> None:
    stub = bcl_pb2_grpc.BclServiceStub(desk.channel)
    request = bcl_pb2.ListGenerationsRequest(municipality_code=CODE)

    def refused(call: Callable[[], object]) -> tuple[grpc.StatusCode, str]:
        with pytest.raises(grpc.RpcError) as info:
            call()
        e = decode_error(info.value)
        return e.code, e.reason

    assert refused(lambda: stub.ListGenerations(request)) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "CREDENTIALS_MISSING",
    )
    other = bearer("not-a-token")
    assert refused(lambda: stub.ListGenerations(request, metadata=other)) == (
        grpc.StatusCode.UNAUTHENTICATED,
        "CREDENTIALS_INVALID",
    )
    assert refused(lambda: desk.client.restore(Path("/nonexistent"), number=99)) == (
        grpc.StatusCode.NOT_FOUND,
        "GENERATION_NOT_FOUND",
    )
    mine = bearer(desk.token)
    header = bcl_pb2.UploadRequest(
        header=bcl_pb2.UploadHeader(
            municipality_code=CODE,
            kind=bcl_pb2.UPLOAD_KIND_FULL,
            files=[bcl_pb2.FileEntry(name="residents.csv", size=3)],
        )
    )
    chunk = bcl_pb2.UploadRequest(chunk=bcl_pb2.FileChunk(file_index=0, data=b"abc"))
    wrong = bcl_pb2.UploadRequest(trailer=bcl_pb2.UploadTrailer(sha256=[b"\0" * 32]))
    assert refused(lambda: stub.Upload(iter([header, chunk, wrong]), metadata=mine)) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "UPLOAD_CORRUPTED",
    )
    assert refused(lambda: stub.Upload(iter([header, chunk]), metadata=mine)) == (
        grpc.StatusCode.CANCELLED,
        "UPLOAD_INTERRUPTED",
    )
    assert refused(lambda: stub.Upload(iter([chunk]), metadata=mine)) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "UPLOAD_PROTOCOL",
    )
    current = desk.client.generations()[0].number
    files = upload_files(desk.data)[:1]
    assert refused(
        lambda: desk.client.upload(files, difference=True, base_generation=current + 1)
    ) == (grpc.StatusCode.FAILED_PRECONDITION, "BASE_GENERATION_MISMATCH")
    assert not any(desk.settings.spool_dir.iterdir())


# --- interrupted uploads -----------------------------------------------------------------------


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "protos")])}


_SLOW_CLIENT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import grpc
    from clients.bcl.client import BclClient, upload_files
    port, directory, token = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    sent = 0
    def progress(n):
        global sent
        sent += n
        print(sent, flush=True)
        time.sleep(0.02)  # slow enough to be killed half-way
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        BclClient(channel, "131016", token=token).upload(
            upload_files(directory), progress=progress, chunk_bytes=16 * 1024)
    print("done", flush=True)
    """
)


def test_a_client_killed_mid_stream_changes_nothing(desk: Desk, first: UploadResult) -> None:
    before = (desk.residents(), desk.generations())
    total = sum(p.stat().st_size for p in upload_files(desk.data))
    client = subprocess.Popen(
        [sys.executable, "-c", _SLOW_CLIENT, str(desk.port), str(desk.data), desk.token],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=ROOT,
    )
    assert client.stdout is not None
    try:
        for line in client.stdout:
            if line.strip() == "done" or int(line) > total // 2:
                break
        assert line.strip() != "done", "the upload finished before it could be killed"
        assert any(desk.settings.spool_dir.iterdir())  # half an upload is on disk
        client.send_signal(signal.SIGKILL)
    finally:
        client.kill()
        client.wait()
    desk.wait_for(lambda: not any(desk.settings.spool_dir.iterdir()), "the spool to go")
    assert (desk.residents(), desk.generations()) == before


_CRASHING_SERVER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from server.bcl.servicer import create_bcl_server
    from server.bcl.upload import BclSettings, BclUploads, Phase
    from server.common.clock import system_clock
    from server.db.engine import make_engine
    url, data_dir, port_file, marker = sys.argv[1:5]
    def checkpoint(phase, upload_id):
        if phase is Phase.APPLIED:  # rows written, generation recorded, not committed
            Path(marker).write_text(upload_id)
            time.sleep(600)  # the test kills us here
    uploads = BclUploads(make_engine(url), BclSettings(data_dir=Path(data_dir)),
                         clock=system_clock, checkpoint=checkpoint)
    server, port = create_bcl_server(uploads, insecure=True)
    server.start()
    Path(port_file).write_text(str(port))
    server.wait_for_termination()
    """
)


def test_a_server_killed_between_spool_and_commit_leaves_the_previous_generation(
    desk: Desk, first: UploadResult, tmp_path: Path
) -> None:
    before = (desk.residents(), desk.generations())
    port_file, marker = tmp_path / "port", tmp_path / "applied"
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _CRASHING_SERVER,
            desk.database_url,
            str(desk.settings.data_dir),
            str(port_file),
            str(marker),
        ],
        env=_env(),
        cwd=ROOT,
    )
    outcome: list[object] = []
    try:
        desk.wait_for(port_file.exists, "the second server to listen")
        time.sleep(0.1)  # the file is written after the port is bound
        channel = grpc.insecure_channel(f"127.0.0.1:{port_file.read_text()}")
        # A full upload without three households: it would remove them if it committed.
        lines = (desk.data / "residents.csv").read_text(encoding="utf-8").splitlines(True)
        households = list(dict.fromkeys(line.split(",")[1] for line in lines[1:]))[:3]
        smaller = tmp_path / "smaller"
        smaller.mkdir()
        kept = [line for line in lines[1:] if line.split(",")[1] not in households]
        (smaller / "residents.csv").write_text(lines[0] + "".join(kept), encoding="utf-8")

        def run() -> None:
            try:
                client = BclClient(channel, CODE, token=desk.token)
                outcome.append(client.upload(upload_files(smaller)))
            except grpc.RpcError as err:
                outcome.append(err)

        uploader = threading.Thread(target=run)
        uploader.start()
        desk.wait_for(marker.exists, "the upload to reach its commit", timeout=60)
        server.send_signal(signal.SIGKILL)
        server.wait()
        uploader.join(timeout=30)
        channel.close()
    finally:
        server.kill()
        server.wait()
    assert outcome and isinstance(outcome[0], grpc.RpcError)  # the client was told nothing
    # Its spool and the kept files of the dead upload are left; the next start removes them.
    assert any(desk.settings.spool_dir.iterdir())
    left = desk.uploads.recover()
    assert any(x.startswith("spool/") for x in left)
    assert any(x.startswith("backups/") for x in left)
    assert (desk.residents(), desk.generations()) == before
    current = desk.client.generations()[0]
    restored = desk.client.restore(tmp_path / "again")
    assert restored.number == current.number and restored.kept_checksum == current.kept_checksum


def test_the_konbini_bcl_commands(
    desk: Desk, first: UploadResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from clients.bcl.cli import add_bcl_parser

    parser = argparse.ArgumentParser(prog="konbini")
    add_bcl_parser(parser.add_subparsers(dest="command", required=True))

    def konbini(*argv: str) -> int:
        args = parser.parse_args(list(argv))
        code: int = args.func(args)
        return code

    server = ("--server", f"127.0.0.1:{desk.port}", "--municipality", CODE, "--token", desk.token)
    out = tmp_path / "small"
    assert konbini("bcl", "generate", "--residents", "120", "--seed", "5", "--out", str(out)) == 0
    assert "120 residents" in capsys.readouterr().out
    assert konbini("bcl", "upload", str(out), *server) == 0
    assert "committed" in capsys.readouterr().out
    assert konbini("bcl", "generations", *server) == 0
    listing = capsys.readouterr().out
    assert "current, kept" in listing and "full" in listing
    assert konbini("bcl", "restore", "--out", str(tmp_path / "back"), *server) == 0
    assert "verified" in capsys.readouterr().out
    assert (tmp_path / "back" / "residents.csv").read_bytes() == (
        out / "residents.csv"
    ).read_bytes()
    (out / "residents.csv").write_text("resident_id\n1\n", encoding="utf-8")
    assert konbini("bcl", "upload", str(out), *server) == 1
    assert "HEADER" in capsys.readouterr().out
