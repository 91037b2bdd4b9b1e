"""Japanese era dates (和暦): 昭和55年5月3日 ⇄ date(1980, 5, 3).

Certificates print dates in the era calendar, and residents write them that way on forms
(SPEC section 6: "era or western dates"). Eras start on the day of the era change (改元), so
the last days of an era and the first of the next share a Gregorian year: 昭和64年1月7日 is
followed by 平成元年1月8日. The first year of an era is written 元年.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Era:
    name: str  # 令和
    letter: str  # R, the abbreviation used on forms (R8.4.1)
    start: date  # first day of the era


# Oldest first. 明治 starts at the 改元 of 1868-10-23; earlier dates are not supported.
ERAS: tuple[Era, ...] = (
    Era("明治", "M", date(1868, 10, 23)),
    Era("大正", "T", date(1912, 7, 30)),
    Era("昭和", "S", date(1926, 12, 25)),
    Era("平成", "H", date(1989, 1, 8)),
    Era("令和", "R", date(2019, 5, 1)),
)

# Full name, its first kanji (昭55.5.3) and its letter (S55.5.3) all name the era.
_BY_NAME: dict[str, Era] = {key: era for era in ERAS for key in (era.name, era.name[0], era.letter)}

# The era, then year / month / day each followed by 年月日 or by one of . / - (S55.5.3).
_PATTERN = re.compile(
    r"(?P<era>明治|大正|昭和|平成|令和|[明大昭平令MTSHR])\s*"
    r"(?P<year>[0-9]{1,4}|元)\s*(?:年|[./-])\s*"
    r"(?P<month>[0-9]{1,2})\s*(?:月|[./-])\s*"
    r"(?P<day>[0-9]{1,2})\s*日?",
    re.IGNORECASE,
)


def era_of(d: date) -> Era:
    """The era a date falls in; ValueError before 明治."""
    for era in reversed(ERAS):
        if d >= era.start:
            return era
    raise ValueError(f"{d.isoformat()} is before 明治 ({ERAS[0].start.isoformat()})")


def _era_end(era: Era) -> date | None:
    """Last day of an era, or None for the current one."""
    i = ERAS.index(era)
    return ERAS[i + 1].start - timedelta(days=1) if i + 1 < len(ERAS) else None


def to_wareki(d: date) -> str:
    """date(1980, 5, 3) -> "昭和55年5月3日"; the first year of an era is 元年."""
    era = era_of(d)
    year = d.year - era.start.year + 1
    year_text = "元" if year == 1 else str(year)
    return f"{era.name}{year_text}年{d.month}月{d.day}日"


def from_wareki(text: str) -> date:
    """Parse 昭和55年5月3日, S55.5.3, 昭和５５年５月３日 or 令和元年5月1日 into a date.

    Raises ValueError when the text is not an era date or names a day outside its era
    (昭和64年1月8日 does not exist: that day is 平成元年1月8日).
    """
    # NFKC folds full-width digits and letters (５５, Ｓ) to ASCII.
    normalized = unicodedata.normalize("NFKC", text).strip()
    m = _PATTERN.fullmatch(normalized)
    if m is None:
        raise ValueError(f"not a Japanese era date: {text!r}")
    token = m["era"]
    era = _BY_NAME[token.upper() if token.isascii() else token]
    year = 1 if m["year"] == "元" else int(m["year"])
    if year < 1:
        raise ValueError(f"era year must be 元 or at least 1: {text!r}")
    try:
        d = date(era.start.year + year - 1, int(m["month"]), int(m["day"]))
    except ValueError as exc:
        raise ValueError(f"no such day: {text!r}") from exc
    end = _era_end(era)
    if d < era.start or (end is not None and d > end):
        raise ValueError(f"{text!r} is outside the {era.name} era")
    return d
