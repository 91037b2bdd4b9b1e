"""`floor_cpu_ms_per_issuance`: the work one issuance cannot avoid, measured in the same run.

Per complete session the center must verify the card certificate's signature (chain to the
user-auth CA), verify the card's signature over the challenge, verify the OCSP response's
signature, and render the certificate PDF with its seal: the municipality's ECDSA P-256
signature over the printed text, drawn as the QR code (`server.verify`). Each is timed here in
CPU time on one thread, with the same keys, certificates and kind of document as the load run.
Everything else the center spends per issuance (gRPC, protobuf, SQL, the session and state
bookkeeping) is overhead. The seal signature alone is also reported, inside the render's time.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp

from bench.pdf_render import CREATED, sample_documents
from bench.seal_cost import OneKey
from hardware_sim.authority.ca import JpkiAuthority
from server.auth.certs import verify_certificate, verify_challenge_signature
from server.auth.revocation import OcspChecker
from server.config import DEFAULT_FONT
from server.issuance.pdf import CertificateRenderer, RendererConfig
from server.verify.keys import SealSigner
from server.verify.seal import CopySealer
from tests.pki import issue_test_card, pooled_key_source


def _cpu_ms(fn: Callable[[], object], repeat: int) -> float:
    """Median CPU milliseconds of `fn` (thread time, so a busy machine does not inflate it)."""
    samples = []
    for _ in range(repeat):
        started = time.thread_time()
        fn()
        samples.append((time.thread_time() - started) * 1e3)
    return statistics.median(samples)


def measure(*, repeat: int = 200, font: Path = DEFAULT_FONT) -> dict[str, Any]:
    authority = JpkiAuthority.create(
        clock=lambda: datetime.now(UTC), key_source=pooled_key_source()
    )
    card = issue_test_card(authority)
    anchor = authority.auth_ca_cert
    cert_der = card.auth_cert_der
    now = datetime.now(UTC)
    key = serialization.load_pem_private_key(card.auth_key_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    message = b"konbini-auth-v1\x00K0001\x00" + bytes(64)
    signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    cert = x509.load_der_x509_certificate(cert_der)

    # OCSP in process: the center's own checker, the authority answering without HTTP.
    def respond(_url: str, body: bytes, _timeout: float) -> bytes:
        return authority.ocsp_response_der(body)

    checker = OcspChecker(
        "http://127.0.0.1:1/ocsp",
        anchor,
        timeout=1.0,
        clock=lambda: datetime.now(UTC),
        post=respond,
    )
    assert checker.check(cert).is_good

    # Each check has a fresh nonce, so each needs a fresh answer: time request, answer and
    # verification together, then subtract the authority's part, timed on its own.
    ocsp_total = _cpu_ms(lambda: checker.check(cert), repeat)
    request = (
        ocsp.OCSPRequestBuilder().add_certificate(cert, anchor, hashes.SHA256()).build()
    ).public_bytes(serialization.Encoding.DER)
    ocsp_sign = _cpu_ms(lambda: authority.ocsp_response_der(request), repeat)

    docs = sample_documents(repeat)
    seal_signer = SealSigner(docs[0].municipality.code, ec.generate_private_key(ec.SECP256R1()))
    renderer = CertificateRenderer(
        RendererConfig(font_path=font), sealer=CopySealer(OneKey(seal_signer))
    )
    for doc in docs[:5]:
        renderer.render(doc, created_at=CREATED)
    it = iter(docs)
    render_ms = _cpu_ms(lambda: renderer.render(next(it), created_at=CREATED), repeat)
    seal_ms = _cpu_ms(lambda: seal_signer.sign(bytes(200)), repeat)

    parts = {
        "certificate_chain_ms": _cpu_ms(
            lambda: verify_certificate(cert_der, trust_anchor=anchor, at=now), repeat
        ),
        "challenge_signature_ms": _cpu_ms(
            lambda: verify_challenge_signature(cert, message, signature), repeat
        ),
        "ocsp_request_and_verify_ms": max(0.0, ocsp_total - ocsp_sign),
        "pdf_render_ms": render_ms,
    }
    return {
        "floor_cpu_ms_per_issuance": round(sum(parts.values()), 2),
        "floor_parts_ms": {k: round(v, 3) for k, v in parts.items()},
        "seal_signature_ms_in_render": round(seal_ms, 3),
        "ocsp_response_signing_ms_at_authority": round(ocsp_sign, 3),
    }
