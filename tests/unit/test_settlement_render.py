"""Statement files: CSV for machines, Japanese PDF with charts, all deterministic."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pypdf
import pytest

from clients.settlement import render
from server.settlement.ledger import MonthClose
from server.settlement.reconcile import CountDifference, DifferenceKind, Reconciliation
from server.settlement.statements import (
    Cell,
    Count,
    FiscalYearReport,
    MonthPoint,
    MonthTotals,
    MunicipalityStatement,
    OperatorStatement,
    Statistics,
)

CLOSED = datetime(2026, 5, 1, 0, 30, tzinfo=UTC)
CELLS = (
    Cell("131016", "lawson", "inkan", 2, 600, 234, 360, 366, 1, 0),
    Cell("131016", "seven", "juminhyo", 3, 900, 351, 540, 549, 2, 1),
)
STATEMENT = MunicipalityStatement(
    month="2026-04",
    municipality_code="131016",
    municipality_name="東京都千代田区",
    backend="bcl",
    closed_at=CLOSED,
    cells=CELLS,
    contribution_yen=4_787_037,
    voided_copies=1,
)
STATS = Statistics(
    fiscal_year=2026,
    municipality_code="131016",
    months=tuple(MonthPoint(f"2026-{m:02d}", 5 if m == 4 else 0, 1) for m in range(4, 13)),
    by_kind=(Count("inkan", 2), Count("juminhyo", 3)),
    by_operator=(Count("lawson", 2), Count("seven", 3)),
    copies=5,
    after_hours_copies=3,
    other_municipality_copies=1,
)


@pytest.fixture(scope="module")
def charts() -> dict[str, bytes]:
    return render.charts_for(STATS)


def pdf_text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def test_municipality_csv_has_every_cell_the_total_and_the_charges() -> None:
    rows = list(csv.DictReader(io.StringIO(render.municipality_statement_csv(STATEMENT))))
    copies = [r for r in rows if r["item"] == "copies"]
    assert [(r["operator_id"], r["certificate_kind"], r["copies"]) for r in copies] == [
        ("lawson", "inkan", "2"),
        ("seven", "juminhyo", "3"),
    ]
    by_item = {r["item"]: r for r in rows}
    assert (
        by_item["total"]["fees_yen"] == "1500" and by_item["total"]["net_remittance_yen"] == "915"
    )
    assert by_item["contribution"]["amount_yen"] == "4787037"
    assert by_item["total_cost"]["amount_yen"] == str(585 + 900 + 4_787_037)
    assert by_item["voided"]["copies"] == "1"


def test_the_pdf_is_japanese_deterministic_and_embeds_its_charts() -> None:
    charts = render.charts_for(STATS)
    first = render.municipality_statement_pdf(STATEMENT, charts, created_at=CLOSED)
    again = render.municipality_statement_pdf(
        STATEMENT, render.charts_for(STATS), created_at=CLOSED
    )
    assert first == again
    text = pdf_text(first)
    for words in (
        "月次精算書",
        "東京都千代田区",
        "2026年4月",
        "令和8年4月",
        "住民票の写し",
        "印鑑登録証明書",
        "4,787,037",
        "確定",
    ):
        assert words in text, words
    reader = pypdf.PdfReader(io.BytesIO(first))
    assert sum(len(p.images) for p in reader.pages) == len(charts)
    assert reader.metadata is not None and reader.metadata.creation_date is not None


def test_a_provisional_statement_says_so() -> None:
    open_month = MunicipalityStatement("2026-05", "131016", "東京都千代田区", "own", None, ())
    text = pdf_text(render.municipality_statement_pdf(open_month, {}, created_at=CLOSED))
    assert "速報" in text and "独自証明発行サーバ" in text


def test_charts_are_png_without_a_software_stamp(charts: dict[str, bytes]) -> None:
    for name, png in charts.items():
        assert png.startswith(b"\x89PNG\r\n\x1a\n"), name
        assert b"matplotlib" not in png and b"Software" not in png
    assert render.monthly_chart(STATS) == charts["monthly"]


def test_the_operator_statement_shows_the_reconciliation() -> None:
    op = OperatorStatement("2026-04", "seven", "セブン-イレブン", CLOSED, (CELLS[1],))
    recon = Reconciliation(
        "2026-04",
        "seven",
        ("seven",),
        (CountDifference("seven", "131016", "juminhyo", 4, 3, DifferenceKind.DIFFERENT),),
        0,
        4,
        3,
    )
    text = pdf_text(render.operator_statement_pdf(op, recon, created_at=CLOSED))
    assert "セブン-イレブン" in text and "通数相違" in text and "+1" in text
    rows = list(csv.DictReader(io.StringIO(render.reconciliation_csv(recon))))
    assert rows == [
        {
            "operator_id": "seven",
            "month": "2026-04",
            "municipality_code": "131016",
            "certificate_kind": "juminhyo",
            "reported": "4",
            "recorded": "3",
            "difference": "1",
            "status": "different",
        }
    ]
    assert "549" in render.operator_statement_csv(op)


def test_the_fiscal_year_report_and_the_national_view(charts: dict[str, bytes]) -> None:
    report = FiscalYearReport(
        "139998",
        "東京都桜町",
        2026,
        "bcl",
        "town_village",
        (
            MonthTotals("2026-04", 1000, 300_000, 117_000, 180_000, 183_000, 345_481, 0, True),
            MonthTotals("2027-03", 0, 0, 0, 0, 0, 0, 180_000, True),
        ),
        (Count("juminhyo", 1000),),
    )
    assert report.total.total_cost_yen == 180_000 + 345_481 + 117_000
    text = pdf_text(render.fiscal_year_pdf(report, charts, created_at=CLOSED))
    assert "年度報告" in text and "令和8年度" in text and "642,481" in text
    last = list(csv.DictReader(io.StringIO(render.fiscal_year_csv(report))))[-1]
    assert (last["month"], last["total_cost_yen"]) == ("FY2026", "642481")
    close = MonthClose("2026-04", CLOSED, True, ("131016",), ("seven",), 5, 20, 9_999, "ab" * 32)
    national = Statistics(2026, "", STATS.months, STATS.by_kind, STATS.by_operator, 5, 3, 1)
    national_charts = {"monthly": render.monthly_chart(national)}
    assert "全国" in pdf_text(render.national_pdf(close, national, national_charts))
