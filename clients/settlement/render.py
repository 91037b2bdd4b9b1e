"""Settlement statements as files: CSV for machines, PDF in Japanese for people, PNG charts.

Everything here is a pure function of the statement values (`server.settlement.statements`)
and a pinned creation time, so the same close always gives byte-identical files: the PDF's
creation date is the month's close (or the time the caller passes for a provisional
statement), and PNGs carry no software or date stamp. The PDFs embed the IPAex font (no tofu)
and the charts (matplotlib, Agg canvas; nothing global is switched at import).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import matplotlib
from fpdf import FPDF
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from server.common.clock import JST
from server.common.era import to_wareki
from server.settlement.ledger import MonthClose
from server.settlement.periods import Month
from server.settlement.reconcile import DifferenceKind, Reconciliation
from server.settlement.statements import (
    FiscalYearReport,
    MunicipalityStatement,
    OperatorStatement,
    Statistics,
    group,
)

DEFAULT_FONT = Path("/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf")

# Statement vocabulary for certificate kinds (the kiosk's own titles live with issuance).
KIND_LABELS: Mapping[str, str] = {
    "juminhyo": "住民票の写し",
    "juminhyo_kisai": "住民票記載事項証明書",
    "inkan": "印鑑登録証明書",
    "tax": "各種税証明書",
    "koseki": "戸籍証明書",
    "fuhyo": "戸籍の附票の写し",
}
BACKEND_LABELS: Mapping[str, str] = {"bcl": "BCL利用", "own": "独自証明発行サーバ"}
DIFFERENCE_LABELS: Mapping[DifferenceKind, str] = {
    DifferenceKind.DIFFERENT: "通数相違",
    DifferenceKind.NOT_REPORTED: "事業者報告なし",
    DifferenceKind.NOT_RECORDED: "センター記録なし",
}
# National shares from the seed (令和8年2月), drawn as reference lines on the share chart.
NATIONAL_AFTER_HOURS_SHARE = 0.497
NATIONAL_OTHER_MUNICIPALITY_SHARE = 0.217


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)


def month_label(month: str) -> str:
    """'2026-04' → '2026年4月（令和8年4月）'."""
    m = Month.parse(month)
    era = to_wareki(m.first_day).rsplit("月", 1)[0] + "月"
    return f"{m.year}年{m.month}月（{era}）"


def _era_year(year: int) -> str:
    """2026 → '令和8年' (of 1 April, the start of the fiscal year)."""
    return to_wareki(Month(year, 4).first_day).split("年")[0] + "年"


def yen(n: int) -> str:
    return f"{n:,}"


def percent(share: float) -> str:
    return f"{share * 100:.1f}%"


# -- CSV ---------------------------------------------------------------------------------------


def _csv(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue()


MUNICIPALITY_CSV_HEADER = (
    "month",
    "municipality_code",
    "item",
    "operator_id",
    "certificate_kind",
    "copies",
    "fees_yen",
    "commission_yen",
    "bcl_fee_yen",
    "net_remittance_yen",
    "amount_yen",
)


def municipality_statement_csv(s: MunicipalityStatement) -> str:
    """One `copies` row per operator × kind, then the month's other charges."""
    rows: list[Sequence[object]] = [
        (
            s.month,
            s.municipality_code,
            "copies",
            c.operator_id,
            c.certificate_kind,
            c.copies,
            c.fees_yen,
            c.commission_yen,
            c.bcl_fee_yen,
            c.net_remittance_yen,
            "",
        )
        for c in s.cells
    ]
    t = s.total
    rows.append(
        (
            s.month,
            s.municipality_code,
            "total",
            "",
            "",
            t.copies,
            t.fees_yen,
            t.commission_yen,
            t.bcl_fee_yen,
            t.net_remittance_yen,
            "",
        )
    )
    for item, amount in (
        ("contribution", s.contribution_yen),
        ("bcl_billing", s.bcl_billed_yen),
        ("total_cost", s.total_cost_yen),
    ):
        rows.append((s.month, s.municipality_code, item, "", "", "", "", "", "", "", amount))
    rows.append((s.month, s.municipality_code, "voided", "", "", s.voided_copies, *[""] * 5))
    return _csv(MUNICIPALITY_CSV_HEADER, rows)


def operator_statement_csv(s: OperatorStatement) -> str:
    header = (
        "month",
        "operator_id",
        "municipality_code",
        "certificate_kind",
        "copies",
        "fees_yen",
        "commission_yen",
        "net_remittance_yen",
    )
    rows: list[Sequence[object]] = [
        (
            s.month,
            s.operator_id,
            c.municipality_code,
            c.certificate_kind,
            c.copies,
            c.fees_yen,
            c.commission_yen,
            c.net_remittance_yen,
        )
        for c in s.cells
    ]
    t = s.total
    rows.append(
        (
            s.month,
            s.operator_id,
            "",
            "",
            t.copies,
            t.fees_yen,
            t.commission_yen,
            t.net_remittance_yen,
        )
    )
    return _csv(header, rows)


def reconciliation_csv(r: Reconciliation) -> str:
    header = (
        "operator_id",
        "month",
        "municipality_code",
        "certificate_kind",
        "reported",
        "recorded",
        "difference",
        "status",
    )
    return _csv(
        header,
        [
            (
                d.operator_id,
                r.month,
                d.municipality_code,
                d.certificate_kind,
                d.reported,
                d.recorded,
                d.difference,
                d.kind.value,
            )
            for d in r.differences
        ],
    )


def fiscal_year_csv(r: FiscalYearReport) -> str:
    header = (
        "month",
        "copies",
        "fees_yen",
        "commission_yen",
        "bcl_fee_yen",
        "contribution_yen",
        "total_cost_yen",
        "balance_yen",
        "net_remittance_yen",
        "bcl_billed_yen",
        "closed",
    )
    return _csv(
        header,
        [
            (
                m.month,
                m.copies,
                m.fees_yen,
                m.commission_yen,
                m.bcl_fee_yen,
                m.contribution_yen,
                m.total_cost_yen,
                m.balance_yen,
                m.net_remittance_yen,
                m.bcl_billed_yen,
                int(m.closed),
            )
            for m in (*r.months, r.total)
        ],
    )


# -- charts ------------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _font_family(font_path: Path) -> str:
    font_manager.fontManager.addfont(str(font_path))
    return font_manager.FontProperties(fname=str(font_path)).get_name()


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    return buf.getvalue()


def _figure() -> Figure:
    return Figure(figsize=(6.4, 2.6), layout="constrained")


def _style(font_path: Path) -> AbstractContextManager[None]:
    """Japanese labels for the charts drawn inside, without touching the global settings."""
    return matplotlib.rc_context(
        {"font.family": [_font_family(font_path)], "axes.unicode_minus": False}
    )


def monthly_chart(stats: Statistics, *, font_path: Path = DEFAULT_FONT) -> bytes:
    """月別交付通数, and for the nation the participating municipalities (団体数)."""
    with _style(font_path):
        fig = _figure()
        ax = fig.subplots()
        labels = [f"{Month.parse(p.month).month}月" for p in stats.months]
        ax.bar(labels, [p.copies for p in stats.months], color="#3b6ea5")
        ax.set_ylabel("交付通数")
        ax.set_title(f"{stats.fiscal_year}年度 月別交付通数")
        if not stats.municipality_code:
            twin = ax.twinx()
            twin.plot(
                labels,
                [p.participating_municipalities for p in stats.months],
                color="#c8202a",
                marker="o",
            )
            twin.set_ylabel("参加団体数")
            twin.set_ylim(bottom=0)
            twin.yaxis.set_major_locator(MaxNLocator(integer=True))
        return _png(fig)


def kind_chart(stats: Statistics, *, font_path: Path = DEFAULT_FONT) -> bytes:
    """年度別 交付通数 by certificate kind."""
    with _style(font_path):
        fig = _figure()
        ax = fig.subplots()
        ax.barh([kind_label(c.key) for c in stats.by_kind], [c.copies for c in stats.by_kind])
        ax.set_xlabel("交付通数")
        ax.set_title(f"{stats.fiscal_year}年度 証明書種別の交付通数")
        return _png(fig)


def operator_chart(stats: Statistics, *, font_path: Path = DEFAULT_FONT) -> bytes:
    with _style(font_path):
        fig = _figure()
        ax = fig.subplots()
        ax.bar([c.key for c in stats.by_operator], [c.copies for c in stats.by_operator])
        ax.set_ylabel("交付通数")
        ax.set_title(f"{stats.fiscal_year}年度 事業者別の交付通数")
        return _png(fig)


def shares_chart(stats: Statistics, *, font_path: Path = DEFAULT_FONT) -> bytes:
    """時間外 and 他市区町村 shares, with the national figures of the seed for reference."""
    with _style(font_path):
        fig = _figure()
        ax = fig.subplots()
        names = ["窓口時間外", "他市区町村"]
        shares = [stats.after_hours_share * 100, stats.other_municipality_share * 100]
        ax.barh(names, shares, color=["#3b6ea5", "#6aa56a"])
        for y, ref in enumerate((NATIONAL_AFTER_HOURS_SHARE, NATIONAL_OTHER_MUNICIPALITY_SHARE)):
            ax.plot([ref * 100] * 2, [y - 0.4, y + 0.4], color="#c8202a", linestyle="--")
        ax.set_xlim(0, 100)
        ax.set_xlabel("割合 (%)　破線: 全国 令和8年2月")
        ax.set_title(f"{stats.fiscal_year}年度 交付割合")
        return _png(fig)


def charts_for(stats: Statistics, *, font_path: Path = DEFAULT_FONT) -> dict[str, bytes]:
    """Every chart of a scope, by file stem."""
    return {
        "monthly": monthly_chart(stats, font_path=font_path),
        "kinds": kind_chart(stats, font_path=font_path),
        "operators": operator_chart(stats, font_path=font_path),
        "shares": shares_chart(stats, font_path=font_path),
    }


# -- PDF ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    title: str
    width: float  # mm
    align: str = "R"


class _Doc:
    """A4 portrait in the IPAex font, with the few layout pieces statements need."""

    def __init__(self, *, title: str, created_at: datetime, font_path: Path) -> None:
        pdf = FPDF(orientation="P", unit="mm", format="A4")
        pdf.set_creation_date(created_at)
        pdf.set_title(title)
        pdf.set_creator("konbini-koufu settlement")
        pdf.add_font("jp", fname=str(font_path))
        pdf.set_auto_page_break(auto=True, margin=15)
        pdf.set_margins(15, 15, 15)
        pdf.add_page()
        self.pdf = pdf
        self.heading(title, size=16)

    def heading(self, text: str, *, size: float = 12) -> None:
        self.pdf.set_font("jp", size=size)
        self.pdf.cell(0, size * 0.6, text, new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(1.5)

    def pairs(self, items: Sequence[tuple[str, str]]) -> None:
        self.pdf.set_font("jp", size=9.5)
        for key, value in items:
            self.pdf.cell(48, 6, key, border="B")
            self.pdf.cell(0, 6, value, border="B", new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(3)

    def table(
        self, columns: Sequence[Column], rows: Sequence[Sequence[str]], *, bold_last: bool = False
    ) -> None:
        self.pdf.set_font("jp", size=8.5)
        self.pdf.set_fill_color(230, 234, 240)
        for c in columns:
            self.pdf.cell(c.width, 6, c.title, border=1, align="C", fill=True)
        self.pdf.ln()
        for i, row in enumerate(rows):
            fill = bold_last and i == len(rows) - 1
            self.pdf.set_fill_color(245, 245, 245)
            for c, value in zip(columns, row, strict=True):
                self.pdf.cell(c.width, 5.5, value, border=1, align=c.align, fill=fill)
            self.pdf.ln()
        self.pdf.ln(3)

    def note(self, text: str) -> None:
        self.pdf.set_font("jp", size=8)
        self.pdf.multi_cell(0, 4.5, text, new_x="LMARGIN", new_y="NEXT")
        self.pdf.ln(1)

    def images(self, pngs: Sequence[bytes]) -> None:
        for png in pngs:
            if self.pdf.get_y() > 220:
                self.pdf.add_page()
            self.pdf.image(io.BytesIO(png), w=170)
            self.pdf.ln(2)

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def _status(closed_at: datetime | None) -> str:
    if closed_at is None:
        return "速報（月次締め前）"
    return f"確定（{closed_at.astimezone(JST):%Y-%m-%d %H:%M} 締め）"


def municipality_statement_pdf(
    s: MunicipalityStatement,
    charts: Mapping[str, bytes],
    *,
    created_at: datetime,
    font_path: Path = DEFAULT_FONT,
) -> bytes:
    doc = _Doc(
        title="コンビニ交付 月次精算書（市区町村）", created_at=created_at, font_path=font_path
    )
    t = s.total
    doc.pairs(
        [
            ("対象月", month_label(s.month)),
            ("団体", f"{s.municipality_name}（{s.municipality_code}）"),
            ("導入形態", BACKEND_LABELS.get(s.backend, s.backend)),
            ("状態", _status(s.closed_at)),
        ]
    )
    doc.heading("証明書種別・事業者別 交付通数と手数料（円）", size=11)
    cols = (
        Column("証明書", 38, "L"),
        Column("事業者", 24, "L"),
        Column("通数", 16),
        Column("交付手数料", 26),
        Column("委託手数料", 24),
        Column("差引納付額", 26),
        Column("BCL利用料", 26),
    )
    rows = [
        (
            kind_label(c.certificate_kind),
            c.operator_id,
            yen(c.copies),
            yen(c.fees_yen),
            yen(c.commission_yen),
            yen(c.net_remittance_yen),
            yen(c.bcl_fee_yen),
        )
        for c in s.cells
    ]
    rows.append(
        (
            "合計",
            "",
            yen(t.copies),
            yen(t.fees_yen),
            yen(t.commission_yen),
            yen(t.net_remittance_yen),
            yen(t.bcl_fee_yen),
        )
    )
    doc.table(cols, rows, bold_last=True)
    doc.pairs(
        [
            ("運営負担金（当月計上）", f"{yen(s.contribution_yen)} 円"),
            ("BCL利用料 年度末請求", f"{yen(s.bcl_billed_yen)} 円"),
            ("当月費用合計", f"{yen(s.total_cost_yen)} 円（委託手数料＋BCL利用料＋運営負担金）"),
            ("無効（印刷失敗・取消）", f"{yen(s.voided_copies)} 通（手数料なし）"),
            ("窓口時間外の交付割合", percent(t.after_hours_copies / t.copies if t.copies else 0.0)),
            (
                "他市区町村での交付割合",
                percent(t.other_municipality_copies / t.copies if t.copies else 0.0),
            ),
        ]
    )
    doc.note(
        "差引納付額はコンビニ事業者が収納した交付手数料から委託手数料（1通117円）を差し引いた額です。"
        "BCL証明発行機能利用料（1通180円）は月ごとに計上し、年度末に一括で請求します。"
    )
    doc.images([charts[k] for k in ("monthly", "kinds", "operators", "shares") if k in charts])
    return doc.output()


def operator_statement_pdf(
    s: OperatorStatement,
    reconciliation: Reconciliation | None,
    *,
    created_at: datetime,
    font_path: Path = DEFAULT_FONT,
) -> bytes:
    doc = _Doc(
        title="コンビニ交付 月次精算書（事業者）", created_at=created_at, font_path=font_path
    )
    t = s.total
    doc.pairs(
        [
            ("対象月", month_label(s.month)),
            ("事業者", f"{s.operator_name}（{s.operator_id}）"),
            ("状態", _status(s.closed_at)),
        ]
    )
    doc.heading("市区町村別 交付通数と納付額（円）", size=11)
    cols = (
        Column("市区町村", 30, "L"),
        Column("証明書", 40, "L"),
        Column("通数", 20),
        Column("交付手数料", 30),
        Column("委託手数料", 30),
        Column("納付額", 30),
    )
    rows = [
        (
            c.municipality_code,
            kind_label(c.certificate_kind),
            yen(c.copies),
            yen(c.fees_yen),
            yen(c.commission_yen),
            yen(c.net_remittance_yen),
        )
        for c in s.cells
    ]
    rows.append(
        (
            "合計",
            "",
            yen(t.copies),
            yen(t.fees_yen),
            yen(t.commission_yen),
            yen(t.net_remittance_yen),
        )
    )
    doc.table(cols, rows, bold_last=True)
    by_muni = group(s.cells, "municipality_code")
    doc.heading("市区町村への納付額（円）", size=11)
    doc.table(
        (Column("市区町村", 60, "L"), Column("納付額", 40)),
        [(c.municipality_code, yen(c.net_remittance_yen)) for c in by_muni],
    )
    if reconciliation is not None:
        doc.heading("交付通数確認（事業者報告との照合）", size=11)
        if s.operator_id not in reconciliation.reports_received:
            doc.note("この月の事業者報告は届いていません。センター記録の全件を相違として示します。")
        if reconciliation.differences:
            doc.table(
                (
                    Column("市区町村", 28, "L"),
                    Column("証明書", 40, "L"),
                    Column("報告", 22),
                    Column("記録", 22),
                    Column("差", 22),
                    Column("区分", 46, "L"),
                ),
                [
                    (
                        d.municipality_code,
                        kind_label(d.certificate_kind),
                        yen(d.reported),
                        yen(d.recorded),
                        f"{d.difference:+,}",
                        DIFFERENCE_LABELS[d.kind],
                    )
                    for d in reconciliation.differences
                ],
            )
        else:
            doc.note(f"相違なし（{reconciliation.matched_cells} 区分すべて一致）。")
    return doc.output()


def national_pdf(
    close: MonthClose,
    stats: Statistics,
    charts: Mapping[str, bytes],
    *,
    font_path: Path = DEFAULT_FONT,
) -> bytes:
    """The national operator's view of a closed month: the close and the year's statistics."""
    doc = _Doc(
        title="コンビニ交付 月次締め（全国）", created_at=close.closed_at, font_path=font_path
    )
    doc.pairs(
        [
            ("対象月", month_label(close.month)),
            ("状態", _status(close.closed_at)),
            ("対象団体数", f"{len(close.municipality_codes)}"),
            ("事業者数", f"{len(close.operator_ids)}"),
            ("仕訳数 / 明細数", f"{close.entry_count:,} / {close.line_count:,}"),
            ("借方合計", f"{yen(close.debit_total_yen)} 円"),
            ("締めダイジェスト", close.digest[:32]),
            (f"{stats.fiscal_year}年度 交付通数", f"{yen(stats.copies)} 通"),
            ("窓口時間外の交付割合", percent(stats.after_hours_share)),
            ("他市区町村での交付割合", percent(stats.other_municipality_share)),
        ]
    )
    doc.images([charts[k] for k in ("monthly", "kinds", "operators", "shares") if k in charts])
    return doc.output()


def fiscal_year_pdf(
    r: FiscalYearReport,
    charts: Mapping[str, bytes],
    *,
    created_at: datetime,
    font_path: Path = DEFAULT_FONT,
) -> bytes:
    doc = _Doc(title="コンビニ交付 年度報告", created_at=created_at, font_path=font_path)
    t = r.total
    doc.pairs(
        [
            ("年度", f"{r.fiscal_year}年度（{_era_year(r.fiscal_year)[:-1]}年度）"),
            ("団体", f"{r.municipality_name}（{r.municipality_code}）"),
            ("導入形態", BACKEND_LABELS.get(r.backend, r.backend)),
            ("状態", "確定" if t.closed else "速報（締めていない月を含む）"),
        ]
    )
    cols = (
        Column("月", 18, "L"),
        Column("通数", 16),
        Column("交付手数料", 26),
        Column("委託手数料", 24),
        Column("BCL利用料", 24),
        Column("運営負担金", 26),
        Column("費用合計", 24),
        Column("差引", 22),
    )
    rows = [
        (
            m.month if m is not t else "年度計",
            yen(m.copies),
            yen(m.fees_yen),
            yen(m.commission_yen),
            yen(m.bcl_fee_yen),
            yen(m.contribution_yen),
            yen(m.total_cost_yen),
            yen(m.balance_yen),
        )
        for m in (*r.months, t)
    ]
    doc.table(cols, rows, bold_last=True)
    doc.note(
        f"費用合計 {yen(t.total_cost_yen)} 円 = BCL利用料 {yen(t.bcl_fee_yen)} 円 ＋ 運営負担金 "
        f"{yen(t.contribution_yen)} 円 ＋ 委託手数料 {yen(t.commission_yen)} 円。"
        f"収入（交付手数料）{yen(t.fees_yen)} 円。"
    )
    doc.images([charts[k] for k in ("monthly", "kinds", "shares") if k in charts])
    return doc.output()
