"""The readable table of bench/results.json's "center" section, each figure beside its target."""

from __future__ import annotations

from typing import Any

TARGET_ISSUANCES_PER_S = 100.0
TARGET_P99_MS = 300.0
TARGET_OVERHEAD = 2.0  # server CPU per issuance at most twice the floor


def quantile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank quantile of ascending values (p99 of 100 values is the 99th)."""
    rank = max(1, round(q * len(sorted_values) + 0.5 - 1e-9))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def cpu_budget(run: dict[str, Any], floor_ms: float | None) -> dict[str, float] | None:
    """Where a completed issuance's CPU went on the whole machine, and the ceiling that sets.

    Every program of the run shares the same cores (center, database server, JPKI authority,
    load generator), so a complete issuance costs the sum of their CPU per issuance and the
    machine cannot issue more than `cores × 1000 / that sum` per second, however the work is
    scheduled. `floor_ceiling_per_s` is the same bound if the center did only its floor work
    and everything else stayed as measured: the headroom left by removing overhead alone.
    """
    issued = run.get("issued") or 0
    cores = run.get("machine_cores") or 0
    if not issued or not cores or "server_cpu_ms_per_issuance" not in run:
        return None
    sessions_per_issued = run.get("sessions", issued) / issued
    parts = {
        "center_ms": float(run["server_cpu_ms_per_issuance"]),
        "database_server_ms": float(run.get("database_server_cpu_ms_per_issuance", 0.0)),
        "authority_ms": float(run.get("authority_cpu_ms_per_issuance", 0.0)),
        "load_generator_ms": float(run.get("loadgen_cpu_ms_per_session", 0.0))
        * sessions_per_issued,
    }
    total = sum(parts.values())
    out = {k: round(v, 2) for k, v in parts.items()}
    out["total_ms"] = round(total, 2)
    out["ceiling_per_s"] = round(cores * 1e3 / total, 1) if total else 0.0
    if floor_ms:
        rest = total - parts["center_ms"] - parts["database_server_ms"] + floor_ms
        out["floor_ceiling_per_s"] = round(cores * 1e3 / rest, 1)
    return out


def _verdict(ok: bool | None) -> str:
    return "" if ok is None else ("met" if ok else "NOT met")


def table(center: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str, str]] = []
    pdf = center.get("pdf")
    if pdf:
        rows.append(
            (
                "pdf_ms_median (1-page 住民票)",
                f"{pdf['pdf_ms_median']:.2f}",
                f"≤ reportlab {pdf['reportlab_ms_median']:.2f}",
                _verdict(pdf["pdf_ms_median"] <= pdf["reportlab_ms_median"]),
            )
        )
    floor = center.get("floor", {}).get("floor_cpu_ms_per_issuance")
    for key in ("load_sqlite", "load_postgres"):
        run = center.get(key)
        if not run:
            continue
        name = key.removeprefix("load_")
        if "skipped" in run:
            rows.append((f"{name}: load run", "skipped", run["skipped"][:40], ""))
            continue
        setting = f"c={run['concurrency']}, {run['duration_s']:.0f} s"
        rows += [
            (
                f"{name}: issuances_per_s ({setting})",
                f"{run['issuances_per_s']:.1f}",
                f"≥ {TARGET_ISSUANCES_PER_S:.0f}",
                _verdict(run["issuances_per_s"] >= TARGET_ISSUANCES_PER_S),
            ),
            (f"{name}: p50_ms", f"{run['p50_ms']}", "", ""),
            (
                f"{name}: p99_ms",
                f"{run['p99_ms']}",
                f"< {TARGET_P99_MS:.0f}",
                _verdict(run["p99_ms"] is not None and run["p99_ms"] < TARGET_P99_MS),
            ),
            (f"{name}: errors", str(run["errors"]), "0", _verdict(run["errors"] == 0)),
        ]
        if floor:
            cpu = run["server_cpu_ms_per_issuance"]
            rows.append(
                (
                    f"{name}: server_cpu_ms_per_issuance",
                    f"{cpu:.1f}",
                    f"≤ 2 × floor {floor:.1f}",
                    _verdict(cpu <= TARGET_OVERHEAD * floor),
                )
            )
        budget = cpu_budget(run, floor)
        if budget:
            rows.append(
                (
                    f"{name}: machine CPU ms/issuance (all programs)",
                    f"{budget['total_ms']:.1f}",
                    f"ceiling {budget['ceiling_per_s']:.0f}/s on {run['machine_cores']} cores",
                    "",
                )
            )
        peak = run.get("server_rss_mb_peak_sampled")
        rows.append((f"{name}: server RSS peak (MB, all workers)", f"{peak}", "", ""))
        ocsp = run.get("ocsp")
        if ocsp:
            rows.append(("ocsp_responses_per_s", f"{ocsp['ocsp_responses_per_s']}", "", ""))
    if floor:
        rows.append(("floor_cpu_ms_per_issuance", f"{floor:.2f}", "", ""))
    crl = center.get("crl")
    if crl:
        rows += [
            (f"crl_load_s ({crl['crl_entries']:,} serials)", f"{crl['crl_load_s']}", "", ""),
            ("crl_checks_per_s", f"{crl['crl_checks_per_s']:,}", "", ""),
        ]
    widths = [max(len(r[i]) for r in rows) if rows else 0 for i in range(4)]
    head = center.get("run", {})
    lines = [f"center benchmark, commit {head.get('commit', '?')} ({head.get('machine', '')})"]
    for r in rows:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join(lines)
