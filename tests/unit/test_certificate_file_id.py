"""The trailer's /ID of a copy: derived from what the copy says, not from an MD5 of the output."""

from __future__ import annotations

import dataclasses
import io
import re

import pypdf
import pytest

from server.issuance.pdf import CertificateRenderer, RendererConfig
from server.verify.seal import CopySealer
from tests.unit.test_certificate_pdf import (
    CREATED,
    GOTHIC,
    HOUSEHOLD,
    MINCHO,
    MUNICIPALITY,
    inkan,
    juminhyo,
)
from tests.verify_tools import FixedSigners, seeded_signer

pytestmark = pytest.mark.skipif(not MINCHO.is_file(), reason="IPAex fonts not installed")


def file_id(pdf: bytes) -> tuple[bytes, bytes]:
    """The trailer's two identifiers, as written (pypdf also reads the trailer)."""
    assert "/ID" in pypdf.PdfReader(io.BytesIO(pdf)).trailer
    found = re.search(rb"/ID \[<([0-9A-F]+)><([0-9A-F]+)>\]", pdf)
    assert found is not None
    return bytes.fromhex(found[1].decode()), bytes.fromhex(found[2].decode())


@pytest.fixture(scope="module")
def sealed() -> CertificateRenderer:
    signer = seeded_signer(MUNICIPALITY.code, 1)
    return CertificateRenderer(
        RendererConfig(font_path=MINCHO), sealer=CopySealer(FixedSigners(signer))
    )


@pytest.fixture(scope="module")
def plain() -> CertificateRenderer:
    return CertificateRenderer(RendererConfig(font_path=MINCHO))


@pytest.mark.parametrize("which", ["plain", "sealed"])
def test_every_distinct_copy_gets_its_own_id_and_the_same_copy_the_same(
    which: str, request: pytest.FixtureRequest
) -> None:
    renderer: CertificateRenderer = request.getfixturevalue(which)
    no_seal_image = dataclasses.replace(MUNICIPALITY, seal_png=b"")
    docs = [
        juminhyo(),
        juminhyo(HOUSEHOLD[:2], household_size=3),
        inkan(),
        dataclasses.replace(juminhyo(), municipality=no_seal_image),
    ]
    ids = [file_id(renderer.render(d, created_at=CREATED)) for d in docs]
    assert all(first == second and len(first) == 16 for first, second in ids)
    assert len(set(ids)) == len(docs)
    assert [file_id(renderer.render(d, created_at=CREATED)) for d in docs] == ids
    later = CREATED.replace(minute=CREATED.minute + 1)
    assert file_id(renderer.render(docs[0], created_at=later)) != ids[0]


def test_the_same_text_in_other_fonts_or_unsealed_is_another_file(
    plain: CertificateRenderer, sealed: CertificateRenderer
) -> None:
    signer = seeded_signer(MUNICIPALITY.code, 1)
    gothic = CertificateRenderer(
        RendererConfig(font_path=MINCHO, gothic_font_path=GOTHIC),
        sealer=CopySealer(FixedSigners(signer)),
    )
    ids = {file_id(r.render(juminhyo(), created_at=CREATED)) for r in (plain, sealed, gothic)}
    assert len(ids) == 3
