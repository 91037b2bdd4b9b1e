"""What an issuance needs beyond the `issuances` row, for the certificates that need it."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class IssuanceDetail(SQLModel, table=True):
    """The fiscal year of a tax certificate, or the 戸籍 and members of a 戸籍 certificate.

    One row per issuance that has one, written with the reservation. A 戸籍 certificate is
    issued by the 本籍地, which is the issuance's municipality.
    """

    __tablename__ = "issuance_details"

    issuance_id: str = Field(foreign_key="issuances.id", primary_key=True)
    fiscal_year: int | None = None  # 年度 of a tax certificate
    koseki_id: str | None = None
    requester_member_no: int | None = None  # the requester's 順位 in that 戸籍
    member_nos: str = ""  # comma-separated 順位 printed, in order
