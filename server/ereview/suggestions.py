"""Procedure suggestions (手続きのご案内) from a household's attributes.

A table of rules, each looking at the household's members (birth dates, 続柄) on a business
date (Asia/Tokyo) and naming the procedures it suggests: a new baby → 児童手当 and 出産育児一時金,
a child of nursery age → 保育所入所, someone turning 65 → 介護保険, …. Every suggestion carries
the rule that fired and the members it is about, so a portal can say why. Pure: the caller
passes the date (from its injected clock).

The rules are deliberately simple and national; municipalities add their own (医療費助成 age
limits differ from one to the next).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from server.ereview.model import PROCEDURE_TITLES, Procedure

SPOUSE_RELATIONSHIPS = frozenset({"妻", "夫", "妻（未届）", "夫（未届）"})
SOON = timedelta(days=90)  # a birthday this close ahead is worth telling about now
RECENT = timedelta(days=30)  # … or this recently passed


@dataclass(frozen=True)
class HouseholdPerson:
    """What the rules need of a member."""

    birth_date: date
    relationship: str = ""  # 続柄 to the head; 世帯主 for the head


@dataclass(frozen=True)
class Suggestion:
    procedure: Procedure
    rule_id: str
    rule: str  # what fired, in words
    members: tuple[int, ...]  # positions of the members it is about

    @property
    def title(self) -> str:
        return PROCEDURE_TITLES[self.procedure]


def age_on(birth: date, day: date) -> int:
    """Age in completed years on `day` (a person born on 29 February ages on 1 March)."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def birthday(birth: date, age: int) -> date:
    """The day `birth` turns `age`; 29 February birthdays fall on 1 March in other years."""
    try:
        return birth.replace(year=birth.year + age)
    except ValueError:
        return date(birth.year + age, 3, 1)


def fiscal_year_start(day: date) -> date:
    """1 April of the fiscal year (年度) `day` is in."""
    return date(day.year if day.month >= 4 else day.year - 1, 4, 1)


def _turning(age: int) -> Callable[[HouseholdPerson, date], bool]:
    def check(p: HouseholdPerson, today: date) -> bool:
        return today - RECENT <= birthday(p.birth_date, age) <= today + SOON

    return check


def _new_baby(p: HouseholdPerson, today: date) -> bool:
    return p.birth_date <= today and today - p.birth_date <= timedelta(days=365)


def _nursery_age(p: HouseholdPerson, today: date) -> bool:
    # 保育所 classes are by age on 1 April: 0歳児 to 5歳児; a baby born since then is a 0歳児.
    return p.birth_date <= today and age_on(p.birth_date, fiscal_year_start(today)) <= 5


def _school_entry_next_april(p: HouseholdPerson, today: date) -> bool:
    # 学校教育法: school starts in the first April after the day following the 6th birthday, so
    # the class of April Y was born 2 April Y-7 .. 1 April Y-6 (早生まれ go a year earlier).
    year = fiscal_year_start(today).year + 1
    return date(year - 7, 4, 2) <= p.birth_date <= date(year - 6, 4, 1)


def _child_allowance_age(p: HouseholdPerson, today: date) -> bool:
    # 児童手当 runs to the end of the fiscal year in which the child turns 18 (since 2024-10).
    return p.birth_date <= today and age_on(p.birth_date, fiscal_year_start(today)) < 18


@dataclass(frozen=True)
class Rule:
    rule_id: str
    description: str
    procedures: tuple[Procedure, ...]
    applies: Callable[[HouseholdPerson, date], bool]


# In order of specificity: the first rule naming a procedure is the one reported for it.
RULES: tuple[Rule, ...] = (
    Rule(
        "NEW_BABY",
        "a member was born within the last 12 months",
        (Procedure.JIDO_TEATE, Procedure.SHUSSAN_ICHIJIKIN),
        _new_baby,
    ),
    Rule(
        "NURSERY_AGE",
        "a child is at most 5 years old on 1 April of this fiscal year",
        (Procedure.HOIKUSHO_NYUSHO,),
        _nursery_age,
    ),
    Rule(
        "SCHOOL_ENTRY",
        "a child starts elementary school next April",
        (Procedure.SHUGAKU,),
        _school_entry_next_april,
    ),
    Rule(
        "CHILD_UNDER_18",
        "a child is under 18 on 1 April of this fiscal year",
        (Procedure.JIDO_TEATE,),
        _child_allowance_age,
    ),
    Rule(
        "TURNING_20",
        "a member turns 20 within 90 days (or did in the last 30)",
        (Procedure.KOKUMIN_NENKIN,),
        _turning(20),
    ),
    Rule(
        "TURNING_65",
        "a member turns 65 within 90 days (or did in the last 30)",
        (Procedure.KAIGO_HOKEN,),
        _turning(65),
    ),
    Rule(
        "TURNING_75",
        "a member turns 75 within 90 days (or did in the last 30)",
        (Procedure.KOKI_KOREISHA_IRYO,),
        _turning(75),
    ),
)

SINGLE_PARENT_RULE = Rule(
    "SINGLE_PARENT",
    "the household has a child under 18 and no spouse of the head",
    (Procedure.JIDO_FUYO_TEATE,),
    _child_allowance_age,
)


def suggest(
    members: Sequence[HouseholdPerson],
    today: date,
    *,
    exclude: Procedure | None = None,
) -> tuple[Suggestion, ...]:
    """Procedures the household may need on `today`, one suggestion per procedure.

    `exclude` is the procedure being applied for: it is not suggested back.
    """
    found: dict[Procedure, Suggestion] = {}
    for rule in RULES:
        who = tuple(i for i, m in enumerate(members) if rule.applies(m, today))
        if not who:
            continue
        for procedure in rule.procedures:
            if procedure is not exclude and procedure not in found:
                found[procedure] = Suggestion(procedure, rule.rule_id, rule.description, who)
    # A household-level rule: a child and a head without a spouse in the household.
    children = tuple(
        i
        for i, m in enumerate(members)
        if m.relationship not in ("世帯主", *SPOUSE_RELATIONSHIPS)
        and SINGLE_PARENT_RULE.applies(m, today)
    )
    has_spouse = any(m.relationship in SPOUSE_RELATIONSHIPS for m in members)
    head_is_adult = any(
        m.relationship == "世帯主" and age_on(m.birth_date, today) >= 18 for m in members
    )
    procedure = SINGLE_PARENT_RULE.procedures[0]
    if children and head_is_adult and not has_spouse and procedure is not exclude:
        found.setdefault(
            procedure,
            Suggestion(
                procedure, SINGLE_PARENT_RULE.rule_id, SINGLE_PARENT_RULE.description, children
            ),
        )
    order = {p: i for i, p in enumerate(Procedure)}
    return tuple(sorted(found.values(), key=lambda s: order[s.procedure]))
