"""The residents file, the evaluation set and the batch mode: formats, determinism, scoring."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.bcl.records import ResidentRecord, Sex
from server.bcl.synthetic import iter_residents
from server.ereview.batch import OUTPUT_COLUMNS, match_file, read_predictions
from server.ereview.evaluation import (
    APPLICATION_COLUMNS,
    generate_evaluation_set,
    read_truth,
    score,
    write_evaluation_set,
)
from server.ereview.index import ResidentIndex
from server.ereview.matcher import Matcher
from server.ereview.residents_csv import (
    FIELDS,
    ResidentsFileError,
    generate_residents_file,
    iter_residents_file,
    read_residents,
    write_residents,
)

_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)


def _digits(width: int) -> st.SearchStrategy[str]:
    return st.integers(0, 10**width - 1).map(lambda n: f"{n:0{width}d}")


@st.composite
def residents(draw: st.DrawFn) -> ResidentRecord:
    head = draw(st.booleans())
    return ResidentRecord(
        resident_id=draw(_digits(10)),
        household_id=draw(_digits(8)),
        family_name=draw(_text),
        given_name=draw(_text),
        family_name_kana=draw(_text),
        given_name_kana=draw(_text),
        birth_date=draw(st.dates(date(1900, 1, 1), date(2030, 1, 1))),
        sex=draw(st.sampled_from(Sex)),
        address=draw(_text),
        address_annex=draw(_text),
        is_household_head=head,
        relationship="世帯主" if head else draw(st.sampled_from(["妻", "子", "母"])),
        honseki=draw(_text),
        hittousha=draw(_text),
        juminhyo_code=draw(_digits(11)),
        individual_number=draw(_digits(12)),
        became_resident_on=draw(st.dates()),
        address_set_on=draw(st.dates()),
        former_family_name=draw(_text),
        suppressed=draw(st.booleans()),
    )


# Generation cost, not the code under test, is what a busy machine slows down.
@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(residents(), max_size=4))
def test_residents_file_round_trip(records: list[ResidentRecord]) -> None:
    buffer = io.StringIO(newline="")
    assert write_residents(buffer, records) == len(records)
    buffer.seek(0)
    assert list(read_residents(buffer)) == records


def test_residents_file_header_is_the_record_fields() -> None:
    buffer = io.StringIO()
    write_residents(buffer, [])
    assert buffer.getvalue().strip() == ",".join(FIELDS)
    assert FIELDS[:3] == ("resident_id", "household_id", "family_name")


def test_residents_file_errors_name_the_line() -> None:
    with pytest.raises(ResidentsFileError, match="line 1"):
        list(read_residents(io.StringIO("a,b,c\n")))
    good = io.StringIO()
    record = next(iter_residents(seed=1, households=1)).members[0]
    write_residents(good, [record])
    bad = good.getvalue().replace(record.birth_date.isoformat(), "1980-02-30")
    with pytest.raises(ResidentsFileError, match="line 2"):
        list(read_residents(io.StringIO(bad)))


def test_generated_residents_file_streams_whole_households(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    n = generate_residents_file(path, seed=3, residents=100)
    assert 100 <= n < 110
    records = list(iter_residents_file(path))
    assert len(records) == n
    expected = [m for h in iter_residents(seed=3, households=200) for m in h.members][:n]
    assert records == expected


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("eval") / "residents.csv"
    generate_residents_file(path, seed=5, residents=4000)
    return path


def test_evaluation_set_is_seeded_and_labelled(population: Path) -> None:
    first = generate_evaluation_set(
        iter_residents_file(population), seed=9, count=300, municipality_code="131016"
    )
    again = generate_evaluation_set(
        iter_residents_file(population), seed=9, count=300, municipality_code="131016"
    )
    other = generate_evaluation_set(
        iter_residents_file(population), seed=10, count=300, municipality_code="131016"
    )
    assert first == again != other
    ids = {r.resident_id for r in iter_residents_file(population)}
    assert sum(1 for a in first if a.resident_id) == 240
    assert all(a.resident_id in ids for a in first if a.resident_id)
    assert {a.kind for a in first} == {"resident", "outsider", "relative"}
    assert any("era_date" in a.corruptions for a in first)


def test_batch_mode_writes_the_documented_columns_and_scores_well(
    population: Path, tmp_path: Path
) -> None:
    labelled = generate_evaluation_set(
        iter_residents_file(population), seed=1, count=400, municipality_code="131016"
    )
    apps, truth_path, out = tmp_path / "a.csv", tmp_path / "t.csv", tmp_path / "o.csv"
    write_evaluation_set(labelled, apps, truth_path)
    with apps.open(encoding="utf-8") as f:
        assert next(csv.reader(f)) == list(APPLICATION_COLUMNS)
    matcher = Matcher(ResidentIndex.build(iter_residents_file(population)))
    stats = match_file(matcher, apps, out)
    assert stats.applications == 400
    with out.open(encoding="utf-8") as f:
        assert next(csv.reader(f)) == list(OUTPUT_COLUMNS)
    result = score(read_predictions(out), read_truth(truth_path))
    # Behaviour, not a benchmark: a sanity floor far below what the bench measures.
    assert result.precision > 0.95
    assert result.recall > 0.9


def test_batch_rows_that_cannot_be_read_go_to_review(population: Path, tmp_path: Path) -> None:
    apps = tmp_path / "a.csv"
    apps.write_text(
        ",".join(APPLICATION_COLUMNS) + "\n"
        "X1,131016,佐藤 一郎,サトウ イチロウ,昭和99年1月1日,九段北1-2-3\n"
        "X2,999999,佐藤 一郎,サトウ イチロウ,1980-01-01,九段北1-2-3\n"
        "X3,131016,,,1980-01-01,\n",
        encoding="utf-8",
    )
    matcher = Matcher(ResidentIndex.build(iter_residents_file(population)))
    out = tmp_path / "o.csv"
    match_file(matcher, apps, out, municipality="131016")
    rows = {r["application_id"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert rows["X1"]["outcome"] == "review" and rows["X1"]["reasons"] == "INVALID_BIRTH_DATE"
    assert rows["X2"]["reasons"] == "OTHER_MUNICIPALITY"
    assert rows["X3"]["reasons"] == "INVALID_ROW"


def test_score_counts_reviews_apart() -> None:
    truth = {"a": ("R1", "resident", ()), "b": ("", "outsider", ()), "c": ("R2", "resident", ())}
    predictions = {"a": ("match", "R1"), "b": ("no_match", ""), "c": ("review", "R2")}
    s = score(predictions, truth)
    assert (s.precision, s.recall, s.no_match_precision, s.no_match_recall) == (1.0, 0.5, 1.0, 1.0)
    assert s.reviews == 1 and s.reviews_of_residents == 1
    wrong = score({"a": ("match", "R9")}, truth)
    assert wrong.precision == 0.0
