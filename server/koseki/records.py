"""A 戸籍 as a certificate reads it: its 本籍, 筆頭者, 戸籍事項, members with their 身分事項,
and their 附票 addresses.

Built from the rows of the municipality's 戸籍 server (`server.koseki.backend`). A 戸籍 is
never erased: a member who left it (婚姻, 死亡, 分籍, …) stays listed with the reason (除籍),
and a 戸籍 whose members have all left is closed (a 除籍 as a whole). Kiosks issue the current
戸籍 only: that of a person who is still one of its members.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.bcl.registers import FuhyoEntryRecord, KosekiEventRecord, KosekiMemberRecord


@dataclass(frozen=True)
class MemberRef:
    """Where one person stands in a 戸籍: (municipality of the 本籍, 戸籍, 順位)."""

    municipality_code: str
    koseki_id: str
    member_no: int


@dataclass(frozen=True)
class Koseki:
    municipality_code: str  # the 本籍地
    koseki_id: str
    honseki: str  # 本籍
    hittousha: str  # 筆頭者氏名
    members: tuple[KosekiMemberRecord, ...]  # in 順位 order
    fuhyo: tuple[FuhyoEntryRecord, ...] = ()  # 附票: addresses of the members, oldest first
    # 戸籍事項 (member_no 0) and 身分事項, in (member_no, event_no) order.
    events: tuple[KosekiEventRecord, ...] = ()

    def __post_init__(self) -> None:
        numbers = [m.member_no for m in self.members]
        if not numbers:
            raise ValueError("a 戸籍 has at least one member")
        if numbers != sorted(set(numbers)):
            raise ValueError("members must be in 順位 order, each once")
        if any(m.koseki_id != self.koseki_id for m in self.members):
            raise ValueError("a member of another 戸籍")
        if any(e.koseki_id != self.koseki_id or e.member_no not in numbers for e in self.fuhyo):
            raise ValueError("a 附票 entry of someone not in this 戸籍")
        if any(
            e.koseki_id != self.koseki_id or (e.member_no and e.member_no not in numbers)
            for e in self.events
        ):
            raise ValueError("an event of someone not in this 戸籍")

    @property
    def closed(self) -> bool:
        """除籍: every member has left, so the 戸籍 is no longer current."""
        return all(m.removed_reason for m in self.members)

    def member(self, member_no: int) -> KosekiMemberRecord | None:
        return next((m for m in self.members if m.member_no == member_no), None)

    def is_current_member(self, member_no: int) -> bool:
        m = self.member(member_no)
        return m is not None and not m.removed_reason

    @property
    def current_members(self) -> tuple[KosekiMemberRecord, ...]:
        return tuple(m for m in self.members if not m.removed_reason)

    @property
    def matters(self) -> tuple[KosekiEventRecord, ...]:
        """戸籍事項: what happened to the 戸籍 itself (編製, 改製, 転籍)."""
        return self.events_of(0)

    def events_of(self, member_no: int) -> tuple[KosekiEventRecord, ...]:
        """身分事項 of one member (0: the 戸籍事項), in the order recorded."""
        return tuple(
            sorted((e for e in self.events if e.member_no == member_no), key=lambda e: e.event_no)
        )

    def addresses_of(self, member_no: int) -> tuple[FuhyoEntryRecord, ...]:
        return tuple(
            sorted((e for e in self.fuhyo if e.member_no == member_no), key=lambda e: e.entry_no)
        )

    def ref(self, member_no: int) -> MemberRef:
        return MemberRef(self.municipality_code, self.koseki_id, member_no)
