"""The anomaly app's quality over seeds, and what scoring costs a backfill.

    /work/venv/bin/python bench/bench_anomaly.py [--seeds 20] [--records 600000]

Quality: the workshop's scenario (30 min steady at 100 records/s = 180 windows, then 2 min of the
skewed template = 12 windows; and the same with one sensor dropped), scored by the app alone in
both modes. Printed per mode: steady-phase alerts (the 30 steady minutes), the highest steady
score (after warm-up), and every alert of the changed windows checked against the injected change:
its station and its direction (HIGH/LOW in the explanation) must be 35South HIGH for the skew and
the dropped station LOW for a drop. "seeds all right" counts seeds whose every alert was right and
that alerted in the first two changed windows. Workshop mode alerts per row and names whichever
row crossed the threshold: it is printed for comparison, the target is default mode's.

Overhead: a backfill at rate 100 (1,000 records per window) into the local delivery stream,
without and with the app deployed, as a ratio measured in the same run; with the real generator
(`run_generation`) and with synthetic RecordChunks. "auto" is the feed as shipped for a backfill
(inline for the first 128 windows, then in a child process); "inline" scores on the generator's
thread all along (as real-time runs do, and as backfills did before).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from tollcli.anomaly import AnomalyApp, AnomalyConfig
from tollcli.anomaly.scenario import SKEWED_WEIGHTS, dropped_weights, scenario

STEADY_WINDOWS, CHANGE_WINDOWS = 180, 12
DROPPED = "TX45"


def quality(seed: int, mode: str, change: np.ndarray, expect: tuple[str, str]) -> dict:
    times, stations = scenario(seed, STEADY_WINDOWS, change, CHANGE_WINDOWS)
    app = AnomalyApp(AnomalyConfig.from_options(mode=mode, seed=seed))
    scored = []
    for lo in range(0, len(times), 5000):
        scored += app.process(times[lo : lo + 5000], stations[lo : lo + 5000])
    steady = [w for w in scored[:STEADY_WINDOWS] if not any(r.warming_up for r in w.rows)]
    changed = scored[STEADY_WINDOWS:]
    said = [
        (i, a.station, a.explanation.split(" ")[1] if " " in a.explanation else "?")
        for i, w in enumerate(changed)
        for a in w.alerts
    ]
    right = [(i, s, d) for i, s, d in said if (s, d) == expect]
    return {
        "false_alerts": sum(len(w.alerts) for w in scored[:STEADY_WINDOWS]),
        "top_steady": max(w.score for w in steady),
        "alerts": len(said),
        "right": len(right),
        "wrong": Counter(f"{s} {d}" for i, s, d in said if (s, d) != expect),
        "first": said[0][0] if said else None,
        "all_right": bool(said) and len(right) == len(said) and said[0][0] <= 1,
    }


def report_quality(seeds: int) -> None:
    cases = [
        ("skew to 35South", SKEWED_WEIGHTS, ("35South", "HIGH")),
        (f"{DROPPED} dropped", dropped_weights(DROPPED), (DROPPED, "LOW")),
    ]
    for label, change, expect in cases:
        print(
            f"\n{label}: {seeds} seeds, {STEADY_WINDOWS} steady + {CHANGE_WINDOWS} changed windows at 100 records/s;"
            f" every alert of the changed windows should say {' '.join(expect)}"
        )
        head = f"{'mode':<9} {'steady alerts':>13} {'max steady':>11} {'alerts right':>13} {'seeds all right':>16}"
        print(head + "  first alert / wrong ones")
        for mode in ("default", "workshop"):
            runs = [quality(seed, mode, change, expect) for seed in range(1, seeds + 1)]
            alerts, right = sum(r["alerts"] for r in runs), sum(r["right"] for r in runs)
            wrong = sum((r["wrong"] for r in runs), Counter())
            firsts = Counter("-" if r["first"] is None else str(r["first"]) for r in runs)
            print(
                f"{mode:<9} {sum(r['false_alerts'] for r in runs):>13} {max(r['top_steady'] for r in runs):>11.2f}"
                f" {right:>6}/{alerts:<6} {sum(r['all_right'] for r in runs):>12}/{seeds:<3}"
                f"  first in window {dict(sorted(firsts.items()))}"
                + (f"; wrong: {', '.join(f'{k} x{n}' for k, n in wrong.most_common(4))}" if wrong else "")
            )


# --- overhead ------------------------------------------------------------------------------------
def fresh_home(root: Path, name: str, deploy: bool):
    from tollcli.backends import open_backend
    from tollcli.config import resolve_settings

    backend = open_backend(resolve_settings(backend="local", home=root / name, region=None, profile=None))
    backend.setup(buffer_mb=1, buffer_seconds=60)
    if deploy:
        backend.deploy(config=AnomalyConfig.from_options(trees=DEPLOY_TREES))
    return backend


def synthetic_backfill(backend, records: int, chunk: int = 5000) -> float:
    """Chunks made as the generator makes them (CSV lines, event times, stations), into the sink and feed."""
    times, stations = scenario(1, records // 1000, SKEWED_WEIGHTS, 0)
    dates = np.datetime_as_string(times.astype("datetime64[s]"), unit="s")
    plates = np.array([f"ABC{i:04d}" for i in range(1000)], dtype=object)
    from tollcli.records import RecordChunk

    began = time.perf_counter()
    sink = backend.open_sink(realtime=False)
    feed = backend.open_anomaly_feed(on_alert=lambda _m: None, bulk=True)
    for lo in range(0, len(times), chunk):
        hi = min(lo + chunk, len(times))
        lines = "".join(
            f"{d}Z,{s},{p}\n" for d, s, p in zip(dates[lo:hi], stations[lo:hi], plates[np.arange(lo, hi) % 1000])
        ).encode()
        batch = RecordChunk(lines=lines, count=hi - lo, event_times=times[lo:hi], stations=stations[lo:hi])
        sink.write(batch)
        if feed is not None:
            feed.consume(batch)
    sink.close()
    if feed is not None:
        feed.close()
    return time.perf_counter() - began


DEPLOY_TREES: int | None = None  # the deployed forest's trees (--trees; None: the default)
GENERATOR_RATE = 100  # records per second of event time: 10x this per window (--rate)


def generator_backfill(backend, records: int) -> float:
    from tollcli.generator import GenerateOptions, run_generation

    options = GenerateOptions(
        rate=GENERATOR_RATE,
        count=records,
        seed=1,
        backfill=True,
        start=datetime(2026, 11, 1, tzinfo=timezone.utc),
        watch_skew=False,
    )
    began = time.perf_counter()
    run_generation(backend, options)
    return time.perf_counter() - began


@contextmanager
def forced_scoring(scoring: str) -> Iterator[None]:
    """Feeds opened meanwhile score `inline` or `auto` (the backend asks `scoring_for`)."""
    import tollcli.backends.local.anomaly_feed as local

    shipped = local.scoring_for
    local.scoring_for = lambda *, bulk: scoring  # type: ignore[assignment]
    try:
        yield
    finally:
        local.scoring_for = shipped


def report_overhead(records: int, repeats: int, *, synthetic: bool) -> None:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"\nbackfill overhead: {records:,} records, best of {repeats}, load {load}; synthetic chunks at rate 100"
        f" (1,000 per window), the real generator at rate {GENERATOR_RATE} ({GENERATOR_RATE * 10:,} per window)"
    )
    runners = [("synthetic chunks", synthetic_backfill)] if synthetic else []
    runners.append(("real generator", generator_backfill))
    for label, runner in runners:
        plain, process, inline = [], [], []
        for attempt in range(repeats):
            with tempfile.TemporaryDirectory() as tmp:
                root = Path(tmp)
                plain.append(runner(fresh_home(root, f"plain{attempt}", False), records))
                with forced_scoring("auto"):  # as shipped for a backfill: inline, then a process
                    process.append(runner(fresh_home(root, f"process{attempt}", True), records))
                with forced_scoring("inline"):
                    inline.append(runner(fresh_home(root, f"inline{attempt}", True), records))
        base = min(plain)
        print(f"  {label:<17} without app {base:6.2f} s ({records / base:>9,.0f} rec/s)")
        for name, runs in (("auto", process), ("inline", inline)):
            best = min(runs)
            print(
                f"  {'':<17} {name:<11} {best:6.2f} s ({records / best:>9,.0f} rec/s)   ratio {best / base:.3f}"
                f"  (median ratio {statistics.median(a / b for a, b in zip(runs, plain)):.3f})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--records", type=int, default=600_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--rate", type=int, default=100, help="the real generator's rate (records per window / 10)")
    parser.add_argument("--trees", type=int, default=None, help="the deployed forest's trees in the overhead runs")
    parser.add_argument("--synthetic", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    global GENERATOR_RATE, DEPLOY_TREES
    GENERATOR_RATE, DEPLOY_TREES = args.rate, args.trees
    if not args.skip_quality:
        report_quality(args.seeds)
    report_overhead(args.records, args.repeats, synthetic=args.synthetic)


if __name__ == "__main__":
    main()
