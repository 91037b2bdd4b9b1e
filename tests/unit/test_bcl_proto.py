"""A generation survives the trip server domain → protobuf → client view unchanged."""

from __future__ import annotations

import string
from datetime import UTC

from hypothesis import given, settings
from hypothesis import strategies as st

from clients.bcl.client import FileDigest as ClientDigest
from clients.bcl.client import _generation
from server.bcl.generations import Counts, FileDigest, GenerationInfo, UploadKind
from server.bcl.servicer import generation_pb

_HEX = st.binary(min_size=32, max_size=32).map(bytes.hex)
_DIGESTS = st.lists(
    st.builds(
        FileDigest,
        name=st.text(alphabet=string.ascii_lowercase + "_.", min_size=1, max_size=20),
        size=st.integers(0, 2**40),
        sha256=_HEX,
    ),
    max_size=4,
)
_N = st.integers(0, 10**7)


@settings(max_examples=60, deadline=None)
@given(
    st.builds(
        GenerationInfo,
        municipality_code=st.text(alphabet=string.digits, min_size=6, max_size=6),
        number=st.integers(1, 10**6),
        kind=st.sampled_from(UploadKind),
        base_number=st.one_of(st.none(), st.integers(1, 10**6)),
        checksum=_HEX,
        backup_checksum=_HEX,
        committed_at=st.datetimes(timezones=st.just(UTC)),
        kept=st.booleans(),
        current=st.booleans(),
        uploaded_bytes=st.integers(0, 2**40),
        counts=st.builds(Counts, _N, _N, _N, _N, _N, _N, _N, _N),
        uploaded_files=_DIGESTS.map(tuple),
        kept_files=_DIGESTS.map(tuple),
    )
)
def test_a_generation_round_trips_through_protobuf(g: GenerationInfo) -> None:
    view = _generation(generation_pb(g))
    assert (view.municipality_code, view.number, view.kind) == (
        g.municipality_code,
        g.number,
        g.kind.value,
    )
    assert view.base_generation == (g.base_number or 0)
    assert (view.checksum, view.kept_checksum) == (g.checksum, g.backup_checksum)
    assert view.committed_at == g.committed_at
    assert (view.kept, view.current, view.uploaded_bytes) == (g.kept, g.current, g.uploaded_bytes)
    assert view.counts == g.counts.__dict__
    assert view.uploaded_files == tuple(ClientDigest(**f.__dict__) for f in g.uploaded_files)
    assert view.kept_files == tuple(ClientDigest(**f.__dict__) for f in g.kept_files)
