"""APDU transcripts as test vectors: format, parse, annotate, check (STYLE 13).

A transcript file (`tests/vectors/jpki_apdu/*.txt`, provenance in that folder's README) has one
exchange per line, `<command APDU hex> <response APDU hex>  # note`; `#` lines are comments.
Test keys are generated per run, so certificate bytes (READ BINARY of EF 000A) and signatures
differ between runs, and so does a SIGN command over a fresh challenge: `assert_matches`
compares those by length and everything else byte for byte, and `check_self_consistent` makes
sure a transcript's signature verifies with the certificate read in the same transcript.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.hashes import SHA256

from clients.kiosk.jpki import sha256_digest_info
from hardware_sim.card.applet import Fid


@dataclass(frozen=True)
class Exchange:
    command: bytes
    response: bytes

    @property
    def sw(self) -> bytes:
        return self.response[-2:]


def exchanges_of(pairs: Iterable[tuple[bytes, bytes]]) -> list[Exchange]:
    """From a reader's or a `VpcdCard`'s `transcript` list."""
    return [Exchange(bytes(c), bytes(r)) for c, r in pairs]


_FID_NAMES = {int(fid): fid.name.lower().replace("_", " ") for fid in Fid}


def notes(exchanges: Sequence[Exchange]) -> list[str]:
    """A human note per exchange, naming the command and the EF it works on."""
    out, selected, signed = [], None, False
    for e in exchanges:
        c = e.command
        if c[:4] == bytes.fromhex("00 A4 04 0C"):
            # After the signature, a kiosk re-selects the AP only to see the card is still there.
            note = "SELECT JPKI AP (card still there?)" if signed else "SELECT JPKI AP"
            selected = None
        elif c[:4] == bytes.fromhex("00 A4 02 0C"):
            selected = int.from_bytes(c[5:7], "big")
            note = f"SELECT EF {selected:04X} ({_FID_NAMES.get(selected, '?')})"
        elif c[:2] == bytes.fromhex("00 B0"):
            note = f"READ BINARY EF {selected or 0:04X} offset {c[2] << 8 | c[3]} Le {c[4]}"
        elif c[:2] == bytes.fromhex("00 20"):
            if len(c) > 4:
                note = f"VERIFY {c[5:].decode('ascii', 'replace')}"
            else:
                note = "VERIFY (no data: is the PIN still needed?)"
        elif c[:2] == bytes.fromhex("80 2A"):
            note, signed = "SIGN DigestInfo(SHA-256)", True
        else:
            note = "?"
        out.append(note)
    return out


def carries_key_material(note: str) -> bool:
    """Responses that hold per-run certificate bytes or signatures."""
    return note.startswith(("READ BINARY EF 000A", "SIGN"))


def format_transcript(exchanges: Sequence[Exchange], header: Sequence[str]) -> str:
    lines = [f"# {line}" if line else "#" for line in header]
    lines.append(
        "# One exchange per line: command APDU, response APDU (data + SW1 SW2), hex; # note."
    )
    for e, note in zip(exchanges, notes(exchanges), strict=True):
        lines.append(f"{e.command.hex().upper()} {e.response.hex().upper()}  # {note}")
    return "\n".join(lines) + "\n"


def parse_transcript(text: str) -> list[Exchange]:
    exchanges = []
    for line in text.splitlines():
        body = line.split("#", 1)[0].strip()
        if body:
            command, response = body.split()
            exchanges.append(Exchange(bytes.fromhex(command), bytes.fromhex(response)))
    return exchanges


def check_self_consistent(exchanges: Sequence[Exchange]) -> None:
    """The certificate read in the transcript verifies the signature in the transcript."""
    annotated = list(zip(exchanges, notes(exchanges), strict=True))
    der = b"".join(e.response[:-2] for e, n in annotated if n.startswith("READ BINARY EF 000A"))
    certificate = x509.load_der_x509_certificate(der)
    sign = next(e for e, n in annotated if n.startswith("SIGN"))
    digest_info = sign.command[5 : 5 + sign.command[4]]
    assert digest_info[:-32] == sha256_digest_info(b"")[:-32]
    key = certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(sign.response[:-2], digest_info[-32:], PKCS1v15(), Prehashed(SHA256()))


def assert_matches(
    live: Sequence[Exchange], golden: Sequence[Exchange], *, fresh_session: bool = False
) -> None:
    """`live` is the session of `golden`: same commands and status words, same responses except
    key material (compared by length).

    `fresh_session` is for a whole kiosk session with a certificate issued for the run (its size
    varies by a few bytes: random serial, the responder's port in its URLs) and a challenge
    from the center: certificate reads are compared by CLA INS P1 P2 (the offsets) and status
    word, SIGN commands by their header and length.
    """
    # The same conversation, step by step (a read's length aside).
    assert [n.split(" Le ")[0] for n in notes(live)] == [n.split(" Le ")[0] for n in notes(golden)]
    for got, want, note in zip(live, golden, notes(golden), strict=True):
        certificate_read = note.startswith("READ BINARY EF 000A")
        if fresh_session and certificate_read:
            assert got.command[:4] == want.command[:4], note
        elif fresh_session and note.startswith("SIGN"):
            assert got.command[:5] == want.command[:5], note
            assert len(got.command) == len(want.command), note
        else:
            assert got.command == want.command, note
        assert got.sw == want.sw, note
        if fresh_session and certificate_read:
            continue
        if carries_key_material(note):
            assert len(got.response) == len(want.response), note
        else:
            assert got.response == want.response, note
