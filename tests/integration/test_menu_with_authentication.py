"""The menu answered with the authentication (`include_offerings`) for residents who filed a
本籍地 利用登録, over loopback gRPC on every database backend.

That menu is built from what the authentication knows (the new session's resident) rather
than from the session row read back, and reads the registrations only when the resident's own
read says there are some; it must still say exactly what ListOfferings says — the pending
request, and once approved the 本籍地's 戸籍 certificates (asked of its 戸籍 server between two
read transactions).
"""

from __future__ import annotations

from konbini.issuance.v1 import issuance_pb2
from konbini.staff.v1 import staff_pb2

from server.bcl.records import ResidentRecord
from tests.integration.conftest import OSAKA, Bench
from tests.integration.test_honseki_registration import (  # noqa: F401 (fixtures)
    bearer,
    family_in_osaka,
    osaka,
    osaka_staff,
    staff,
)
from tests.integration.test_visit_in_fewer_calls import list_offerings, sign_in


def menus(bench: Bench, me: ResidentRecord) -> tuple[issuance_pb2.ListOfferingsResponse, ...]:
    """The menu answered with a fresh authentication, and ListOfferings' on that session."""
    session = sign_in(bench, me, include_offerings=True)
    assert session.HasField("offerings")
    return session.offerings, list_offerings(bench, session.session_token)


def test_with_a_pending_registration_the_menus_agree_and_list_it(
    bench: Bench,
    osaka_staff: str,  # noqa: F811 (the fixture)
) -> None:
    me = family_in_osaka(bench, "OSK-0901")[0]
    filed = bench.terminal().request_honseki_registration(bench.reader(me), bench.pin(me), OSAKA)
    with_auth, listed = menus(bench, me)
    assert with_auth == listed
    [reg] = with_auth.honseki_registrations
    assert (reg.registration_id, reg.municipality_code) == (filed.registration_id, OSAKA)
    assert reg.state == issuance_pb2.HONSEKI_REGISTRATION_STATE_PENDING
    assert all(o.municipality_code != OSAKA for o in with_auth.offerings)


def test_with_an_approved_registration_the_menus_agree_and_offer_the_koseki(
    bench: Bench,
    osaka_staff: str,  # noqa: F811 (the fixture)
) -> None:
    me = family_in_osaka(bench, "OSK-0902")[0]
    filed = bench.terminal().request_honseki_registration(bench.reader(me), bench.pin(me), OSAKA)
    staff(bench).ApproveHonsekiRequest(
        staff_pb2.ApproveHonsekiRequestRequest(
            registration_id=filed.registration_id, koseki_id="OSK-0902", member_no=1
        ),
        metadata=bearer(osaka_staff),
    )
    with_auth, listed = menus(bench, me)
    assert with_auth == listed
    [reg] = with_auth.honseki_registrations
    assert reg.state == issuance_pb2.HONSEKI_REGISTRATION_STATE_APPROVED
    assert {o.kind for o in with_auth.offerings if o.municipality_code == OSAKA} == {
        issuance_pb2.CERTIFICATE_KIND_KOSEKI_ZENBU,
        issuance_pb2.CERTIFICATE_KIND_KOSEKI_KOJIN,
        issuance_pb2.CERTIFICATE_KIND_KOSEKI_FUHYO,
    }
