"""One layout per certificate of SPEC section 3, each drawing a whole document on a `Sheet`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from server.issuance.documents import CertificateKind
from server.issuance.layouts import residence, seal
from server.issuance.sheet import Sheet

Layout = Callable[[Sheet], None]

LAYOUTS: Mapping[CertificateKind, Layout] = MappingProxyType(
    {
        CertificateKind.JUMINHYO: residence.juminhyo,
        CertificateKind.INKAN: seal.inkan,
    }
)
