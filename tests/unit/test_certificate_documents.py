"""What each certificate may contain, checked when its document is built (SPEC section 3)."""

from __future__ import annotations

import dataclasses

import pytest

from server.bcl.registers import KosekiMemberRecord
from server.issuance.documents import CertificateKind, JuminhyoOptions, KosekiExtract
from server.koseki.records import Koseki
from tests.certificates import document, koseki, member, own_server, tax
from tests.unit.test_certificate_pdf import HOUSEHOLD, MUNICIPALITY, resident

K = CertificateKind
ME = HOUSEHOLD[:1]


def removed(m: KosekiMemberRecord, reason: str = "死亡") -> KosekiMemberRecord:
    return dataclasses.replace(m, removed_reason=reason)


# -- 住民票記載事項証明書 ------------------------------------------------------------------------


def test_kisai_comes_only_from_an_own_issuing_server() -> None:
    with pytest.raises(ValueError, match="own issuing server"):
        document(K.JUMINHYO_KISAI, MUNICIPALITY, HOUSEHOLD[:2])  # BCL-backed
    doc = document(K.JUMINHYO_KISAI, own_server(MUNICIPALITY), HOUSEHOLD[:2])
    assert doc.title == "住民票記載事項証明書"


def test_kisai_follows_the_household_rules_and_never_carries_honseki() -> None:
    muni = own_server(MUNICIPALITY)
    with pytest.raises(ValueError, match="本籍"):
        document(K.JUMINHYO_KISAI, muni, HOUSEHOLD[:2], options=JuminhyoOptions(show_honseki=True))
    with pytest.raises(ValueError, match="household"):
        document(K.JUMINHYO_KISAI, muni, (HOUSEHOLD[0], resident(1, household="H000002")))
    shown = document(
        K.JUMINHYO_KISAI,
        muni,
        HOUSEHOLD[:2],
        options=JuminhyoOptions(show_head_and_relationship=True),
    )
    assert shown.options.show_head_and_relationship


# -- tax certificates ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [K.TAX_INCOME, K.TAX_ASSESSMENT, K.TAX_PAYMENT])
def test_a_tax_certificate_is_of_one_person_and_their_own_record(kind: CertificateKind) -> None:
    assert kind.is_tax
    document(kind, MUNICIPALITY, ME)
    with pytest.raises(ValueError, match="exactly one"):
        document(kind, MUNICIPALITY, HOUSEHOLD[:2])
    with pytest.raises(ValueError, match="another person"):
        document(kind, MUNICIPALITY, ME, tax=tax(HOUSEHOLD[1]))
    with pytest.raises(ValueError, match="tax record"):
        document(kind, MUNICIPALITY, ME, tax=None)
    with pytest.raises(ValueError, match="住民票 only"):
        document(kind, MUNICIPALITY, ME, options=JuminhyoOptions(show_honseki=True))


def test_only_tax_certificates_carry_a_tax_record_and_only_koseki_ones_a_koseki() -> None:
    with pytest.raises(ValueError, match="tax record"):
        document(K.JUMINHYO, MUNICIPALITY, HOUSEHOLD[:2], tax=tax(HOUSEHOLD[0]))
    extract = KosekiExtract(koseki(), 1, (1,))
    with pytest.raises(ValueError, match="戸籍"):
        document(K.TAX_INCOME, MUNICIPALITY, ME, koseki=extract)


# -- 戸籍 and 附票 --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [K.KOSEKI_ZENBU, K.KOSEKI_KOJIN, K.KOSEKI_FUHYO])
def test_a_koseki_certificate_needs_its_koseki_from_the_certifying_municipality(
    kind: CertificateKind,
) -> None:
    assert kind.needs_koseki_server
    document(kind, MUNICIPALITY, ME)
    with pytest.raises(ValueError, match="needs the 戸籍"):
        document(kind, MUNICIPALITY, ME, koseki=None)
    elsewhere = KosekiExtract(koseki(municipality_code="271004"), 1, (1,))
    with pytest.raises(ValueError, match="another municipality"):
        document(kind, MUNICIPALITY, ME, koseki=elsewhere)
    with pytest.raises(ValueError, match="exactly one"):
        document(kind, MUNICIPALITY, HOUSEHOLD[:2])


def test_the_requester_must_be_a_current_member_of_the_koseki() -> None:
    k = koseki()
    third = k.member(3)
    assert third is not None and third.removed_reason == "婚姻"
    with pytest.raises(ValueError, match="current member"):
        KosekiExtract(k, 3, (3,))  # married out: 除籍 from this 戸籍
    with pytest.raises(ValueError, match="current member"):
        KosekiExtract(k, 9, (1,))  # no such member


def test_a_closed_koseki_is_never_issued() -> None:
    k = koseki()
    closed = dataclasses.replace(k, members=tuple(removed(m) for m in k.members))
    assert closed.closed and not k.closed
    with pytest.raises(ValueError, match="closed"):
        KosekiExtract(closed, 1, (1,))


def test_subjects_are_members_each_once_and_current_for_kojin_and_fuhyo() -> None:
    k = koseki()
    with pytest.raises(ValueError, match="twice"):
        KosekiExtract(k, 1, (1, 1))
    with pytest.raises(ValueError, match="not in this 戸籍"):
        KosekiExtract(k, 1, (1, 7))
    with pytest.raises(ValueError, match="at least one"):
        KosekiExtract(k, 1, ())
    past = KosekiExtract(k, 1, (1, 3))  # 3 left the 戸籍
    for kind in (K.KOSEKI_KOJIN, K.KOSEKI_FUHYO):
        with pytest.raises(ValueError, match="current members"):
            document(kind, MUNICIPALITY, ME, koseki=past)


def test_a_zenbu_certificate_shows_every_member_including_those_who_left() -> None:
    k = koseki()
    doc = document(K.KOSEKI_ZENBU, MUNICIPALITY, ME)
    assert doc.koseki is not None and doc.koseki.whole
    assert tuple(m.member_no for m in k.members) == doc.koseki.subjects
    with pytest.raises(ValueError, match="every member"):
        document(K.KOSEKI_ZENBU, MUNICIPALITY, ME, koseki=KosekiExtract(k, 1, (1, 2)))


def test_a_koseki_keeps_its_members_in_order_and_its_fuhyo_to_them() -> None:
    k = koseki()
    with pytest.raises(ValueError, match="order"):
        dataclasses.replace(k, members=tuple(reversed(k.members)))
    with pytest.raises(ValueError, match="another 戸籍"):
        dataclasses.replace(k, members=(dataclasses.replace(member(1), koseki_id="X"),))
    with pytest.raises(ValueError, match="附票"):
        Koseki(k.municipality_code, k.koseki_id, k.honseki, k.hittousha, k.members[:1], k.fuhyo)
    assert [e.entry_no for e in k.addresses_of(1)] == [1, 2]
    assert [m.member_no for m in k.current_members] == [1, 2, 4]
