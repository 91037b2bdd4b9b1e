"""How a copy's file is written: its /ID from what it says, its images serialized once."""

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


def test_images_serialized_once_are_the_bytes_fpdf2_writes_for_each_copy(
    plain: CertificateRenderer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ground and seal images' objects are serialized once per renderer and renumbered
    per copy; a renderer that lets fpdf2 build them every time writes the very same file."""
    from server.issuance import pdf as module

    monkeypatch.setattr(module, "_serialized_once", lambda info: None)
    fresh = CertificateRenderer(RendererConfig(font_path=MINCHO))
    assert fresh._prepared_ground.parts is None
    for doc in (juminhyo(), inkan(), juminhyo(HOUSEHOLD[:12], household_size=12)):
        assert fresh.render(doc, created_at=CREATED) == plain.render(doc, created_at=CREATED)


def test_object_dictionaries_are_the_ones_fpdf2_builds(
    plain: CertificateRenderer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`_obj_dict` reads only public names; each object of a copy gets fpdf2's dictionary."""
    from fpdf.syntax import PDFObject

    from server.issuance import pdf as module

    written: list[PDFObject] = []
    bufferize = module._Output.bufferize

    def keep(self: module._Output) -> bytearray:
        out = bufferize(self)
        written.extend(o for o in self.pdf_objs if isinstance(o, PDFObject))
        return out

    monkeypatch.setattr(module._Output, "bufferize", keep)
    plain.render(juminhyo(HOUSEHOLD[:12], household_size=12), created_at=CREATED)
    checked = 0
    for obj in written:
        if type(obj)._build_obj_dict is PDFObject._build_obj_dict:
            assert module._obj_dict(obj) == PDFObject._build_obj_dict(obj)
            checked += 1
    assert checked >= 10
