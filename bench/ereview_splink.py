"""The Splink baseline for the e-review benchmark: the same applications, the same residents.

Splink (https://github.com/moj-analytical-services/splink, Fellegi–Sunter with EM, DuckDB
backend) is given what a careful generic pipeline would give it: names split into family and
given, NFKC-normalised with spaces removed, readings in katakana, birth dates parsed to ISO
(including era dates — parsing dates is data preparation, not matching), addresses NFKC with
spaces removed. It does not get our Japanese-specific folding (variant kanji, readings,
address notation): that is what the comparison measures.

Model: Jaro-Winkler name comparisons with term-frequency adjustment on the kanji names,
Splink's date-of-birth comparison, a Jaro-Winkler address comparison; λ from an exact
name-and-birth-date rule at recall 0.7, u by random sampling, m by EM blocked on birth date and
then on reading + address; predictions blocked on birth date, on full reading and on full
kanji name. Each application takes its best-scoring resident; the same thresholds as ours turn
the probability into match / review / no match.
"""

from __future__ import annotations

import logging
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.bcl.records import ResidentRecord
from server.ereview.batch import read_applications
from server.ereview.normalize import parse_date, split_name, strip_spaces, to_katakana


@dataclass(frozen=True)
class SplinkRun:
    predictions: dict[str, tuple[str, str]]  # application_id → (outcome, resident_id)
    seconds_prepare: float
    seconds_train: float
    seconds_predict: float
    pairs_scored: int


def _clean(text: str) -> str:
    return strip_spaces(unicodedata.normalize("NFKC", text))


def _kana(text: str) -> str:
    return to_katakana(_clean(text))


def _residents_table(records: Iterable[ResidentRecord]) -> Any:
    import pyarrow as pa  # type: ignore[import-untyped]

    cols: dict[str, list[str]] = {
        k: []
        for k in ("unique_id", "family_name", "given_name", "family_kana", "given_kana",
                  "birth_date", "address")
    }  # fmt: skip
    for r in records:
        cols["unique_id"].append(r.resident_id)
        cols["family_name"].append(_clean(r.family_name))
        cols["given_name"].append(_clean(r.given_name))
        cols["family_kana"].append(_kana(r.family_name_kana))
        cols["given_kana"].append(_kana(r.given_name_kana))
        cols["birth_date"].append(r.birth_date.isoformat())
        cols["address"].append(_clean(r.address))
    return pa.table(cols)


def _applications_table(path: Path) -> Any:
    import pyarrow as pa

    cols: dict[str, list[str | None]] = {
        k: []
        for k in ("unique_id", "family_name", "given_name", "family_kana", "given_kana",
                  "birth_date", "address")
    }  # fmt: skip
    for row in read_applications(path):
        name = split_name(row["name"]) or (row["name"], "")
        kana = split_name(row["name_kana"]) or (row["name_kana"], "")
        try:
            birth: str | None = parse_date(row["birth_date"]).value.isoformat()
        except ValueError:
            birth = None
        cols["unique_id"].append(row["application_id"])
        cols["family_name"].append(_clean(name[0]) or None)
        cols["given_name"].append(_clean(name[1]) or None)
        cols["family_kana"].append(_kana(kana[0]) or None)
        cols["given_kana"].append(_kana(kana[1]) or None)
        cols["birth_date"].append(birth)
        cols["address"].append(_clean(row["address"]) or None)
    return pa.table(cols)


def run_splink(
    residents: Iterable[ResidentRecord],
    applications: Path,
    *,
    match_threshold: float,
    review_threshold: float,
    seed: int = 1,
) -> SplinkRun:
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    logging.getLogger("splink").setLevel(logging.WARNING)
    t0 = time.perf_counter()
    db_api = DuckDBAPI()
    left = db_api.register(_residents_table(residents), dataset_display_name="residents")
    right = db_api.register(_applications_table(applications), dataset_display_name="apps")
    settings = SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.NameComparison("family_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("family_kana", [0.92, 0.8]),
            cl.JaroWinklerAtThresholds("given_kana", [0.92, 0.8]),
            cl.DateOfBirthComparison("birth_date", input_is_string=True),
            cl.JaroWinklerAtThresholds("address", [0.95, 0.85]),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("birth_date"),
            block_on("family_kana", "given_kana"),
            block_on("family_name", "given_name"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker([left, right], settings)
    t1 = time.perf_counter()
    linker.training.estimate_probability_two_random_records_match(
        [block_on("family_name", "given_name", "birth_date")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=seed)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("birth_date"))
    # Blocked on the full reading and the address, so that the birth date is trained on pairs
    # that are nearly all true matches (blocking on the reading alone gives blocks of hundreds
    # of namesakes and EM converges to a useless m for the birth date).
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("family_kana", "given_kana", "address")
    )
    t2 = time.perf_counter()
    scored = linker.inference.predict(threshold_match_probability=review_threshold / 10)
    best = scored.as_duckdbpyrelation().query(
        "pairs",
        """
        SELECT app_id, resident_id, match_probability, n FROM (
          SELECT
            CASE WHEN source_dataset_l = 'apps' THEN unique_id_l ELSE unique_id_r END AS app_id,
            CASE WHEN source_dataset_l = 'apps' THEN unique_id_r ELSE unique_id_l END
              AS resident_id,
            match_probability,
            count(*) OVER () AS n,
            row_number() OVER (
              PARTITION BY CASE WHEN source_dataset_l = 'apps' THEN unique_id_l
                           ELSE unique_id_r END
              ORDER BY match_probability DESC) AS rank
          FROM pairs) WHERE rank = 1
        """,
    )
    rows = best.fetchall() if best is not None else []
    t3 = time.perf_counter()
    predictions: dict[str, tuple[str, str]] = {}
    pairs = 0
    for app_id, resident_id, probability, n in rows:
        pairs = int(n)
        if probability >= match_threshold:
            predictions[str(app_id)] = ("match", str(resident_id))
        elif probability >= review_threshold:
            predictions[str(app_id)] = ("review", str(resident_id))
        else:
            predictions[str(app_id)] = ("no_match", "")
    return SplinkRun(predictions, t1 - t0, t2 - t1, t3 - t2, pairs)
