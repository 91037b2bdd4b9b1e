"""The kanji variant table: consistent, and cross-checked against the `ja-itaiji` package.

`ja-itaiji` is not a dependency (see `server/ereview/kanji_variants.py` for why); when it is
installed, the cross-check reports how many of our variant pairs it also knows, and fails only
if that drops below the share measured when the table was written (278 of 282: it misses the
斎/斉 family, which it keeps apart, and the non-BMP 𠮷).
"""

from __future__ import annotations

import unicodedata

import pytest

from server.ereview.kanji_variants import families, variant_map


def test_table_is_a_function_to_canonical_forms() -> None:
    mapping = variant_map()
    assert len(mapping) > 250
    assert not set(mapping.values()) & set(mapping)  # canonical forms are never variants


def test_table_entries_are_single_cjk_characters() -> None:
    for variant, canonical in variant_map().items():
        for ch in (variant, canonical):
            assert len(ch) == 1
            assert unicodedata.name(ch, "").startswith("CJK")


def test_families_cover_the_spec_examples() -> None:
    fam = families()
    assert "髙" in fam["高"]
    assert "﨑" in fam["崎"]
    assert {"齋", "斉"} <= set(fam["斎"])
    assert {"邊", "邉"} <= set(fam["辺"])


def test_ja_itaiji_knows_most_of_our_pairs() -> None:
    itaiji = pytest.importorskip("ja_itaiji").Itaiji
    mapping = variant_map()
    known = [v for v, c in mapping.items() if itaiji.is_family(v, c)]
    assert len(known) / len(mapping) >= 0.98
