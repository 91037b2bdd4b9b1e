"""Each municipality sets how many fiscal years of tax certificates it issues (SPEC 3: "per
fiscal year, configurable range of years"): at onboarding or later by its staff
(`SetTaxYears`), over loopback gRPC on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import grpc
import pytest
from konbini.issuance.v1 import issuance_pb2
from konbini.staff.v1 import staff_pb2, staff_pb2_grpc

from clients.errors import decode_error
from clients.kiosk.terminal import CertificateChoice, Order, VisitStatus
from server.municipal.staff import StaffDesk
from tests.integration.conftest import Bench
from tests.integration.test_certificates import (
    TAX_KINDS,
    add_taxes,
    adult,
    offer,
    offering,
    refusal,
    reserve,
    session,
)

KIND = issuance_pb2.CertificateKind


@pytest.fixture(scope="module")
def staff_token(bench: Bench) -> str:
    offer(bench, bench.seeded.profile.code, TAX_KINDS, fee=300)
    _, token = StaffDesk(bench.center.engine, clock=bench.clock).create_account(
        bench.seeded.profile.code, "税務課"
    )
    return token


def set_tax_years(bench: Bench, token: str, years: int) -> staff_pb2.TaxYearsSetting:
    channel = getattr(bench, "api_channel", None) or bench.channel
    return staff_pb2_grpc.MunicipalityStaffServiceStub(channel).SetTaxYears(
        staff_pb2.SetTaxYearsRequest(fiscal_years=years),
        metadata=(("authorization", f"Bearer {token}"),),
    )


def test_staff_widen_and_narrow_the_range_of_tax_years_their_kiosks_issue(
    bench: Bench, staff_token: str
) -> None:
    me = bench.take(adult(bench))
    add_taxes(bench, me, (2021, 2022, 2025))
    assert bench.clock.now.date() == date(2026, 4, 1)  # 2025 is assessed from June 2025 on
    wide = set_tax_years(bench, staff_token, 5)
    assert (wide.fiscal_years, wide.municipality_setting) == (5, True)
    assert list(wide.offered) == [2025, 2024, 2023, 2022, 2021]
    try:
        o = offering(bench, session(bench, me), KIND.CERTIFICATE_KIND_TAX_INCOME)
        assert o is not None and list(o.fiscal_years) == [2025, 2022, 2021]
        old = bench.terminal().visit(
            bench.reader(me), bench.pin(me), Order(CertificateChoice.TAX_INCOME, fiscal_year=2021)
        )
        assert old.status is VisitStatus.ISSUED, old
        narrow = set_tax_years(bench, staff_token, 1)
        assert list(narrow.offered) == [2025]
        token = session(bench, me)
        o = offering(bench, token, KIND.CERTIFICATE_KIND_TAX_INCOME)
        assert o is not None and list(o.fiscal_years) == [2025]
        mine = [o.eligible_subjects[0].subject_id]
        err = refusal(
            lambda: reserve(bench, token, KIND.CERTIFICATE_KIND_TAX_INCOME, mine, fiscal_year=2022)
        )
        assert err.reason == "FISCAL_YEAR_OUT_OF_RANGE"
        assert err.metadata == {"first": "2025", "last": "2025"}
    finally:
        default = set_tax_years(bench, staff_token, 0)
    assert (default.fiscal_years, default.municipality_setting) == (3, False)
    assert list(default.offered) == [2025, 2024, 2023]


def test_a_range_beyond_ten_years_is_invalid_argument(bench: Bench, staff_token: str) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        set_tax_years(bench, staff_token, 11)
    err = decode_error(refused.value)
    assert err.code is grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in err.field_violations] == ["fiscal_years"]
