"""E-review benchmark: accuracy on a labelled set, single-match latency and batch throughput
against a synthetic municipality (default 1,000,000 residents), with Splink as the baseline.

    .venv/bin/python bench/ereview.py                       # 1M residents, 10,000 applications
    .venv/bin/python bench/ereview.py --residents 100000 --applications 2000 --no-splink

Steps: write (or reuse) a residents file under var/bench-ereview/, derive a labelled
evaluation set from it (`server.ereview.evaluation`), build the blocking index, time single
matches in-process (p50 / p99 over a sample of the applications, after a warm-up), run the
batch mode over the whole set (1 worker and `--workers`), score it against the truth, then run
the same applications through Splink (`bench/ereview_splink.py`) and score that. Results go to
bench/ereview-results.json and a table on stdout. Nothing here is a test: no assertion on time.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "protos")]

from server.ereview.batch import match_file, read_applications, read_predictions  # noqa: E402
from server.ereview.evaluation import (  # noqa: E402
    breakdown,
    generate_evaluation_set,
    read_truth,
    score,
    write_evaluation_set,
)
from server.ereview.index import ResidentIndex  # noqa: E402
from server.ereview.matcher import Matcher  # noqa: E402
from server.ereview.model import Application, DeclaredPerson  # noqa: E402
from server.ereview.residents_csv import (  # noqa: E402
    generate_residents_file,
    iter_residents_file,
)

CODE = "131016"
RESULTS = ROOT / "bench" / "ereview-results.json"


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--applications", type=int, default=10_000)
    parser.add_argument("--nonresident-share", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--latency-samples", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work-dir", default=str(ROOT / "var" / "bench-ereview"))
    parser.add_argument("--no-splink", action="store_true")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)

    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    residents_path = work / f"residents-{args.residents}-s{args.seed}.csv"
    apps_path = work / f"applications-{args.residents}-{args.applications}-s{args.seed}.csv"
    truth_path = apps_path.with_name(apps_path.stem + "-truth.csv")
    results: dict[str, Any] = {
        "command": " ".join(["bench/ereview.py", *(argv or sys.argv[1:])]),
        # Other work on the machine skews timings: the load average is recorded with them.
        "machine": {
            "python": platform.python_version(),
            "cpus": _cpus(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "residents": args.residents,
        "applications": args.applications,
        "seed": args.seed,
    }

    t = time.perf_counter()
    if not residents_path.exists():
        written = generate_residents_file(residents_path, seed=args.seed, residents=args.residents)
        results["generate_residents_s"] = round(time.perf_counter() - t, 1)
        print(f"wrote {written:,} residents to {residents_path} in {time.perf_counter() - t:.1f}s")

    t = time.perf_counter()
    labelled = generate_evaluation_set(
        iter_residents_file(residents_path),
        seed=args.seed,
        count=args.applications,
        municipality_code=CODE,
        nonresident_share=args.nonresident_share,
    )
    write_evaluation_set(labelled, apps_path, truth_path)
    results["generate_evaluation_set_s"] = round(time.perf_counter() - t, 1)
    truth = read_truth(truth_path)
    del labelled

    gc.collect()
    rss_before = _rss_mib()
    t = time.perf_counter()
    index = ResidentIndex.build(iter_residents_file(residents_path))
    build_s = time.perf_counter() - t
    gc.freeze()  # the index lives for the process: keep the collector (and forked workers) off it
    matcher = Matcher(index)
    policy = matcher.policy
    results["index"] = {
        "residents": len(index),
        "build_s": round(build_s, 1),
        "build_residents_per_s": round(len(index) / build_s),
        "peak_rss_mib": round(_rss_mib()),
        "rss_growth_mib": round(_rss_mib() - rss_before),
        "blocks": dict(index.block_sizes()),
    }
    print(f"index of {len(index):,} residents built in {build_s:.1f}s")

    # Single-match latency, in-process.
    rows = list(read_applications(apps_path))
    sample = rows[: args.latency_samples]
    applications = [
        Application(CODE, DeclaredPerson(r["name"], r["name_kana"], r["birth_date"]), r["address"])
        for r in sample
    ]
    for app in applications[:200]:
        matcher.match(app)
    latencies: list[float] = []
    candidates: list[int] = []
    for app in applications:
        t = time.perf_counter()
        result = matcher.match(app)
        latencies.append((time.perf_counter() - t) * 1000)
        candidates.append(len(result.candidates))
    results["latency_ms"] = {
        "samples": len(latencies),
        "p50": round(statistics.median(latencies), 3),
        "p99": round(_percentile(latencies, 0.99), 3),
        "max": round(max(latencies), 3),
        "mean": round(statistics.fmean(latencies), 3),
    }
    lat = results["latency_ms"]
    print(f"single match: p50 {lat['p50']} ms, p99 {lat['p99']} ms")

    # Batch throughput and accuracy.
    batch: dict[str, Any] = {}
    for workers in sorted({1, args.workers}):
        out = work / f"ours-{args.applications}-w{workers}.csv"
        stats = match_file(matcher, apps_path, out, workers=workers)
        batch[f"workers_{workers}"] = {
            "applications": stats.applications,
            "seconds": round(stats.seconds, 2),
            "applications_per_s": round(stats.per_second),
        }
        print(f"batch ({workers} worker(s)): {stats.per_second:,.0f} applications/s")
    results["batch"] = batch
    predictions = read_predictions(work / f"ours-{args.applications}-w1.csv")
    ours = score(predictions, truth)
    results["ours"] = {
        "thresholds": {"match": policy.match_threshold, "review": policy.review_threshold},
        "scores": ours.as_dict(),
        "by_corruption": breakdown(predictions, truth),
    }

    if not args.no_splink:
        from bench.ereview_splink import run_splink

        del matcher, index
        gc.unfreeze()
        gc.collect()
        t = time.perf_counter()
        run = run_splink(
            iter_residents_file(residents_path),
            apps_path,
            match_threshold=policy.match_threshold,
            review_threshold=policy.review_threshold,
            seed=args.seed,
        )
        splink_scores = score(run.predictions, truth)
        import splink

        results["splink"] = {
            "version": splink.__version__,
            "seconds_total": round(time.perf_counter() - t, 1),
            "seconds_prepare": round(run.seconds_prepare, 1),
            "seconds_train": round(run.seconds_train, 1),
            "seconds_predict": round(run.seconds_predict, 1),
            "pairs_scored": run.pairs_scored,
            "applications_per_s_predict": round(args.applications / run.seconds_predict),
            "scores": splink_scores.as_dict(),
            "by_corruption": breakdown(run.predictions, truth),
        }

    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    Path(args.out).write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    _print_table(results)
    print(f"\nresults written to {args.out}")
    return 0


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


def _print_table(results: dict[str, Any]) -> None:
    print(f"\n{results['applications']:,} applications against {results['residents']:,} residents")
    header = f"{'':22}{'precision':>10}{'recall':>8}{'F1':>7}{'no-match P':>12}{'no-match R':>12}"
    print(header + f"{'review':>8}")
    for name in ("ours", "splink"):
        if name not in results:
            continue
        s = results[name]["scores"]
        print(
            f"{name:22}{s['precision']:>10.4f}{s['recall']:>8.4f}{s['f1']:>7.4f}"
            f"{s['no_match_precision']:>12.4f}{s['no_match_recall']:>12.4f}{s['review_rate']:>8.2%}"
        )
    lat = results["latency_ms"]
    print(
        f"\nsingle match (in-process): p50 {lat['p50']} ms, p99 {lat['p99']} ms, max {lat['max']}"
    )
    for key, b in results["batch"].items():
        print(f"batch {key.replace('_', ' ')}: {b['applications_per_s']:,} applications/s")
    idx = results["index"]
    print(f"index build: {idx['build_s']} s ({idx['build_residents_per_s']:,} residents/s), "
          f"RSS growth {idx['rss_growth_mib']:,} MiB")  # fmt: skip
    if "splink" in results:
        sp = results["splink"]
        print(f"splink {sp['version']}: prepare {sp['seconds_prepare']} s, train "
              f"{sp['seconds_train']} s, predict {sp['seconds_predict']} s "
              f"({sp['pairs_scored']:,} pairs)")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
