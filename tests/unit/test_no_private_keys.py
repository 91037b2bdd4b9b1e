"""No private key material is committed: keys are generated at set-up or read from outside.

Scans every file `git ls-files` lists for PEM private-key blocks with a body (the bare markers,
as a test of malformed input uses them, carry no key) and for binary files that parse as DER
(PKCS#8, PKCS#1/SEC1 through `load_der_private_key`) or PKCS#12 key material.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12

ROOT = Path(__file__).resolve().parents[2]
PEM_KEY = re.compile(
    rb"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY)-----\s*([A-Za-z0-9+/=:,\-\s]{64,}?)-----END \1-----"
)
MAX_DER_BYTES = 64 * 1024  # keys and keystores are small; larger binaries are PDFs, fonts, data


def _is_der_key(data: bytes) -> bool:
    if not data or data[0] != 0x30 or len(data) > MAX_DER_BYTES:
        return False  # a DER key is an ASN.1 SEQUENCE
    try:
        serialization.load_der_private_key(data, password=None)
        return True
    except TypeError:  # encrypted: still key material
        return True
    except ValueError:
        pass
    try:
        key, _, _ = pkcs12.load_key_and_certificates(data, None)
        return key is not None
    except ValueError as exc:
        return "password" in str(exc).lower()


def key_material(data: bytes) -> str | None:
    """What kind of private key `data` holds, or None."""
    match = PEM_KEY.search(data)
    if match:
        return f"PEM {match.group(1).decode()}"
    if _is_der_key(data):
        return "DER private key"
    return None


def committed_files() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    return [ROOT / name.decode() for name in out.split(b"\0") if name]


def test_the_scanner_finds_pem_and_der_keys_and_passes_certificates() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pkcs8 = serialization.PrivateFormat.PKCS8
    pem = key.private_bytes(serialization.Encoding.PEM, pkcs8, serialization.NoEncryption())
    der = key.private_bytes(serialization.Encoding.DER, pkcs8, serialization.NoEncryption())
    sec1 = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    locked = key.private_bytes(
        serialization.Encoding.DER, pkcs8, serialization.BestAvailableEncryption(b"pw")
    )
    assert key_material(b"config = 1\n" + pem) == "PEM PRIVATE KEY"
    assert key_material(der) == key_material(sec1) == key_material(locked) == "DER private key"
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert key_material(public) is None
    assert key_material(b"-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n") is None


@pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(), reason="not a git checkout"
)
def test_no_committed_file_holds_a_private_key() -> None:
    found = []
    for path in committed_files():
        if not path.is_file():
            continue  # listed but deleted in the working tree
        kind = key_material(path.read_bytes())
        if kind:
            found.append(f"{path.relative_to(ROOT)}: {kind}")
    assert found == []
