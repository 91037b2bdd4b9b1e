"""`pdf_ms_median` against `reportlab_ms_median`: one page of 住民票の写し, same content, same font.

Both renderers draw the same `lay_out` calls (see `bench.reportlab_surface`). Documents vary
per render (other households of a seeded municipality, other issue numbers), so no cache keyed
on content can flatter either side; the two are interleaved so that machine noise hits both.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

from bench.reportlab_surface import ReportLabRenderer
from server.bcl.records import ResidentRecord
from server.bcl.synthetic import generate_municipality
from server.common.clock import JST
from server.config import DEFAULT_FONT
from server.issuance.documents import CertificateDocument, CertificateKind, IssueNumber
from server.issuance.pdf import CertificateRenderer, RendererConfig

ISSUED = date(2026, 4, 1)
CREATED = datetime(2026, 4, 1, 10, 15, 30, tzinfo=JST)
PAGE_PERSONS = 3  # a household of three fits one sheet with the certification


def sample_documents(count: int, *, seed: int = 2026) -> list[CertificateDocument]:
    """`count` one-page 住民票の写し of whole households, each a different household or number."""
    muni = generate_municipality(seed=seed, households=max(40, count // 4), today=ISSUED)
    households: dict[str, list[ResidentRecord]] = {}
    for r in muni.residents:
        households.setdefault(r.household_id, []).append(r)
    docs: list[CertificateDocument] = []
    usable = [
        members
        for members in households.values()
        if 1 <= len(members) <= PAGE_PERSONS and not any(m.suppressed for m in members)
    ]
    if not usable:
        raise RuntimeError("the seeded municipality has no small household")
    for i in range(count):
        members = usable[i % len(usable)]
        persons = tuple(members)
        head = next((p for p in persons if p.is_household_head), persons[0])
        docs.append(
            CertificateDocument(
                kind=CertificateKind.JUMINHYO,
                municipality=muni.profile,
                issued_on=ISSUED,
                issue_number=IssueNumber(ISSUED, muni.profile.code, "K0001", "P1", i + 1),
                persons=persons,
                household_head=head,
                household_size=len(persons),
            )
        )
    return docs


def _time(render: Callable[[CertificateDocument], bytes], doc: CertificateDocument) -> float:
    started = time.perf_counter()
    render(doc)
    return (time.perf_counter() - started) * 1e3


def measure(*, renders: int = 200, font: Path = DEFAULT_FONT) -> dict[str, object]:
    """Median milliseconds per one-page 住民票 for the project's renderer and ReportLab."""
    ours = CertificateRenderer(RendererConfig(font_path=font))
    theirs = ReportLabRenderer(font, ours.ground)
    docs = sample_documents(renders)
    try:
        for doc in docs[:10]:  # warm both (imports, font caches, allocator)
            ours.render(doc, created_at=CREATED)
            theirs.render(doc, created_at=CREATED)
        pdf_ms: list[float] = []
        rl_ms: list[float] = []
        sizes: list[int] = []
        for doc in docs:
            pdf_ms.append(_time(lambda d: ours.render(d, created_at=CREATED), doc))
            rl_ms.append(_time(lambda d: theirs.render(d, created_at=CREATED), doc))
        sample = docs[0]
        sizes = [
            len(ours.render(sample, created_at=CREATED)),
            len(theirs.render(sample, created_at=CREATED)),
        ]
    finally:
        theirs.close()
    pdf_median = statistics.median(pdf_ms)
    rl_median = statistics.median(rl_ms)
    return {
        "renders": renders,
        "document": "住民票の写し, one page, a whole household of 1-3 persons",
        "font": str(font),
        "pdf_ms_median": round(pdf_median, 2),
        "pdf_ms_p90": round(statistics.quantiles(pdf_ms, n=10)[-1], 2),
        "reportlab_ms_median": round(rl_median, 2),
        "reportlab_ms_p90": round(statistics.quantiles(rl_ms, n=10)[-1], 2),
        "ratio_pdf_to_reportlab": round(pdf_median / rl_median, 3),
        "pdf_bytes": sizes[0],
        "reportlab_bytes": sizes[1],
    }


def cpu_ms_per_render(
    *, renders: int = 400, rounds: int = 3, font: Path = DEFAULT_FONT
) -> list[float]:
    """CPU milliseconds per render (process time) in each of `rounds` passes over `renders`
    documents: unlike the wall-clock medians of `measure`, this holds on a busy machine."""
    ours = CertificateRenderer(RendererConfig(font_path=font))
    docs = sample_documents(renders)
    for doc in docs[:30]:
        ours.render(doc, created_at=CREATED)
    out = []
    for _ in range(rounds):
        started = time.process_time()
        for doc in docs:
            ours.render(doc, created_at=CREATED)
        out.append(round((time.process_time() - started) * 1e3 / renders, 3))
    return out


if __name__ == "__main__":  # python -m bench.pdf_render: the CPU time of one render
    passes = cpu_ms_per_render()
    print(f"pdf render CPU ms per 1-page 住民票 (3 passes of 400): {passes}, min {min(passes)}")
