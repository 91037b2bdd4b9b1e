"""One layout per certificate of SPEC section 3, each drawing a whole document on a `Sheet`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from server.issuance.documents import CertificateKind
from server.issuance.layouts import koseki, residence, seal, tax
from server.issuance.sheet import Sheet

Layout = Callable[[Sheet], None]

LAYOUTS: Mapping[CertificateKind, Layout] = MappingProxyType(
    {
        CertificateKind.JUMINHYO: residence.juminhyo,
        CertificateKind.JUMINHYO_KISAI: residence.kisai,
        CertificateKind.INKAN: seal.inkan,
        CertificateKind.TAX_INCOME: tax.tax_certificate,
        CertificateKind.TAX_ASSESSMENT: tax.tax_certificate,
        CertificateKind.TAX_PAYMENT: tax.tax_certificate,
        CertificateKind.KOSEKI_ZENBU: koseki.zenbu_or_kojin,
        CertificateKind.KOSEKI_KOJIN: koseki.zenbu_or_kojin,
        CertificateKind.KOSEKI_FUHYO: koseki.fuhyo,
    }
)
