"""What sealing and verifying a copy costs: the QR code in the issuance path, and the checks.

    .venv/bin/python -m bench.seal_cost [--renders 200]

The same one-page 住民票 documents as `bench.pdf_render` are rendered by two renderers, one
without a sealer and one with the center's (`CopySealer` over a real P-256 key), interleaved
so machine noise hits both; the difference of the medians is what the QR code adds per copy.
The parts are timed alone too (digest + signature, the QR symbol, its PDF operators), and so
are the verifier's two readings of a PDF: the printed text (pypdf) and the QR code (PDFium
raster + zxing-cpp). Results go to bench/verify-results.json; nothing is asserted (STYLE 17).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from bench.pdf_render import CREATED, sample_documents
from server.config import DEFAULT_FONT
from server.issuance.documents import CertificateDocument
from server.issuance.pdf import CertificateRenderer, RendererConfig
from server.issuance.sheet import PAGE_H, SEAL_QR
from server.verify.keys import SealSigner
from server.verify.printed import extract_printed_text
from server.verify.qr import qr_modules, qr_pdf_ops, read_qr_texts
from server.verify.seal import CopySealer, seal_payload

RESULTS = Path(__file__).with_name("verify-results.json")


class OneKey:
    """The center's key store reduced to one municipality's key, already loaded."""

    def __init__(self, signer: SealSigner) -> None:
        self._signer = signer

    def signer(self, municipality_code: str) -> SealSigner:
        return self._signer


def _ms(fn: Callable[..., object], *args: Any, **kwargs: Any) -> float:
    started = time.perf_counter()
    fn(*args, **kwargs)
    return (time.perf_counter() - started) * 1e3


def _stats(samples: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(samples), 3),
        "p90": round(statistics.quantiles(samples, n=10)[-1], 3),
    }


def measure(*, renders: int = 200, font: Path = DEFAULT_FONT) -> dict[str, Any]:
    docs = sample_documents(renders)
    signer = SealSigner(docs[0].municipality.code, ec.generate_private_key(ec.SECP256R1()))
    plain = CertificateRenderer(RendererConfig(font_path=font))
    sealed = CertificateRenderer(RendererConfig(font_path=font), sealer=CopySealer(OneKey(signer)))

    def render(r: CertificateRenderer, d: CertificateDocument) -> bytes:
        return r.render(d, created_at=CREATED)

    for doc in docs[:10]:
        render(plain, doc)
        render(sealed, doc)
    plain_ms: list[float] = []
    sealed_ms: list[float] = []
    # CPU time as well as wall time: on a shared, loaded machine the wall clock mostly
    # measures the wait for a core, CPU time what the QR code really costs.
    plain_cpu: list[float] = []
    sealed_cpu: list[float] = []
    for doc in docs:
        for renderer, wall, cpu in ((plain, plain_ms, plain_cpu), (sealed, sealed_ms, sealed_cpu)):
            started = time.process_time()
            wall.append(_ms(render, renderer, doc))
            cpu.append((time.process_time() - started) * 1e3)

    printed = [["住民票の写し"] * 90]
    sign_ms = [_ms(seal_payload, signer, doc, printed) for doc in docs]
    texts = [seal_payload(signer, doc, printed).to_text() for doc in docs]
    matrix_ms: list[float] = []
    ops_ms: list[float] = []  # with the symbol's modules already known (cached)
    x, y, size = SEAL_QR
    for text in texts:
        qr_modules.cache_clear()
        matrix_ms.append(_ms(qr_modules, text))
        ops_ms.append(_ms(qr_pdf_ops, text, x=x, y=y, size=size, k=72 / 25.4, page_h=PAGE_H))

    checked = [render(sealed, doc) for doc in docs[: min(40, len(docs))]]
    text_ms = [_ms(extract_printed_text, pdf) for pdf in checked]
    qr_ms = [_ms(read_qr_texts, pdf) for pdf in checked]
    modules = qr_modules(texts[0]).shape[0]
    return {
        "renders": renders,
        "document": "住民票の写し, one page, a whole household of 1-3 persons",
        "render_unsealed_ms": _stats(plain_ms),
        "render_sealed_ms": _stats(sealed_ms),
        "seal_added_ms_median": round(
            statistics.median(sealed_ms) - statistics.median(plain_ms), 3
        ),
        "render_unsealed_cpu_ms": _stats(plain_cpu),
        "render_sealed_cpu_ms": _stats(sealed_cpu),
        "seal_added_cpu_ms_median": round(
            statistics.median(sealed_cpu) - statistics.median(plain_cpu), 3
        ),
        "digest_and_sign_ms": _stats(sign_ms),
        "qr_modules_ms": _stats(matrix_ms),
        "qr_pdf_ops_ms": _stats(ops_ms),
        "verify_extract_text_ms": _stats(text_ms),
        "verify_read_qr_ms": _stats(qr_ms),
        "payload_chars": len(texts[0]),
        "qr_modules": modules,
        "qr_module_mm": round(size / (modules + 4), 3),
        "pdf_bytes_unsealed": len(render(plain, docs[0])),
        "pdf_bytes_sealed": len(render(sealed, docs[0])),
        "machine": {
            "cpus": os.cpu_count(),
            "load_1m": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renders", type=int, default=200)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    result = measure(renders=args.renders)
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
