"""The bench harness's own logic: reporting, profiles, the session mix. No timings (STYLE 17)."""

from __future__ import annotations

import io
from pathlib import Path

import pypdf
import pytest

from bench.profiling import summarise
from bench.report import cpu_budget, quantile, table
from clients.kiosk.terminal import VisitStatus
from load.scenario import Manifest, Mix, Resident, SessionResult, split

MINCHO = Path("/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf")


def residents(n: int) -> list[Resident]:
    return [Resident(f"131016/R{i:04d}.json", "131016", 1 + i % 3, i % 4 == 0) for i in range(n)]


def test_card_shares_are_disjoint_and_cover_every_card() -> None:
    people = residents(10)
    shares = split(people, 3)
    assert sorted(r.card_file for s in shares for r in s) == sorted(r.card_file for r in people)
    assert all(shares)
    with pytest.raises(ValueError):
        split(people, 11)


def test_a_mix_refuses_shares_outside_zero_to_one() -> None:
    with pytest.raises(ValueError):
        Mix(wrong_pin=1.5)


def test_an_injected_print_failure_is_expected_only_when_the_copy_was_voided() -> None:
    voided = SessionResult("juminhyo", VisitStatus.PRINT_FAILED, 1.0, injected="print_failure")
    assert voided.expected
    assert not SessionResult("juminhyo", VisitStatus.PRINT_FAILED, 1.0).expected
    assert not SessionResult("juminhyo", VisitStatus.ISSUED, 1.0, "print_failure").expected
    assert SessionResult("inkan", VisitStatus.ISSUED, 1.0, injected="wrong_pin").expected


def test_the_manifest_round_trips(tmp_path: Path) -> None:
    manifest = Manifest(tmp_path, tuple(residents(4)), ("LK1310160000",))
    manifest.write()
    assert Manifest.load(tmp_path) == manifest


def test_nearest_rankquantile() -> None:
    values = [float(v) for v in range(1, 101)]
    assert quantile(values, 0.99) == 99.0
    assert quantile(values, 0.5) == 50.0
    assert quantile([7.0], 0.99) == 7.0


def test_profile_summary_counts_own_and_inclusive_samples(tmp_path: Path) -> None:
    raw = tmp_path / "w0.raw"
    raw.write_text(
        "main (a.py:1);render (server/issuance/pdf.py:10);subset (fontTools/subset.py:5) 6\n"
        "main (a.py:1);query (sqlalchemy/orm.py:3) 4\n"
    )
    got = summarise([raw])
    assert got["samples"] == 10
    own = got["own"]
    assert isinstance(own, list) and own[0].endswith("subset (fontTools/subset.py)")
    inclusive = got["inclusive"]
    assert isinstance(inclusive, list)
    assert any("60.0%" in line and "render" in line for line in inclusive)
    assert summarise([tmp_path / "missing.raw"]) == {"samples": 0}


def test_the_table_states_each_target_verdict() -> None:
    center = {
        "run": {"commit": "abc1234", "machine": "x86_64, 2 cores"},
        "pdf": {"pdf_ms_median": 9.0, "reportlab_ms_median": 12.0},
        "floor": {"floor_cpu_ms_per_issuance": 10.0},
        "load_sqlite": {
            "concurrency": 16,
            "duration_s": 30.0,
            "issuances_per_s": 40.0,
            "p50_ms": 300.0,
            "p99_ms": 900.0,
            "errors": 0,
            "server_cpu_ms_per_issuance": 45.0,
            "server_rss_mb_peak_sampled": 400.0,
        },
        "load_postgres": {"skipped": "PostgreSQL unreachable: refused"},
    }
    text = table(center)
    assert "abc1234" in text
    lines = {line.split("  ")[0]: line for line in text.splitlines()}
    assert lines["pdf_ms_median (1-page 住民票)"].endswith("met")
    assert lines["sqlite: issuances_per_s (c=16, 30 s)"].endswith("NOT met")
    assert lines["sqlite: errors"].endswith("met")
    assert lines["sqlite: server_cpu_ms_per_issuance"].endswith("NOT met")
    assert "skipped" in lines["postgres: load run"]


@pytest.mark.skipif(not MINCHO.is_file(), reason="IPAex fonts not installed")
def test_the_reportlab_baseline_draws_the_same_certificate() -> None:
    pytest.importorskip("reportlab")
    pytest.importorskip("_rl_accel")
    from bench.pdf_render import CREATED, sample_documents
    from bench.reportlab_surface import ReportLabRenderer
    from server.issuance.pdf import CertificateRenderer, RendererConfig

    ours = CertificateRenderer(RendererConfig(font_path=MINCHO))
    baseline = ReportLabRenderer(MINCHO, ours.ground)
    try:
        (doc,) = sample_documents(1)
        texts = []
        for pdf in (ours.render(doc, created_at=CREATED), baseline.render(doc, created_at=CREATED)):
            (page,) = pypdf.PdfReader(io.BytesIO(pdf)).pages
            texts.append("".join(page.extract_text().split()))
    finally:
        baseline.close()
    for text in texts:
        assert "住民票の写し" in text
        assert doc.persons[0].family_name in text
        assert doc.issue_number.format() in text


def test_konbini_bench_hands_its_options_to_the_harness(capsys: pytest.CaptureFixture[str]) -> None:
    from clients.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["bench", "--only", "pdf,nonsense"])
    assert exit_.value.code == 2
    assert "unknown sections ['nonsense']" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # other commands still refuse options they do not know
        main(["db", "upgrade", "--only", "pdf"])


def test_the_manifest_keeps_phones_the_portal_the_bcl_export_and_the_counters(
    tmp_path: Path,
) -> None:
    people = (*residents(2), Resident("131016/R9.json", "131016", 2, False, "131016/R9.phone.json"))
    ereview = {"client_id": "load-portal", "secret": "s", "applicants": [{"name": "佐藤　一郎"}]}
    bcl = {"municipality_code": "232017", "directory": str(tmp_path / "bcl")}
    counters = [{"terminal_id": "LC13101601", "municipality_code": "131016", "staff_token": "t"}]
    Manifest(tmp_path, people, ("LK1310160000",), ereview, bcl, counters).write()
    loaded = Manifest.load(tmp_path)
    assert loaded.residents == people and loaded.residents[0].phone_file == ""
    assert (loaded.ereview, loaded.bcl, loaded.counters) == (ereview, bcl, counters)


def test_the_cpu_budget_adds_every_program_on_the_machine_and_bounds_the_rate() -> None:
    # The SQLite run at 81fe5a5: 1,280 copies in 1,298 sessions on two cores.
    run = {
        "issued": 1280,
        "sessions": 1298,
        "machine_cores": 2,
        "server_cpu_ms_per_issuance": 58.0,
        "database_server_cpu_ms_per_issuance": 0.0,
        "authority_cpu_ms_per_issuance": 1.0,
        "loadgen_cpu_ms_per_session": 6.4,
    }
    budget = cpu_budget(run, floor_ms=14.0)
    assert budget is not None
    assert budget["load_generator_ms"] == round(6.4 * 1298 / 1280, 2)
    assert budget["total_ms"] == round(58.0 + 1.0 + 6.4 * 1298 / 1280, 2)
    # Two cores cannot finish more than 2,000 CPU-ms of work per second.
    assert budget["ceiling_per_s"] == round(2000 / budget["total_ms"], 1)
    # With only the floor left in the center, the rest of the machine still caps the rate.
    assert budget["floor_ceiling_per_s"] == round(2000 / (14.0 + 1.0 + 6.4 * 1298 / 1280), 1)
    assert "ceiling" in table(
        {
            "floor": {"floor_cpu_ms_per_issuance": 14.0},
            "load_sqlite": {
                **run,
                "concurrency": 16,
                "duration_s": 60,
                "issuances_per_s": 21.3,
                "p50_ms": 455,
                "p99_ms": 3305,
                "errors": 0,
            },
        }
    )


def test_no_cpu_budget_without_an_issued_copy() -> None:
    assert cpu_budget({"issued": 0, "machine_cores": 2}, floor_ms=14.0) is None
