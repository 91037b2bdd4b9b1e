"""Checking printed copies over loopback gRPC: VerifyService and `konbini verify`.

Copies come from real kiosk visits on the bench (SQLite, and PostgreSQL when configured); the
checks go to the API port as a verifier with no credentials would. Each outcome the service
can give is produced the way it happens in life: a copy as printed, its text edited in a PDF
editor, a copy voided by a paper jam, a payload forged with another key, a genuine seal over an
issue number the center never gave out, and input that is no copy at all.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from fpdf import FPDF
from konbini.settlement.v1 import settlement_pb2, settlement_pb2_grpc
from konbini.verify.v1 import verify_pb2, verify_pb2_grpc

from clients.cli import main as konbini
from clients.errors import decode_error
from clients.kiosk.terminal import CertificateChoice, Order, VisitOutcome, VisitStatus
from hardware_sim.printer import KioskPrinter, PrinterFault, PrintOutcome
from server.issuance.documents import IssueNumber
from server.verify.keys import PublishedKey, SealKeyStore
from server.verify.payload import SealPayload
from server.verify.qr import read_qr_texts
from server.verify.verifier import Outcome, check_offline
from tests.integration.conftest import Bench
from tests.verify_tools import edit_text, seeded_signer

R = verify_pb2


class KeepingPrinter(KioskPrinter):
    """The kiosk printer, keeping the last document it was sent (even one it jammed on)."""

    last: bytes = b""

    def print_pdf(self, pdf: bytes) -> PrintOutcome:
        self.last = pdf
        return super().print_pdf(pdf)


@pytest.fixture(scope="module")
def stub(bench: Bench) -> verify_pb2_grpc.VerifyServiceStub:
    return verify_pb2_grpc.VerifyServiceStub(bench.api_channel)


@pytest.fixture(scope="module")
def issued(bench: Bench) -> VisitOutcome:
    """One 住民票 printed at a kiosk, shared by the read-only checks."""
    me = bench.take()
    outcome = bench.terminal().visit(
        bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO)
    )
    assert outcome.status is VisitStatus.ISSUED, outcome
    return outcome


def audit_rows(bench: Bench, subject: str) -> list[tuple[str, dict[str, str]]]:
    rows = bench.sql(
        "SELECT actor, details FROM audit_entries WHERE event = 'copy.verified' AND subject = :s"
        " ORDER BY seq",
        s=subject,
    )
    return [(str(actor), json.loads(str(details))) for actor, details in rows]


def issuance_id(bench: Bench, number: str) -> str:
    [(iid,)] = bench.sql("SELECT id FROM issuances WHERE issue_number = :n", n=number)
    return str(iid)


def given_name(bench: Bench, copy: VisitOutcome) -> str:
    """The given name printed on a copy for oneself (the requester's)."""
    [(given,)] = bench.sql(
        "SELECT r.given_name FROM issuances i JOIN residents r ON r.id = i.requester_pk"
        " WHERE i.issue_number = :n",
        n=copy.issue_number,
    )
    return str(given)


def verify_pdf(
    stub: verify_pb2_grpc.VerifyServiceStub, pdf: bytes, **kw: object
) -> R.VerifyCopyResponse:
    return stub.VerifyCopy(R.VerifyCopyRequest(pdf=pdf), **kw)  # type: ignore[arg-type]


# -- outcomes ---------------------------------------------------------------------------------


def test_a_copy_as_printed_is_authentic_and_the_check_is_audited(
    bench: Bench, stub: verify_pb2_grpc.VerifyServiceStub, issued: VisitOutcome
) -> None:
    reply = verify_pdf(stub, issued.pdf, metadata=(("konbini-verifier-id", "bank-0042"),))
    assert reply.result == R.AUTHENTIC, reply
    assert reply.reason == ""
    assert (reply.text_checked, reply.record_checked, reply.byte_identical) == (True, True, True)
    assert reply.sealed.issue_number == issued.issue_number
    assert reply.sealed.kind == "juminhyo"
    assert reply.sealed.municipality_code == bench.seeded.profile.code
    iid = issuance_id(bench, issued.issue_number)
    assert ("verifier:bank-0042", {"result": "authentic", "reason": "", "input": "pdf"}) in (
        audit_rows(bench, iid)
    )


def test_the_qr_payload_alone_is_authentic_but_says_the_text_was_not_checked(
    bench: Bench, stub: verify_pb2_grpc.VerifyServiceStub, issued: VisitOutcome
) -> None:
    [payload] = read_qr_texts(issued.pdf)
    reply = stub.VerifyCopy(R.VerifyCopyRequest(payload=payload))
    assert reply.result == R.AUTHENTIC
    assert (reply.text_checked, reply.record_checked, reply.byte_identical) == (False, True, False)
    rows = audit_rows(bench, issuance_id(bench, issued.issue_number))
    assert ("anonymous", {"result": "authentic", "reason": "", "input": "payload"}) in rows


def test_a_copy_with_one_character_of_a_name_changed_is_altered(
    bench: Bench, stub: verify_pb2_grpc.VerifyServiceStub, issued: VisitOutcome
) -> None:
    edited = edit_text(issued.pdf, given_name(bench, issued))
    reply = verify_pdf(stub, edited)
    assert (reply.result, reply.reason) == (R.ALTERED, "TEXT_ALTERED")
    assert reply.sealed.issue_number == issued.issue_number  # the seal itself is genuine
    rows = audit_rows(bench, "")
    assert ("anonymous", {"result": "altered", "reason": "TEXT_ALTERED", "input": "pdf"}) in rows


def test_a_copy_voided_by_a_paper_jam_is_voided(
    bench: Bench, stub: verify_pb2_grpc.VerifyServiceStub
) -> None:
    me = bench.take()
    printer = KeepingPrinter("P1")
    printer.inject_mid_job(PrinterFault.JAM)
    outcome = bench.terminal(printer).visit(
        bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO)
    )
    assert outcome.status is VisitStatus.PRINT_FAILED, outcome
    assert printer.last  # the sheet that jammed, taken out of the printer
    reply = verify_pdf(stub, printer.last)
    assert (reply.result, reply.reason) == (R.VOIDED, "ISSUANCE_VOIDED")
    iid = issuance_id(bench, outcome.issue_number)
    assert audit_rows(bench, iid)[-1][1]["result"] == "voided"


def test_a_copy_taken_back_as_wrongly_issued_is_voided(
    bench: Bench, stub: verify_pb2_grpc.VerifyServiceStub
) -> None:
    # 誤交付: the national operator takes the copy back and refunds it (CorrectCopy). The sheet
    # is to be disposed of, so a receiving institution must not be told it is authentic.
    me = bench.take()
    outcome = bench.terminal().visit(
        bench.reader(me), bench.pin(me), Order(CertificateChoice.JUMINHYO)
    )
    assert outcome.status is VisitStatus.ISSUED, outcome
    assert verify_pdf(stub, outcome.pdf).result == R.AUTHENTIC
    iid = issuance_id(bench, outcome.issue_number)
    settlement = settlement_pb2_grpc.SettlementServiceStub(bench.api_channel)
    settlement.CorrectCopy(
        settlement_pb2.CorrectCopyRequest(issuance_id=iid, reason="誤交付"),
        metadata=bench.national,
    )
    reply = verify_pdf(stub, outcome.pdf)
    assert (reply.result, reply.reason) == (R.VOIDED, "COPY_TAKEN_BACK"), reply
    assert reply.record_checked
    assert audit_rows(bench, iid)[-1][1]["result"] == "voided"


def genuine_payload(issued: VisitOutcome) -> SealPayload:
    [text] = read_qr_texts(issued.pdf)
    return SealPayload.from_text(text)


def test_a_payload_forged_with_another_key_is_altered_or_unknown(
    stub: verify_pb2_grpc.VerifyServiceStub, issued: VisitOutcome
) -> None:
    genuine = genuine_payload(issued)
    forger = seeded_signer(genuine.municipality_code, 77)
    # Claiming the municipality's key id: the signature does not verify under it.
    claimed = dataclasses.replace(genuine, signature=forger.sign(genuine.signed_bytes()))
    reply = stub.VerifyCopy(R.VerifyCopyRequest(payload=claimed.to_text()))
    assert (reply.result, reply.reason) == (R.ALTERED, "SIGNATURE_INVALID")
    # Under its own key id: nobody published that key.
    own = dataclasses.replace(genuine, key_id=forger.key_id)
    own = dataclasses.replace(own, signature=forger.sign(own.signed_bytes()))
    reply = stub.VerifyCopy(R.VerifyCopyRequest(payload=own.to_text()))
    assert (reply.result, reply.reason) == (R.UNKNOWN, "KEY_UNKNOWN")


def test_a_genuine_seal_over_a_number_never_issued_is_unknown(
    bench: Bench, stub: verify_pb2_grpc.VerifyServiceStub, issued: VisitOutcome
) -> None:
    genuine = genuine_payload(issued)
    number = IssueNumber.parse(genuine.issue_number)
    unused = dataclasses.replace(number, sequence=999_999).format()
    # Whoever holds the municipality's key file could seal anything; the records still tell.
    keys = SealKeyStore(bench.tls_config.seal_key_dir, bench.center.engine)
    signer = keys.signer(genuine.municipality_code)
    payload = dataclasses.replace(genuine, issue_number=unused)
    payload = dataclasses.replace(payload, signature=signer.sign(payload.signed_bytes()))
    reply = stub.VerifyCopy(R.VerifyCopyRequest(payload=payload.to_text()))
    assert (reply.result, reply.reason) == (R.UNKNOWN, "ISSUANCE_UNKNOWN")
    assert reply.record_checked


def test_a_pdf_without_a_seal_is_unknown(stub: verify_pb2_grpc.VerifyServiceStub) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.text(20, 20, "not a certificate")
    reply = verify_pdf(stub, bytes(pdf.output()))
    assert (reply.result, reply.reason) == (R.UNKNOWN, "NO_SEAL")


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (R.VerifyCopyRequest(), "copy"),
        (R.VerifyCopyRequest(payload="not a payload!"), "payload"),
        (R.VerifyCopyRequest(payload="AAAA"), "payload"),
        (R.VerifyCopyRequest(pdf=b"GIF89a..."), "pdf"),
        (R.VerifyCopyRequest(pdf=b"%PDF-1.7\n garbage"), "pdf"),
        (R.VerifyCopyRequest(pdf=b""), "pdf"),
    ],
    ids=["nothing", "not-base32", "too-short", "not-a-pdf", "broken-pdf", "empty-pdf"],
)
def test_bad_input_is_invalid_argument_naming_the_field(
    stub: verify_pb2_grpc.VerifyServiceStub, request_: R.VerifyCopyRequest, field: str
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.VerifyCopy(request_)
    err = decode_error(caught.value)
    assert err.code is grpc.StatusCode.INVALID_ARGUMENT, err
    assert [f for f, _ in err.field_violations] == [field]


def test_a_bad_verifier_id_is_invalid_argument(
    stub: verify_pb2_grpc.VerifyServiceStub, issued: VisitOutcome
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        verify_pdf(stub, issued.pdf, metadata=(("konbini-verifier-id", "a b;c"),))
    assert decode_error(caught.value).code is grpc.StatusCode.INVALID_ARGUMENT


# -- published keys and offline checks --------------------------------------------------------


def test_published_keys_verify_a_copy_offline(
    bench: Bench, stub: verify_pb2_grpc.VerifyServiceStub, issued: VisitOutcome
) -> None:
    code = bench.seeded.profile.code
    reply = stub.ListSealKeys(R.ListSealKeysRequest(municipality_code=code))
    keys = {
        k.key_id: k
        for k in (PublishedKey.from_der(r.municipality_code, r.public_key_der) for r in reply.keys)
    }
    assert [r.municipality_code for r in reply.keys] == [code]
    verdict = check_offline(genuine_payload(issued), keys)
    assert verdict.outcome is Outcome.AUTHENTIC


def test_seal_keys_are_files_outside_the_database_only_readable_by_the_center(
    bench: Bench, issued: VisitOutcome
) -> None:
    # The center made the key when it sealed its first copy (`issued`): the seed did not.
    key_dir = Path(bench.tls_config.seal_key_dir)
    path = key_dir / f"{bench.seeded.profile.code}.pem"
    assert path.stat().st_mode & 0o077 == 0
    assert b"PRIVATE KEY" in path.read_bytes()
    [(der,)] = bench.sql(
        "SELECT public_key_der FROM seal_keys WHERE municipality_code = :m",
        m=bench.seeded.profile.code,
    )
    assert isinstance(der, bytes | memoryview)
    assert b"PRIVATE" not in bytes(der)


@pytest.fixture
def exported(bench: Bench, tmp_path: Path, database_url: str) -> Iterator[Path]:
    out = tmp_path / "seal-keys.json"
    assert konbini(["verify", "--keys", "--database-url", database_url, "--out", str(out)]) == 0
    yield out


def test_konbini_verify_offline_tells_authentic_from_altered(
    bench: Bench,
    issued: VisitOutcome,
    exported: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    copy = tmp_path / "copy.pdf"
    copy.write_bytes(issued.pdf)
    assert konbini(["verify", "--offline", "--keys-file", str(exported), str(copy)]) == 0
    assert capsys.readouterr().out.startswith("AUTHENTIC")
    altered = tmp_path / "altered.pdf"
    altered.write_bytes(edit_text(issued.pdf, given_name(bench, issued)))
    assert konbini(["verify", "--offline", "--keys-file", str(exported), str(altered)]) == 1
    assert capsys.readouterr().out.startswith("ALTERED TEXT_ALTERED")


def test_konbini_verify_asks_the_center_over_tls(
    bench: Bench, issued: VisitOutcome, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = str(bench.tls_config.kiosk_ca_path)  # the CA that signed the center's certificate
    remote = ["--server", bench.api_target, "--server-ca", ca]
    copy = tmp_path / "copy.pdf"
    copy.write_bytes(issued.pdf)
    assert konbini(["verify", str(copy), *remote, "--verifier-id", "clerk-7"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("AUTHENTIC")
    assert issued.issue_number in out and "byte-identical" in out
    keys = tmp_path / "keys.json"
    assert konbini(["verify", "--keys", *remote, "--out", str(keys)]) == 0
    assert konbini(["verify", "--offline", "--keys-file", str(keys), str(copy)]) == 0
    assert konbini(["verify", "not-a-payload", *remote]) == 2
    assert "INVALID_ARGUMENT" in capsys.readouterr().err
