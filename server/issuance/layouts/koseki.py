"""戸籍証明書 (全部事項 / 個人事項) and 戸籍の附票の写し, laid out as computerised 戸籍 copies.

Every sheet starts with the 戸籍's 本籍 and 筆頭者; then a framed 「戸籍事項」 block (戸籍編製,
戸籍改製 or 転籍 with their dates); then one framed block per member: 「戸籍に記録されている者」
with 【名】, 【生年月日】, 【父】【母】, 【続柄】 (or 【配偶者区分】), and under 「身分事項」 each
event (出生, 婚姻, 死亡, …) as the register prints it — its name, then one item per line:

    出　　生　【出生日】昭和40年6月21日
    【出生地】東京都千代田区
    【届出日】昭和40年6月25日
    【届出人】父

with dates in the era calendar. A member who has left the 戸籍 is marked 「除籍」 and keeps
their block, as the register does. The 附票 shows each member's addresses (【住所】 and
【住所を定めた年月日】), oldest first.

Blocks are as tall as their lines; a 戸籍 of many members, or a member with a long history,
continues on further sheets (a block too tall for one sheet is split), each sheet numbered x/y
with the issue number; the certification closes the last.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from server.bcl.registers import KosekiEventKind, KosekiEventRecord, KosekiMemberRecord
from server.common.era import to_wareki
from server.issuance.documents import CertificateKind, KosekiExtract
from server.issuance.sheet import (
    CONTENT_BOTTOM,
    LABEL_INK,
    LABEL_PT,
    LEFT,
    RIGHT,
    SEAL_RED,
    VALUE_PT,
    WIDTH,
    Sheet,
    paginate,
)
from server.koseki.records import Koseki

HEADER_TOP = 34.0
BLOCKS_TOP = 55.0  # under the 本籍 / 筆頭者 header
LABEL_W = 34.0
VALUE_X = LEFT + LABEL_W
LINE_H = 5.2
PAD = 1.6  # above the first and below the last line of a band
GAP = 2.5  # between blocks
CERTIFICATION_H = 52.0
ROOM = CONTENT_BOTTOM - BLOCKS_TOP
LAST_ROOM = ROOM - CERTIFICATION_H
SPOUSE = ("妻", "夫")

# 身分事項 as uploaded: "<事項> <YYYY-MM-DD>[ more]" per line (or separated by ；).
_EVENT = re.compile(r"^(?P<what>\S+?)[ 　]+(?P<day>\d{4}-\d{2}-\d{2})(?P<rest>.*)$")
_EVENT_SPLIT = re.compile(r"[\n;；]+")


@dataclass(frozen=True)
class Band:
    """One labelled band of a block: a label on the left, lines of text on the right."""

    label: str
    lines: tuple[str, ...]

    @property
    def height(self) -> float:
        return 2 * PAD + LINE_H * len(self.lines)


@dataclass(frozen=True)
class Block:
    bands: tuple[Band, ...]
    removed: bool = False  # 除籍: marked in the first band

    @property
    def height(self) -> float:
        return sum(b.height for b in self.bands)


def zenbu_or_kojin(sheet: Sheet) -> None:
    """戸籍全部事項証明書 (every member) and 戸籍個人事項証明書 (the members chosen)."""
    extract = _extract(sheet)
    koseki = extract.koseki
    family = koseki.hittousha.partition("　")[0]
    members = [koseki.member(no) for no in extract.subjects]  # KosekiExtract checks them
    blocks = [_member_block(sheet, koseki, m, family) for m in members if m is not None]
    if koseki.matters:
        matters = [line for e in koseki.matters for line in _event_lines(sheet, e)]
        blocks.insert(0, Block((Band("戸籍事項", tuple(matters)),)))
    if sheet.doc.kind is CertificateKind.KOSEKI_ZENBU:
        sentence = "これは、戸籍に記録されている事項の全部を証明した書面である。"
    else:
        sentence = "これは、戸籍中の一部の者について記録されている事項の全部を証明した書面である。"
    _flow(sheet, extract, blocks, ("本籍", "氏名"), sentence)


def fuhyo(sheet: Sheet) -> None:
    """戸籍の附票の写し: the addresses of the members chosen (all, or some)."""
    extract = _extract(sheet)
    koseki = extract.koseki
    blocks = []
    width = RIGHT - VALUE_X - 3.0
    for no in extract.subjects:
        m = koseki.member(no)
        assert m is not None  # KosekiExtract checks it
        who = f"【氏名】{_name(m)}　　【生年月日】{to_wareki(m.birth_date)}"
        lines: list[str] = []
        for entry in koseki.addresses_of(no):
            lines += sheet.wrap(f"【住所】{entry.address}", VALUE_PT, width)
            lines.append(f"【住所を定めた年月日】{to_wareki(entry.address_set_on)}")
        bands = [Band("附票に記録されている者", (who,)), Band("住所", tuple(lines or ["―"]))]
        blocks.append(Block(tuple(bands), removed=bool(m.removed_reason)))
    part = "" if extract.whole else "の一部"
    sentence = f"この写しは、戸籍の附票の原本{part}と相違ないことを証明する。"
    _flow(sheet, extract, blocks, ("本籍", "筆頭者氏名"), sentence)


# -- the parts ----------------------------------------------------------------------------------


def _extract(sheet: Sheet) -> KosekiExtract:
    extract = sheet.doc.koseki
    assert extract is not None  # CertificateDocument checks it
    return extract


def _flow(
    sheet: Sheet,
    extract: KosekiExtract,
    blocks: Sequence[Block],
    header: tuple[str, str],
    sentence: str,
) -> None:
    """Blocks down the sheets under the header, then the certification on the last."""
    pieces = [piece for block in blocks for piece in _split(block, LAST_ROOM - GAP)]
    pages = paginate([p.height + GAP for p in pieces], room=ROOM, last_room=LAST_ROOM)
    koseki = extract.koseki
    y = BLOCKS_TOP
    for page, indexes in enumerate(pages, start=1):
        sheet.new_page(page, len(pages))
        sheet.label_value_rows(
            HEADER_TOP,
            [(header[0], koseki.honseki), (header[1], koseki.hittousha)],
            label_w=LABEL_W,
        )
        y = BLOCKS_TOP
        for i in indexes:
            _draw(sheet, y, pieces[i])
            y += pieces[i].height + GAP
    sheet.close(y, sentence)


def _split(block: Block, limit: float) -> list[Block]:
    """The block as it is, or in pieces no taller than `limit` (a long history)."""
    if block.height <= limit:
        return [block]
    per_piece = max(1, int((limit - 2 * PAD) // LINE_H))
    pieces: list[Block] = []
    current: list[Band] = []
    used = 0.0
    for band in block.bands:
        lines = list(band.lines)
        while lines:
            room = int((limit - used - 2 * PAD) // LINE_H)
            if room < 1 and current:  # this piece is full: the rest goes on in the next
                pieces.append(Block(tuple(current), block.removed))
                current, used = [], 0.0
                continue
            n = max(1, min(room, per_piece))
            current.append(Band(band.label, tuple(lines[:n])))
            lines = lines[n:]
            used += current[-1].height
    if current:
        pieces.append(Block(tuple(current), block.removed))
    return pieces


def _draw(sheet: Sheet, top: float, block: Block) -> None:
    pdf = sheet.pdf
    pdf.set_line_width(0.35)
    pdf.rect(LEFT, top, WIDTH, block.height)
    pdf.set_line_width(0.2)
    sheet.vline(VALUE_X, top, top + block.height)
    y = top
    for i, band in enumerate(block.bands):
        if i:
            sheet.hline(LEFT, RIGHT, y)
        sheet.text(
            LEFT + LABEL_W / 2,
            y + PAD + LINE_H - 1.5,
            band.label,
            LABEL_PT,
            align="C",
            width=LABEL_W - 2.0,
            color=LABEL_INK,
        )
        if i == 0 and block.removed:
            _removed_mark(sheet, y + PAD + LINE_H + 0.8)
        for n, line in enumerate(band.lines, start=1):
            sheet.text(VALUE_X + 1.5, y + PAD + n * LINE_H - 1.5, line, VALUE_PT)
        y += band.height


def _removed_mark(sheet: Sheet, y: float) -> None:
    """「除籍」 in a box under the label, as the register marks a member who left."""
    w, h = 14.0, 5.5
    x = LEFT + (LABEL_W - w) / 2
    pdf = sheet.pdf
    pdf.set_draw_color(*SEAL_RED)
    pdf.rect(x, y, w, h)
    sheet.text(x + w / 2, y + h - 1.5, "除　籍", LABEL_PT + 0.5, align="C", color=SEAL_RED)
    pdf.set_draw_color(0, 0, 0)


def _member_block(sheet: Sheet, koseki: Koseki, m: KosekiMemberRecord, family: str) -> Block:
    """「戸籍に記録されている者」 and 「身分事項」 of one member."""
    same_family = m.family_name == family
    person = [f"【名】{m.given_name}" if same_family else f"【氏名】{_name(m)}"]
    if m.given_name_kana:
        reading = m.given_name_kana if same_family else f"{m.family_name_kana}　{m.given_name_kana}"
        person.append(f"【{'名' if same_family else '氏名'}の振り仮名】{reading}")
    born = f"【生年月日】{to_wareki(m.birth_date)}"
    if m.relationship in SPOUSE:
        born += f"　　【配偶者区分】{m.relationship}"
    person.append(born)
    if m.father_name:
        person.append(f"【父】{m.father_name}")
    if m.mother_name:
        person.append(f"【母】{m.mother_name}")
    recorded = koseki.events_of(m.member_no)
    for e in recorded:  # adoptive parents stand beside the birth parents
        if e.kind is KosekiEventKind.ADOPTION:
            person += [f"【養父】{e.adoptive_father}"] if e.adoptive_father else []
            person += [f"【養母】{e.adoptive_mother}"] if e.adoptive_mother else []
    if m.relationship not in SPOUSE:
        person.append(f"【続柄】{m.relationship}")
    events: list[str] = []
    if recorded:
        for e in recorded:
            events += _event_lines(sheet, e)
        if m.removed_reason and m.removed_reason not in {e.kind.value for e in recorded}:
            events += _event_lines(sheet, None, removed=m.removed_reason)
    else:  # a register that keeps 身分事項 as free text
        for line in _events(m):
            events += sheet.wrap(line, VALUE_PT, RIGHT - VALUE_X - 3.0)
    bands = [Band("戸籍に記録されている者", tuple(person))]
    if events:
        bands.append(Band("身分事項", tuple(events)))
    return Block(tuple(bands), removed=bool(m.removed_reason))


TITLE_CHARS = 6  # the column of event names, in full-width characters
_INDENT = "　" * (TITLE_CHARS + 1)
_EM = VALUE_PT * 25.4 / 72  # a full-width character is one em wide (mm)


def _title(name: str) -> str:
    """An event name as the register sets it: short names spaced out to the column width."""
    if len(name) == 2:
        name = f"{name[0]}　　{name[1]}"
    elif len(name) == 3:
        name = "　".join(name)
    return name.ljust(TITLE_CHARS + 1, "　")


def _event_lines(sheet: Sheet, event: KosekiEventRecord | None, *, removed: str = "") -> list[str]:
    """One event: its name and its date on the first line, each further item on its own;
    without an event, the 除籍 of a member whose reason is not itemised."""
    if event is None:
        title, items = "除籍", [("除籍事由", removed)]
    else:
        spec = event.kind.spec
        title = spec.title
        items = [
            (spec.date_label, to_wareki(event.event_date)),
            *(
                (label, to_wareki(value) if isinstance(value, date) else value)
                for label, value in event.items()
            ),
        ]
    width = RIGHT - VALUE_X - 3.0 - len(_INDENT) * _EM
    lines: list[str] = []
    for label, value in items:
        for piece in sheet.wrap(f"【{label}】{value}", VALUE_PT, width):
            lines.append((_title(title) if not lines else _INDENT) + piece)
    return lines


def _events(m: KosekiMemberRecord) -> list[str]:
    """身分事項 lines: 「出生　【出生日】昭和55年5月3日」; free text as it was recorded."""
    out = []
    for raw in _EVENT_SPLIT.split(m.events):
        text = raw.strip()
        if not text:
            continue
        match = _EVENT.match(text)
        if match is None:
            out.append(text)
            continue
        what = match["what"]
        try:
            day = to_wareki(date.fromisoformat(match["day"]))
        except ValueError:
            out.append(text)
            continue
        out.append(f"{what}　　【{what}日】{day}{match['rest'].rstrip()}")
    if m.removed_reason:
        out.append(f"除籍　　【除籍事由】{m.removed_reason}")
    return out


def _name(m: KosekiMemberRecord) -> str:
    return f"{m.family_name}　{m.given_name}"
